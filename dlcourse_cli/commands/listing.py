"""`dlcourse list`: every exercise with its chapter, title, points (public + hidden) and
last status."""

from __future__ import annotations

from dlcourse_cli.options import JsonOption, PathOption
from grader.messages import text


def list_exercises(path: PathOption = "exercises", json_out: JsonOption = False) -> None:
    """List the exercises (this never imports torch, so it is instant)."""
    from dlcourse_cli import history, output
    from dlcourse_cli.points import split
    from grader.curriculum import exercises

    last = history.last_status(path)
    points = split()
    rows = [
        {
            "id": e.id,
            "chapter": e.chapter,
            "title": text(f"title.{e.id}"),
            "points": e.points,
            "public_points": points[e.id].public,
            "hidden_points": points[e.id].hidden,
            "last_status": last.get(e.id),
        }
        for e in exercises()
    ]
    if json_out:
        output.print_json(rows)
    else:
        output.render_list(rows)


def register(app) -> None:
    app.command("list")(list_exercises)
