"""`dlcourse init DIR`: a fresh student workspace, DIR/exercises holding the stubs.
Never overwrites a file: if any stub already exists there, nothing is written.

Exit codes: 0 created; 2 a file would be overwritten.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

from dlcourse_cli.errors import EXIT_OK, UsageError, die
from grader.messages import text


def init(directory: Annotated[Path, typer.Argument(help="The folder for your workspace (created if needed).", file_okay=False)]) -> None:
    """Create a workspace with the exercise stubs."""
    import exercises

    stubs = sorted(p for p in Path(next(iter(exercises.__path__))).glob("*.py"))
    target = directory / "exercises"
    try:
        existing = [str(target / p.name) for p in stubs if (target / p.name).exists()]
        if existing:
            raise UsageError(text("instructor.init_exists", files=", ".join(existing)))
        target.mkdir(parents=True, exist_ok=True)
        for p in stubs:
            shutil.copyfile(p, target / p.name)
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001
        die(exc)
    from dlcourse_cli import output

    output.console().print(text("instructor.init_done", path=directory))
    raise typer.Exit(EXIT_OK)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
