"""The `dlcourse` command line: Typer commands, one module per command group under
`dlcourse_cli.commands`, composed in `dlcourse_cli.main`. Rendering lives in
`dlcourse_cli.output`; nothing here imports torch until a command needs it.

It also offers the checks to notebooks:

    from dlcourse_cli import check
    report = check("ch4")            # renders the same table as `dlcourse check ch4`
    report.score, report.exercises   # the grader.results.Report
"""

from __future__ import annotations

from dlcourse_cli import clock as _clock  # noqa: F401 - first, so the footer's time counts start-up

import os
from pathlib import Path

__all__ = ["check"]


def check(
    *targets: str,
    path: str | Path = "exercises",
    device: str = "cpu",
    seed: int | None = None,
    timeout: float | None = None,
    lang: str | None = None,
    show: bool = True,
    record: bool = True,
):
    """Run the public checks of `targets` (chapters, exercise ids or "all") against the
    exercises in `path`, render the table (Rich draws it in Jupyter too) and return the
    `grader.results.Report`. Unlike the command, it raises instead of exiting:
    `grader.curriculum.UnknownTarget` for an unknown target, FileNotFoundError for a
    missing folder, `grader.runner.GraderError` for an unavailable device.

    `lang` ("en" or "ko") sets the language for this call only; `record=False` keeps the
    run out of the progress history; `show=False` renders nothing.
    """
    from grader import messages, runner
    from grader.curriculum import UnknownTarget, resolve_targets

    try:
        exercises = resolve_targets(list(targets) or ["all"])
    except UnknownTarget as exc:  # the CLI's words: unknown target, did you mean ...
        from dlcourse_cli.errors import message

        exc.args = ("\n".join(message(exc)[0]),)
        raise
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(messages.text("cli.path_missing", path=path))
    saved = os.environ.get("DLCOURSE_LANG")
    if lang is not None:
        messages.use_lang(lang)
    runner.keep_workers_warm()  # the next check() in this kernel starts at once
    try:
        report = runner.run(
            exercises,
            path=path,
            device=runner.resolve_device(device),
            seed=runner.DEFAULT_SEED if seed is None else seed,
            timeout=timeout,
        )
        if record:
            from dlcourse_cli import history

            history.record(path, report)
        if show:
            from dlcourse_cli import output

            output.render_report(report, list(targets) or ["all"])
    finally:
        if lang is not None:
            if saved is None:
                os.environ.pop("DLCOURSE_LANG", None)
            else:
                os.environ["DLCOURSE_LANG"] = saved
    return report
