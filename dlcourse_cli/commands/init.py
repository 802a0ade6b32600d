"""`dlcourse init DIR`: a fresh student workspace, DIR/exercises holding the stubs, and
with `--notebooks` DIR/notebooks holding one Jupyter/Colab notebook per chapter
(generated from the same stubs by `dlcourse_cli.notebooks`).
Never overwrites a file: if any stub or notebook already exists there, nothing is written.

Exit codes: 0 created; 2 a file would be overwritten.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlcourse_cli.errors import EXIT_OK, UsageError
from grader.messages import text


def init(
    directory: Annotated[Path, typer.Argument(help="The folder for your workspace (created if needed).", file_okay=False)],
    notebooks: Annotated[bool, typer.Option("--notebooks", help="Also write one Jupyter/Colab notebook per chapter into DIR/notebooks.")] = False,
    install_url: Annotated[
        str | None,
        typer.Option("--install-url", help="What the notebooks' first cell installs with %pip where dlcourse is missing (Colab): the course's wheel or package.", show_default=False),
    ] = None,
) -> None:
    """Create a workspace with the exercise stubs."""
    from dlcourse_cli.stubs import stub_folder, write_pristine

    stubs = sorted(p for p in stub_folder().glob("*.py"))
    target = directory / "exercises"
    existing = [str(target / p.name) for p in stubs if (target / p.name).exists()]
    if notebooks:
        from grader.curriculum import chapters

        existing += [str(f) for c in chapters() for m in c.modules if (f := directory / "notebooks" / f"{m}.ipynb").exists()]
    if existing:
        raise UsageError(text("instructor.init_exists", files=", ".join(existing)))
    target.mkdir(parents=True, exist_ok=True)
    for p in stubs:  # the package's pristine copies, even where an editable checkout was edited
        write_pristine(p.stem, target / p.name)
    written = []
    if notebooks:
        from dlcourse_cli.notebooks import INSTALL_PLACEHOLDER, write_notebooks

        written = write_notebooks(directory / "notebooks", install_url or INSTALL_PLACEHOLDER)
    from dlcourse_cli import output

    output.console().print(text("instructor.init_done", path=directory))
    if written:
        output.console().print(text("notebooks.written", count=len(written), path=directory / "notebooks"))
    raise typer.Exit(EXIT_OK)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
