"""`dlcourse watch TARGET`: check again whenever you save. The exercises folder is polled
for changed modification times (no file-event library needed, so it works the same on
every system and on network drives); each run clears the screen, redraws the table and
is recorded in the progress history like `dlcourse check`.

Exit codes: 0 when stopped with Ctrl-C; with --max-runs N, the code of the last run
(0 all passed, 1 some did not); 2 usage error (unknown target, missing folder, device).
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from dlcourse_cli.errors import EXIT_FAILED, EXIT_OK, UsageError, die
from dlcourse_cli.options import DeviceOption, PathOption, SeedOption, TimeoutOption
from grader.messages import text

SKIPPED_PARTS = {"__pycache__", ".dlcourse", ".ipynb_checkpoints"}


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """(modification time in ns, size) of every file under `folder`, hidden and cache folders left out."""
    out = {}
    for file in folder.rglob("*"):
        rel = file.relative_to(folder)
        if any(part in SKIPPED_PARTS or part.startswith(".") for part in rel.parts) or file.suffix == ".pyc":
            continue
        try:
            st = file.stat()
        except OSError:
            continue  # deleted while we looked
        if file.is_file():
            out[str(rel)] = (st.st_mtime_ns, st.st_size)
    return out


def watch(
    targets: Annotated[list[str], typer.Argument(help="A chapter (ch4), an exercise id (ch4.linear_backward) or all.")],
    path: PathOption = "exercises",
    device: DeviceOption = "cpu",
    seed: SeedOption = None,
    timeout: TimeoutOption = None,
    interval: Annotated[float, typer.Option("--interval", min=0.05, help="Seconds between two looks at your files.")] = 1.0,
    max_runs: Annotated[int | None, typer.Option("--max-runs", min=1, help="Stop after this many runs (for scripts and tests).")] = None,
) -> None:
    """Re-run the check whenever a file in your exercises folder changes. Ctrl-C stops it."""
    from grader import runner
    from grader.curriculum import resolve_targets

    try:
        exercises = resolve_targets(targets)
        if not path.is_dir():
            raise UsageError(text("cli.path_missing", path=path))
        try:
            resolved = runner.resolve_device(device)
        except runner.GraderError as exc:
            raise UsageError(text("cli.bad_device", device=device, detail=str(exc))) from None
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001
        die(exc)

    interrupted = False

    def on_interrupt(signum, frame):  # also replaces an inherited "ignore SIGINT"
        nonlocal interrupted
        interrupted = True
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_interrupt)
    code, runs = EXIT_OK, 0
    try:
        while True:
            seen = snapshot(path)
            runs += 1
            code = _run_once(exercises, targets, path, resolved, seed, timeout, runs, lambda: interrupted)
            if max_runs is not None and runs >= max_runs:
                break
            _say("selfstudy.watch_waiting", style="dim", path=path)
            _wait_for_change(path, seen, interval)
    except KeyboardInterrupt:
        _say("selfstudy.watch_stopped", runs=runs)
        code = EXIT_OK
    finally:
        signal.signal(signal.SIGINT, previous)
    raise typer.Exit(code)


def _run_once(exercises, targets, path, device, seed, timeout, number, interrupted) -> int:
    from dlcourse_cli import history, output
    from grader import runner

    out = output.console()
    try:
        report = runner.run(exercises, path=path, device=device,
                            seed=runner.DEFAULT_SEED if seed is None else seed, timeout=timeout)
    except runner.GraderError as exc:
        if interrupted():
            raise KeyboardInterrupt from None
        out.clear()
        _say("cli.grader_error", style="red", detail=str(exc))
        return EXIT_FAILED
    if interrupted():  # pytest turns Ctrl-C into an early, partial report: drop it
        raise KeyboardInterrupt
    history.record(path, report)
    out.clear()
    _say("selfstudy.watch_run", style="bold", number=number, time=time.strftime("%H:%M:%S"))
    output.render_report(report, targets, out)
    return EXIT_OK if report.all_passed else EXIT_FAILED


def _wait_for_change(path: Path, seen: dict, interval: float) -> None:
    """Return once the files differ from `seen` and have stayed the same for one interval
    (editors often write a file in two steps)."""
    while True:
        time.sleep(interval)
        now = snapshot(path)
        if now != seen:
            time.sleep(interval)
            if snapshot(path) == now:
                return
            seen = {}


def _say(key: str, style: str = "", **params) -> None:
    from dlcourse_cli import output

    output.say(key, style=style, **params)
    sys.stdout.flush()


def register(app) -> None:
    app.command("watch")(watch)
