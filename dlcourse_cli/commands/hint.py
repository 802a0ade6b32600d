"""`dlcourse hint EXERCISE [--level N]`: progressive hints, from a nudge to the key idea."""

from __future__ import annotations

from typing import Annotated

import typer

from dlcourse_cli.options import PathOption
from grader.messages import hints, text


def hint(
    exercise: Annotated[str, typer.Argument(help="An exercise id, e.g. ch4.linear_backward.")],
    level: Annotated[int, typer.Option("--level", "-l", min=1, help="Show hints up to this level.")] = 1,
    path: PathOption = "exercises",
) -> None:
    """Show hints for one exercise, one level at a time."""
    from dlcourse_cli import output
    from grader.curriculum import UnknownTarget, resolve_targets

    found = resolve_targets([exercise])
    if len(found) != 1:
        raise UnknownTarget(exercise, [e.id for e in found[:3]])
    exercise_id = found[0].id
    levels = hints(exercise_id)
    if not levels:
        output.say("cli.no_hints", exercise=exercise_id)
        return
    shown = min(level, len(levels))
    if path.is_dir():  # remembered in the workspace's progress history
        from dlcourse_cli import history

        history.record_hint(path, exercise_id, shown)
    output.render_hints(exercise_id, text(f"title.{exercise_id}"), levels, shown)


def register(app: typer.Typer) -> None:
    app.command("hint")(hint)
