"""`dlcourse list`: every exercise with its chapter, title, points and last status."""

from __future__ import annotations

from rich.table import Table

from dlcourse_cli.options import JsonOption, PathOption
from grader.messages import text


def list_exercises(path: PathOption = "exercises", json_out: JsonOption = False) -> None:
    """List the exercises (this never imports torch, so it is instant)."""
    from dlcourse_cli import history, output
    from grader.curriculum import exercises

    last = history.last_status(path)
    rows = [
        {
            "id": e.id,
            "chapter": e.chapter,
            "title": text(f"title.{e.id}"),
            "points": e.points,
            "last_status": last.get(e.id),
        }
        for e in exercises()
    ]
    if json_out:
        output.print_json(rows)
        return
    table = Table(show_edge=False, box=None, header_style="bold", pad_edge=False)
    for col, justify in (("cli.col_last", "left"), ("cli.col_exercise", "left"), ("cli.col_title", "left"), ("cli.col_points", "right")):
        table.add_column(text(col), justify=justify)
    for row in rows:
        table.add_row(output.mark(row["last_status"]) if row["last_status"] else "", row["id"], row["title"], str(row["points"]))
    output.console().print(table)


def register(app) -> None:
    app.command("list")(list_exercises)
