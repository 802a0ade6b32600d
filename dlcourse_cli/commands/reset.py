"""`dlcourse reset EXERCISE`: put one exercise's stub back (your version is kept as a
backup); `dlcourse reset --undo` brings the latest backup back."""

from __future__ import annotations

from typing import Annotated

import typer

from dlcourse_cli.errors import UsageError
from dlcourse_cli.options import PathOption
from grader.messages import text


def reset(
    exercise: Annotated[str | None, typer.Argument(help="An exercise id, e.g. ch4.linear_backward.")] = None,
    undo: Annotated[bool, typer.Option("--undo", help="Bring back the function saved by the latest reset.")] = False,
    path: PathOption = "exercises",
) -> None:
    """Restore one exercise's stub in your file, keeping your version as a backup."""
    from dlcourse_cli import output, stubs
    from grader.curriculum import UnknownTarget, resolve_targets

    if not path.is_dir():
        raise UsageError(text("cli.path_missing", path=path))
    if undo:
        if exercise is not None:
            raise UsageError(text("selfstudy.reset_undo_alone"))
        backup = stubs.undo(path)
        output.say("selfstudy.undone", exercise=backup.exercise, file=path / f"{backup.module}.py")
        return
    if exercise is None:
        raise UsageError(text("selfstudy.reset_needs_exercise"))
    found = resolve_targets([exercise])
    if len(found) != 1:
        raise UnknownTarget(exercise, [e.id for e in found[:3]])
    backup = stubs.reset(path, found[0].id)
    if backup is None:
        output.say("selfstudy.reset_already", exercise=found[0].id)
    else:
        output.say("selfstudy.reset_done", exercise=backup.exercise, file=path / f"{backup.module}.py", backup=backup.folder)


def register(app) -> None:
    app.command("reset")(reset)
