"""`dlcourse gradebook merge OUT.csv SHARD.csv...`: join the gradebooks of a sharded batch
(`grade-batch --shard I/N`) into one, sorted by submission, with the shards' report
folders copied beside it. The shards must have the same columns; a submission in two
shards, or a shard with a torn row, is an error (exit 2) and nothing is written.

Exit codes: 0 merged; 2 usage error (the shards do not fit together); 3 the merge failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlcourse_cli.errors import EXIT_OK, UsageError, die
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
    raise typer.Exit(EXIT_OK)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="gradebook")
