"""Exit codes and the one place where errors become messages.

0: every selected exercise has full marks. 1: some do not. 2: usage error (unknown
exercise, missing folder, unavailable device). 3: the grader itself failed.
A traceback is shown only when DLCOURSE_DEBUG is set.
"""

from __future__ import annotations

import os
import sys
import traceback

import typer

from grader.messages import text

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(Exception):
    """A mistake in how the command was called; `lines` are catalogue-formatted."""

    def __init__(self, *lines: str):
        super().__init__("\n".join(lines))
        self.lines = lines


def die(exc: BaseException) -> None:
    """Print `exc` for a person on stderr and exit with its code."""
    from grader.curriculum import UnknownTarget

    if isinstance(exc, UnknownTarget):
        lines = [text("cli.unknown_target", target=exc.target)]
        lines.append(text("cli.did_you_mean", suggestions=", ".join(exc.suggestions)) if exc.suggestions else text("cli.known_targets"))
        code = EXIT_USAGE
    elif isinstance(exc, UsageError):
        lines, code = list(exc.lines), EXIT_USAGE
    else:
        lines, code = [text("cli.grader_error", detail=f"{type(exc).__name__}: {exc}")], EXIT_INTERNAL
    if os.environ.get("DLCOURSE_DEBUG"):
        traceback.print_exception(exc, file=sys.stderr)
    typer.echo("\n".join(lines), err=True)
    raise typer.Exit(code)
