"""Exit codes and the one place where errors become messages.

0: every selected exercise has full marks. 1: some do not. 2: usage error (unknown
exercise, missing folder, unavailable device). 3: the grader itself failed.

Commands raise; they never catch to print. `dlcourse_cli.main` runs every command inside
`mapped_errors()`, which turns an exception into one catalogue message on stderr and its
exit code. A traceback is shown only when DLCOURSE_DEBUG is set.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from grader.messages import text

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

PASS_THROUGH = (typer.Exit, typer.Abort, typer.TyperException)
"""Exceptions Typer already turns into an exit code and a message (usage errors included)."""


class UsageError(Exception):
    """A mistake in how the command was called; `lines` are catalogue-formatted."""

    def __init__(self, *lines: str):
        super().__init__("\n".join(lines))
        self.lines = lines


def message(exc: BaseException) -> tuple[list[str], int]:
    """The lines a person reads for `exc`, and the exit code it means."""
    from grader.curriculum import UnknownTarget
    from grader.sanitize import clean

    if isinstance(exc, UnknownTarget):
        lines = [text("cli.unknown_target", target=clean(exc.target, 200, newlines=False))]
        lines.append(text("cli.did_you_mean", suggestions=", ".join(exc.suggestions)) if exc.suggestions else text("cli.known_targets"))
        return lines, EXIT_USAGE
    if isinstance(exc, UsageError):
        return list(exc.lines), EXIT_USAGE
    from grader.notebook import NotebookError

    if isinstance(exc, NotebookError):  # a file that is no readable notebook: the caller's mistake
        return [str(exc)], EXIT_USAGE
    if isinstance(exc, KeyboardInterrupt):
        return [text("cli.interrupted")], 130
    return [text("cli.grader_error", detail=clean(f"{type(exc).__name__}: {exc}", 2000))], EXIT_INTERNAL


def die(exc: BaseException) -> None:
    """Print `exc` for a person on stderr and exit with its code."""
    from rich.text import Text

    from dlcourse_cli.output import console

    lines, code = message(exc)
    if os.environ.get("DLCOURSE_DEBUG"):
        traceback.print_exception(exc, file=sys.stderr)
    console(stderr=True).print(Text("\n".join(lines)), soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def mapped_errors() -> Iterator[None]:
    """Run a command: an exception that Typer does not handle itself becomes a message."""
    try:
        yield
    except PASS_THROUGH:
        raise
    except Exception as exc:  # noqa: BLE001 - the one place an exception becomes a message
        die(exc)
