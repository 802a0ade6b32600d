"""`dlcourse grade-batch DIR --out gradebook.csv`: grade every submission in DIR (folders
or .zip files) in parallel, one CSV row per student, then a summary table.

Exit codes: 0 the batch ran (whatever the scores; rows with status timeout/error say which
submissions could not be graded); 2 usage error; 3 the batch itself failed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer

from dlcourse_cli.errors import EXIT_OK, UsageError, die
from dlcourse_cli.options import DeviceOption, TimeoutOption
from grader.messages import text

STATUS_STYLE = {"ok": "green", "timeout": "yellow", "error": "red"}


def grade_batch(
    folder: Annotated[Path, typer.Argument(help="A folder of submissions: one sub-folder or .zip file per student.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The CSV gradebook; rows already there are not graded again.", dir_okay=False)],
    targets: Annotated[list[str] | None, typer.Option("--target", "-t", help="Chapters or exercise ids to grade (default: all).")] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", min=1, help="Submissions graded at once (default: the number of CPU cores).")] = None,
    timeout: Annotated[float, typer.Option("--timeout-per-submission", min=1, help="Seconds one submission may take; past it, it is killed.")] = 900.0,
    call_timeout: TimeoutOption = None,
    device: DeviceOption = "cpu",
) -> None:
    """Grade a folder of submissions into a CSV gradebook. Each one runs in its own process
    with one torch thread (DLCOURSE_THREADS=1); jobs default to the CPU cores."""
    from grader import batch
    from grader.curriculum import resolve_targets

    targets = targets or ["all"]
    started = time.perf_counter()
    try:
        exercises = resolve_targets(targets)
        if not folder.is_dir():
            raise UsageError(text("instructor.batch_dir_missing", path=folder))
        try:
            extra = ["--device", device] + (["--timeout", str(call_timeout)] if call_timeout else [])
            rows, skipped = batch.grade_batch(folder, out, exercises, targets, jobs or os.cpu_count(), timeout, extra)
        except ValueError as exc:  # a gradebook with other columns
            raise UsageError(str(exc)) from None
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001
        die(exc)
    _render(rows, skipped, out, time.perf_counter() - started)
    raise typer.Exit(EXIT_OK)


def _render(rows, skipped: int, out: Path, duration: float) -> None:
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    from dlcourse_cli import output

    con = output.console()
    table = Table(show_edge=False, box=None, header_style="bold", pad_edge=False)
    for key, justify in (("submission", "left"), ("status", "left"), ("score", "right"), ("time", "right"), ("detail", "left")):
        table.add_column(text(f"instructor.batch_col_{key}"), justify=justify)
    for r in rows:
        table.add_row(
            escape(r.submission),
            Text(text(f"instructor.batch_status.{r.status}"), style=STATUS_STYLE.get(r.status, "")),
            f"{r.total:g}/{r.max_total:g}" if r.status == "ok" else "",
            f"{r.seconds:.1f}",
            escape(r.detail[:120]),
        )
    if rows:
        con.print(table)
    if skipped:
        con.print(text("instructor.batch_skipped", count=skipped, out=out))
    counts = {s: sum(r.status == s for r in rows) for s in ("ok", "timeout", "error")}
    con.print(text("instructor.batch_done", count=len(rows), duration=duration, out=out, **counts))


def register(app: typer.Typer) -> None:
    app.command("grade-batch")(grade_batch)
