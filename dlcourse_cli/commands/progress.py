"""`dlcourse progress`: what you have passed, started and not yet touched, per chapter,
from the history that every `dlcourse check` records."""

from __future__ import annotations

from dlcourse_cli.options import JsonOption, PathOption


def progress(path: PathOption = "exercises", json_out: JsonOption = False) -> None:
    """Your progress per chapter: passed, partial, not started, points, time, next exercise."""
    from dlcourse_cli import output, summary

    result = summary.summarise(path)
    if json_out:
        output.print_json(result.to_dict())
    else:
        output.render_progress(result)


def register(app) -> None:
    app.command("progress")(progress)
