"""`dlcourse check TARGET...`: run the public checks against your exercises."""

from __future__ import annotations

from typing import Annotated

import typer

from dlcourse_cli.errors import EXIT_FAILED, EXIT_OK, UsageError
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
    """Check your exercises and explain what is wrong. Exit code 0 when all pass.

    --path may also name a notebook (ch4_backprop.ipynb) or a folder of notebooks."""
    from grader.curriculum import resolve_targets

    from grader.notebook import has_notebooks, module_folder

    exercises = resolve_targets(targets)
    notebooks = has_notebooks(path)
    if not path.is_dir() and not notebooks:
        raise UsageError(text("notebook.path_not_notebook" if path.is_file() else "cli.path_missing", path=path))
    # a notebook (or a folder of them) is graded as the modules built from its code cells
    with module_folder(path, warn=lambda message: typer.echo(message, err=True)) as folder:
        report = _run(exercises, folder, device, seed, timeout)
    from dlcourse_cli import history, output

    if not notebooks:  # the history hashes the functions of module files
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
