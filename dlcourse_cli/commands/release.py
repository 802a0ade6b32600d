"""`dlcourse release OUTDIR`: write the student edition (stubs, grader, CLI, public checks,
recorded reference outputs; no solutions, no hidden checks, no tests).

Exit codes: 0 written; 2 OUTDIR is not empty; 3 the release could not be built (a public
check fails on the references, or a check imports them directly).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from dlcourse_cli.errors import EXIT_INTERNAL, EXIT_OK, UsageError, die
from grader.messages import text

DEFAULT_JOBS = 4
"""A chapter's recording holds a grader and a worker: under 1 GB together."""


def release(
    outdir: Annotated[Path, typer.Argument(help="An empty or new folder for the student edition.", file_okay=False)],
    chapters: Annotated[list[str] | None, typer.Option("--chapter", "-c", help="Release the checks of these chapters only (default: all).")] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", min=1, help=f"Chapters recorded at once, each in a process of its own (default: the CPU cores, at most {DEFAULT_JOBS}).")] = None,
) -> None:
    """Build the student release into OUTDIR. It records the same inputs whatever --jobs is."""
    from grader import release as builder
    from grader.curriculum import UnknownTarget, chapters as known

    try:
        for c in chapters or []:
            if c not in {k.id for k in known()}:
                raise UnknownTarget(c, [])
        if outdir.exists() and (not outdir.is_dir() or any(outdir.iterdir())):
            raise UsageError(text("instructor.release_exists", path=outdir))
        summary = builder.build(outdir, chapters, jobs or min(os.cpu_count() or 1, DEFAULT_JOBS))
    except builder.ReleaseError as exc:
        typer.echo(text("instructor.release_failed", detail=str(exc)), err=True)
        raise typer.Exit(EXIT_INTERNAL) from None
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001
        die(exc)
    from dlcourse_cli import output

    output.console().print(text("instructor.release_done", path=summary.path, files=summary.files, recorded=summary.recorded, hidden=len(summary.hidden_removed)))
    raise typer.Exit(EXIT_OK)


def register(app: typer.Typer) -> None:
    app.command("release")(release)
