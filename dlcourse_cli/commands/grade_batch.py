"""`dlcourse grade-batch DIR --out gradebook.csv`: grade every submission in DIR (folders
or .zip files) in parallel, one CSV row per student, then a summary table; beside the
gradebook, what the class got wrong (`<stem>-mistakes.csv` and `.md`). The work is
`grader.batch`'s; this module parses options and renders.

Exit codes: 0 the batch ran (whatever the scores; the status column says which
submissions could not be graded); 2 usage error; 3 the batch itself failed (also
`--require-isolation` when that isolation cannot run here); 128 + the signal's number when
interrupted (143 SIGTERM, 130 Ctrl-C): rows written so far stay, a re-run resumes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer

from grader.isolation import CHOICES as ISOLATIONS

from dlcourse_cli.errors import EXIT_OK, UsageError
from dlcourse_cli.options import DeviceOption, SeedOption, TimeoutOption
from grader.messages import text

STATUS_STYLE = {"ok": "green", "timeout": "yellow", "error": "red", "no_files": "yellow", "ambiguous": "yellow", "unsafe": "red"}


def grade_batch(
    folder: Annotated[Path, typer.Argument(help="A folder of submissions: one sub-folder or .zip file per student.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The CSV gradebook; rows already there are not graded again.", dir_okay=False)],
    targets: Annotated[list[str] | None, typer.Option("--target", "-t", help="Chapters or exercise ids to grade (default: all).")] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", min=1, help="Submissions graded at once (default: the number of CPU cores).")] = None,
    timeout: Annotated[float, typer.Option("--timeout-per-submission", min=1, help="Seconds one submission may take; past it, it is killed.")] = 900.0,
    call_timeout: TimeoutOption = None,
    device: DeviceOption = "cpu",
    seed: SeedOption = None,
    shard: Annotated[str | None, typer.Option("--shard", help="Grade only shard I of N (I/N, 1-based; a stable split by submission name). Join shards with `dlcourse gradebook merge`.")] = None,
    roster: Annotated[Path | None, typer.Option("--roster", help="A CSV with columns submission,student_id[,name]: adds student_id and name columns.", dir_okay=False, exists=True)] = None,
    bom: Annotated[bool, typer.Option("--bom", help="Write UTF-8 with a byte-order mark (for spreadsheets that need one).")] = False,
    retry_errors: Annotated[bool, typer.Option("--retry-errors", help="Grade error and timeout rows again.")] = False,
    isolation: Annotated[str, typer.Option("--isolation", help="Where student code runs: auto, bwrap, user or python (see `dlcourse grade`).")] = "auto",
    require_isolation: Annotated[bool, typer.Option("--require-isolation", help="Exit 3 unless the requested isolation (auto: bwrap or user) can run.")] = False,
    memory_budget: Annotated[float | None, typer.Option("--memory-budget", min=0, help="MiB all jobs may hold together, each grader and its worker a share (default: DLCOURSE_MEMORY_BUDGET, else none). See `dlcourse grade`.")] = None,
    similarity: Annotated[Path | None, typer.Option("--similarity", help="Also compare every pair of submissions per exercise and write a ranked HTML report here (and a CSV beside it). It flags; it never changes a score.", dir_okay=False)] = None,
) -> None:
    """Grade a folder of submissions into a CSV gradebook. Each one runs in its own process
    with one torch thread (DLCOURSE_THREADS=1); jobs default to the CPU cores."""
    from grader import batch, gradebook
    from grader.curriculum import resolve_targets

    targets = targets or ["all"]
    started = time.perf_counter()
    err = _stderr()
    if isolation not in ISOLATIONS:
        raise UsageError(text("isolation.unknown", mode=isolation, choices=", ".join(ISOLATIONS)))
    exercises = resolve_targets(targets)
    if not folder.is_dir():
        raise UsageError(text("batch.dir_missing", path=folder))
    try:
        split = batch.parse_shard(shard) if shard else None
        names = gradebook.read_roster(roster) if roster else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    batch.check_isolation(isolation, require_isolation)  # GraderError (exit 3) before any grading
    extra = ["--device", device, "--isolation", isolation] + (["--require-isolation"] if require_isolation else [])
    extra += (["--timeout", str(call_timeout)] if call_timeout else []) + (["--seed", str(seed)] if seed is not None else [])
    jobs = jobs or os.cpu_count() or 1
    extra += _memory_share(memory_budget, jobs)
    try:
        outcome = batch.grade_batch(
            folder, out, exercises, targets, jobs, timeout, extra,
            shard=split, roster=names, bom=bom, retry_errors=retry_errors,
            on_interrupt=lambda left: err.print(text("batch.interrupt_press", left=left)),
        )
    except batch.Interrupted as exc:
        err.print(text("batch.interrupted", signal=str(exc), out=out))
        raise typer.Exit(128 + exc.signum) from None
    except ValueError as exc:  # a gradebook with other columns
        raise UsageError(str(exc)) from None
    _render(outcome, out, time.perf_counter() - started)
    if similarity is not None:
        _similarity(folder, exercises, similarity)
    raise typer.Exit(EXIT_OK)


def _memory_share(option: float | None, jobs: int) -> list[str]:
    """Each job's `--memory-budget`: its share of the batch's budget, always given, so
    that no grader takes the whole of DLCOURSE_MEMORY_BUDGET for itself."""
    from grader import memory

    try:
        total = memory.memory_budget(option)
    except ValueError:
        raise UsageError(text("instructor.bad_memory_budget", value=os.environ.get(memory.ENV, ""))) from None
    return ["--memory-budget", "0" if total is None else f"{total / jobs:.0f}"]


def _similarity(folder: Path, exercises, html_out: Path) -> None:
    """The similarity report of the batch's submissions (`dlcourse similarity`)."""
    try:
        import copydetect  # noqa: F401 - the instructor extra
    except ImportError:
        raise UsageError(text("similarity.needs_copydetect")) from None
    from dlcourse_cli import output
    from grader import similarity as sim
    from grader.export import similarity_html

    started = time.perf_counter()
    report = sim.compare(folder, exercises)
    html_out.parent.mkdir(parents=True, exist_ok=True)
    similarity_html.write(report, html_out)
    csv_out = html_out.with_suffix(".csv")
    sim.write_csv(report, csv_out)
    output.console().print(text("similarity.done", submissions=len(report.submissions), exercises=len(report.exercises),
                                seconds=time.perf_counter() - started, flagged=report.flagged, html=html_out), markup=False, highlight=False)
    output.console().print(text("similarity.csv_written", csv=csv_out), markup=False, highlight=False)


def _stderr():
    from dlcourse_cli import output

    return output.console(stderr=True)


def _render(outcome, out: Path, duration: float) -> None:
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    from dlcourse_cli import output
    from grader.gradebook import Status
    from grader.sanitize import name

    con = output.console()
    table = Table(show_edge=False, box=None, header_style="bold", pad_edge=False)
    for key, justify in (("submission", "left"), ("status", "left"), ("score", "right"), ("time", "right"), ("detail", "left")):
        table.add_column(text(f"batch.col_{key}"), justify=justify)
    for r in outcome.rows:
        table.add_row(
            escape(name(r.submission)),
            Text(text(f"batch.status.{r.status.value}"), style=STATUS_STYLE.get(r.status.value, "")),
            f"{r.total:g}/{r.max_total:g}" if r.status is Status.OK else "",
            f"{r.seconds:.1f}",
            escape(name(r.detail, 120)),
        )
    if outcome.rows:
        con.print(table)
    if outcome.torn:
        con.print(text("batch.torn", count=outcome.torn, out=out))
    if outcome.retried:
        con.print(text("batch.retried", count=outcome.retried))
    if outcome.skipped:
        con.print(text("batch.skipped", count=outcome.skipped, out=out))
    if outcome.not_on_roster:
        con.print(escape(text("batch.not_on_roster", names=name(", ".join(outcome.not_on_roster), 2000))))
    if outcome.without_submission:
        con.print(escape(text("batch.without_submission", names=name(", ".join(outcome.without_submission), 2000))))
    counts = {s.value: sum(r.status is s for r in outcome.rows) for s in Status}
    con.print(text("batch.done", count=len(outcome.rows), duration=duration, out=out, **counts))
    if outcome.mistakes:
        csv_path, md_path = outcome.mistakes
        con.print(text("batch.mistakes_written", md=md_path, csv=csv_path), markup=False, highlight=False)
    else:  # a shard: its share is not the class
        con.print(text("batch.mistakes_on_merge"), markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("grade-batch")(grade_batch)
