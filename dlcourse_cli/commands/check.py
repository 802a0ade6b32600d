"""`dlcourse check TARGET...`: run the public checks against your exercises."""

from __future__ import annotations

from typing import Annotated

import typer

from dlcourse_cli.errors import EXIT_FAILED, EXIT_OK, UsageError, die
from dlcourse_cli.options import DeviceOption, JsonOption, PathOption, SeedOption, TimeoutOption
from grader.messages import text


def check(
    targets: Annotated[list[str], typer.Argument(help="A chapter (ch4), an exercise id (ch4.linear_backward) or all.")],
    path: PathOption = "exercises",
    device: DeviceOption = "cpu",
    seed: SeedOption = None,
    json_out: JsonOption = False,
    timeout: TimeoutOption = None,
) -> None:
    """Check your exercises and explain what is wrong. Exit code 0 when all pass."""
    from grader.curriculum import resolve_targets

    try:
        exercises = resolve_targets(targets)
        if not path.is_dir():
            raise UsageError(text("cli.path_missing", path=path))
        report = _run(exercises, path, device, seed, timeout)
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001 - mapped to a message and an exit code in one place
        die(exc)
    from dlcourse_cli import history, output

    history.record(path, report)
    if json_out:
        output.print_json(report.to_dict())
    else:
        output.render_report(report, targets)
    raise typer.Exit(EXIT_OK if report.all_passed else EXIT_FAILED)


def _run(exercises, path, device, seed, timeout):
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
        timeout=timeout,
    )


def register(app: typer.Typer) -> None:
    app.command("check")(check)
