"""`dlcourse grade [TARGET...]`: the instructor's grading of one submission, public and
hidden checks, with exports for Gradescope, CI test reporters and job summaries.

Exit codes: 0 grading completed (whatever the score); 1 `--fail-under` was given and the
score is below it; 2 usage error; 3 the grader itself failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from grader.isolation import CHOICES as ISOLATIONS

from dlcourse_cli.errors import EXIT_FAILED, EXIT_OK, UsageError
from dlcourse_cli.options import DeviceOption, MemoryBudgetOption, SeedOption, TimeoutOption
from grader.messages import text


def FileOption(flag: str, what: str):  # noqa: N802 - reads like the other option aliases
    return typer.Option(flag, help=f"Write {what} to this file.", dir_okay=False)


def grade(
    targets: Annotated[list[str] | None, typer.Argument(help="Chapters, exercise ids or all (the default).")] = None,
    submission: Annotated[Path, typer.Option("--submission", "-s", help="The submission: a folder like exercises/, or a workspace holding one.")] = Path("exercises"),
    device: DeviceOption = "cpu",
    seed: SeedOption = None,
    timeout: TimeoutOption = None,
    fail_under: Annotated[float | None, typer.Option("--fail-under", help="Exit 1 when the score is below this (for CI gates).")] = None,
    json_file: Annotated[Path | None, FileOption("--json", "the JSON report (the format of check --json)")] = None,
    gradescope_file: Annotated[Path | None, FileOption("--gradescope", "Gradescope's results.json")] = None,
    junit_file: Annotated[Path | None, FileOption("--junit", "JUnit XML (one testcase per check)")] = None,
    markdown_file: Annotated[Path | None, FileOption("--markdown", "a Markdown summary")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print no table (exports only).")] = False,
    isolation: Annotated[str, typer.Option("--isolation", help="Where student code runs: auto (the strongest available), bwrap (an OS sandbox), user (a separate uid, when root) or python (in-process walls only).")] = "auto",
    require_isolation: Annotated[bool, typer.Option("--require-isolation", help="Exit 3 unless the requested isolation (auto: bwrap or user) can run.")] = False,
    memory_budget: MemoryBudgetOption = None,
) -> None:
    """Grade a submission with public and hidden checks. Exit 0 when grading completed."""
    from grader.curriculum import resolve_targets
    from grader.submission import exercises_folder

    targets = targets or ["all"]
    if isolation not in ISOLATIONS:
        raise UsageError(text("isolation.unknown", mode=isolation, choices=", ".join(ISOLATIONS)))
    exercises = resolve_targets(targets)
    if not submission.is_dir():
        raise UsageError(text("instructor.submission_missing", path=submission))
    report = _run(exercises, exercises_folder(submission), device, seed, timeout, isolation, require_isolation, memory_budget)
    _export(report, json_file, gradescope_file, junit_file, markdown_file)
    from dlcourse_cli import output

    if not quiet:
        output.render_report(report, targets, command="grade")
    if fail_under is not None and report.score < fail_under:
        output.say("instructor.fail_under", err=True, score=report.score, threshold=fail_under)
        raise typer.Exit(EXIT_FAILED)
    raise typer.Exit(EXIT_OK)


def _run(exercises, path, device, seed, timeout, isolation="auto", require_isolation=False, memory_budget=None):
    from grader import runner

    try:
        resolved = runner.resolve_device(device)
    except runner.GraderError as exc:
        raise UsageError(text("cli.bad_device", device=device, detail=str(exc))) from None
    return runner.run(
        exercises,
        path=path,
        device=resolved,
        seed=runner.DEFAULT_SEED if seed is None else seed,
        include_hidden=True,
        profile="grade",
        timeout=timeout,
        isolation=isolation,
        require_isolation=require_isolation,
        memory_budget=memory_budget,
    )


def _export(report, json_file, gradescope_file, junit_file, markdown_file) -> None:
    import json

    from grader.export import gradescope, junit, markdown

    writers = {
        json_file: lambda: json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n",
        gradescope_file: lambda: gradescope.results_json(report),
        junit_file: lambda: junit.junit_xml(report),
        markdown_file: lambda: markdown.summary(report),
    }
    for path, render in writers.items():
        if path is None:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(), encoding="utf-8")


def register(app: typer.Typer) -> None:
    app.command("grade")(grade)
