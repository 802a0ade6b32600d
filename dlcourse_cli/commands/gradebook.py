"""`dlcourse gradebook merge OUT.csv SHARD.csv...`: join the gradebooks of a sharded batch
(`grade-batch --shard I/N`) into one, sorted by submission, with the shards' report
folders copied beside it and the class's mistakes counted over all of them
(`<stem>-mistakes.csv` and `.md`). The shards must have the same columns; a submission in
two shards, or a shard with a torn row, is an error (exit 2) and nothing is written.

`dlcourse gradebook mistakes GRADEBOOK.csv`: rebuild what the class got wrong from a
gradebook and its reports (after editing rows by hand, or for a gradebook written before
the table existed).

Exit codes: 0 done; 2 usage error (the shards do not fit together; no gradebook there);
3 the command failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlcourse_cli.errors import EXIT_OK, UsageError, die, mapped_errors
from grader.messages import text

app = typer.Typer(help="Work with CSV gradebooks written by grade-batch.", no_args_is_help=True)


@app.command("merge")
def merge(
    out: Annotated[Path, typer.Argument(help="The merged gradebook to write.", dir_okay=False)],
    shards: Annotated[list[Path], typer.Argument(help="The shards' gradebooks.", dir_okay=False, exists=True)],
    bom: Annotated[bool, typer.Option("--bom", help="Write UTF-8 with a byte-order mark.")] = False,
) -> None:
    """Join shard gradebooks into one."""
    from grader import gradebook

    try:
        try:
            count = gradebook.merge(out, shards, bom=bom)
        except gradebook.MergeError as exc:
            raise UsageError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001
        die(exc)
    from dlcourse_cli import output

    output.console().print(text("batch.merge_done", count=count, shards=len(shards), out=out))
    _mistakes(out, bom)
    raise typer.Exit(EXIT_OK)


@app.command("mistakes")
def mistakes(
    book: Annotated[Path, typer.Argument(help="A gradebook written by grade-batch (its reports folder beside it).", dir_okay=False)],
) -> None:
    """Rebuild what the class got wrong (`<stem>-mistakes.csv` and `.md`) from a gradebook."""
    from grader import gradebook

    with mapped_errors():  # this group's commands are not main's `Command`
        found = gradebook.read(book)
        if found is None:
            raise UsageError(text("batch.merge_missing", path=book))
        _mistakes(book, found.bom)
    raise typer.Exit(EXIT_OK)


def _mistakes(book: Path, bom: bool) -> None:
    from dlcourse_cli import output
    from grader import class_mistakes

    with mapped_errors():
        csv_path, md_path = class_mistakes.write(book, bom=bom)
    output.console().print(text("batch.mistakes_written", md=md_path, csv=csv_path), markup=False, highlight=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="gradebook")
