"""`dlcourse similarity DIR`: which submissions look copied, per exercise.

Compares every pair of submissions in DIR (sub-folders and .zip files, as `grade-batch`
finds them) with `grader.similarity`, and writes a ranked HTML report with the shared
code side by side, plus a CSV of the flagged pairs. It flags; it never changes a score.

Exit codes: 0 the report was written (whatever it found); 2 usage error; 3 failure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlcourse_cli.errors import EXIT_OK, UsageError
from grader.messages import text


def similarity(
    folder: Annotated[Path, typer.Argument(help="The folder of submissions: one sub-folder or .zip per student.", file_okay=False)],
    targets: Annotated[list[str] | None, typer.Argument(help="Chapters or exercise ids to compare (default: all).", show_default=False)] = None,
    html_out: Annotated[Path, typer.Option("--html", help="Where to write the HTML report.")] = Path("similarity.html"),
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Also write the flagged pairs as CSV.", show_default=False)] = None,
    threshold: Annotated[float, typer.Option("--threshold", min=0.0, max=1.0, help="Flag a pair when one side shares at least this share of its fingerprints.")] = 0.5,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", min=1, help="Processes (default: one per CPU).", show_default=False)] = None,
) -> None:
    """Compare every pair of submissions per exercise and report the suspicious ones."""
    import time

    from grader.curriculum import resolve_targets

    exercises = resolve_targets(targets or ["all"])
    if not folder.is_dir():
        raise UsageError(text("cli.path_missing", path=folder))
    from grader import similarity as sim
    from grader.batch import discover

    try:
        import copydetect  # noqa: F401 - the instructor extra
    except ImportError:
        raise UsageError(text("similarity.needs_copydetect")) from None

    if not discover(folder):
        raise UsageError(text("similarity.no_submissions", path=folder))
    started = time.perf_counter()
    report = sim.compare(folder, exercises, threshold=threshold, jobs=jobs)
    from grader.export import similarity_html

    similarity_html.write(report, html_out)
    if csv_out is not None:
        sim.write_csv(report, csv_out)
    seconds = time.perf_counter() - started
    from dlcourse_cli import output

    output.console().print(text("similarity.done", submissions=len(report.submissions), exercises=len(report.exercises),
                                seconds=seconds, flagged=report.flagged, html=html_out), markup=False, highlight=False)
    if csv_out is not None:
        output.console().print(text("similarity.csv_written", csv=csv_out), markup=False, highlight=False)
    raise typer.Exit(EXIT_OK)


def register(app: typer.Typer) -> None:
    app.command("similarity")(similarity)
