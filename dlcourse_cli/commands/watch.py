"""`dlcourse watch TARGET`: check again whenever you save. The exercises folder is polled
for changed modification times (no file-event library needed, so it works the same on
every system and on network drives); each run clears the screen, redraws the table and
is recorded in the progress history like `dlcourse check`.

Only what changed is checked again: each exercise's fingerprint is the AST of its
function plus the AST of the rest of its module (imports, helpers, constants), so a
saved comment or blank line checks nothing, an edited function re-checks that exercise,
and an edited helper or a syntax error re-checks the module's exercises. The table keeps
the latest results of the others.

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

from dlcourse_cli.errors import EXIT_FAILED, EXIT_OK, UsageError
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


def fingerprints(folder: Path, exercises) -> dict[str, str]:
    """Exercise id -> a fingerprint of its function and of the rest of its module."""
    import ast
    import hashlib

    from grader.curriculum import chapter

    modules: dict[str, tuple[dict[str, str], str]] = {}
    out = {}
    for e in exercises:
        module = chapter(e.chapter).modules[0]
        if module not in modules:
            try:
                tree = ast.parse((folder / f"{module}.py").read_text(encoding="utf-8"))
            except (OSError, SyntaxError, ValueError, UnicodeDecodeError) as exc:
                modules[module] = ({}, f"unreadable {type(exc).__name__} {exc}")
            else:
                functions = {n.name: ast.dump(n) for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
                graded = {x.name for x in chapter(e.chapter).exercises}
                rest = ast.dump(ast.Module([n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                                            or n.name not in graded], []))
                modules[module] = (functions, rest)
        functions, rest = modules[module]
        out[e.id] = hashlib.sha256((rest + "\0" + functions.get(e.name, "")).encode()).hexdigest()
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

    exercises = resolve_targets(targets)
    if not path.is_dir():
        raise UsageError(text("cli.path_missing", path=path))
    try:
        resolved = runner.resolve_device(device)
    except runner.GraderError as exc:
        raise UsageError(text("cli.bad_device", device=device, detail=str(exc))) from None

    runner.keep_workers_warm()  # a re-check does not wait for a worker to import torch
    interrupted = False

    def on_interrupt(signum, frame):  # also replaces an inherited "ignore SIGINT"
        nonlocal interrupted
        interrupted = True
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_interrupt)
    code, runs, shown, checked = EXIT_OK, 0, None, {}
    try:
        pending = exercises
        while True:
            seen = snapshot(path)
            runs += 1
            now = fingerprints(path, exercises)
            code, shown = _run_once(pending, exercises, shown, targets, path, resolved, seed, timeout, runs, lambda: interrupted)
            checked = now
            if max_runs is not None and runs >= max_runs:
                break
            _say("selfstudy.watch_waiting", style="dim", path=path)
            pending = []
            while not pending:  # a save that changes no exercise's code checks nothing
                _wait_for_change(path, seen, interval)
                seen = snapshot(path)
                now = fingerprints(path, exercises)
                pending = [e for e in exercises if now[e.id] != checked.get(e.id)]
                checked = {**checked, **{e.id: now[e.id] for e in exercises if e not in pending}}
    except KeyboardInterrupt:
        _say("selfstudy.watch_stopped", runs=runs)
        code = EXIT_OK
    finally:
        signal.signal(signal.SIGINT, previous)
    raise typer.Exit(code)


def _run_once(pending, exercises, shown, targets, path, device, seed, timeout, number, interrupted):
    """Check `pending`, and show them with the latest results of the other `exercises`
    (`shown`, the previous merged report); (exit code, the new merged report)."""
    from dlcourse_cli import history, output
    from grader import runner

    out = output.console()
    try:
        report = runner.run(pending, path=path, device=device,
                            seed=runner.DEFAULT_SEED if seed is None else seed, timeout=timeout)
    except runner.GraderError as exc:
        if interrupted():
            raise KeyboardInterrupt from None
        out.clear()
        _say("cli.grader_error", style="red", detail=str(exc))
        return EXIT_FAILED, shown
    if interrupted():  # pytest turns Ctrl-C into an early, partial report: drop it
        raise KeyboardInterrupt
    history.record(path, report)
    if shown is not None:
        fresh = {e.id: e for e in report.exercises}
        kept = {e.id: e for e in shown.exercises}
        report.exercises = [fresh.get(e.id) or kept[e.id] for e in exercises if e.id in fresh or e.id in kept]
    out.clear()
    _say("selfstudy.watch_run", style="bold", number=number, time=time.strftime("%H:%M:%S"))
    if shown is not None:
        _say("selfstudy.watch_rechecked", style="dim", exercises=", ".join(e.id for e in pending))
    output.render_report(report, targets, out, elapsed=report.duration)
    return (EXIT_OK if report.all_passed else EXIT_FAILED), report


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
