"""Run the checks of some exercises against one submission folder and return a Report.

    report = run(resolve_targets(["ch4"]), path="exercises", device="cpu", seed=0)

The worker is started first, so it imports torch while this process imports pytest,
Hypothesis and the checks. pytest runs in this process with only our plugin loaded.
"""

from __future__ import annotations

import atexit
import os
import time
from pathlib import Path

from grader.curriculum import Exercise
from grader.curriculum import chapter as chapter_of
from grader.results import ExerciseResult, Report

CHECKS = Path(__file__).parent / "checks"
DEFAULT_SEED = 20261124


class GraderError(RuntimeError):
    """Grading itself could not run (a broken check module, a missing device)."""


def resolve_device(device: str) -> str:
    """`auto` -> cuda when available, else cpu; `cuda` without a GPU is an error."""
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise GraderError(f"unknown device {device!r}")
    if device == "cpu":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda" if device == "auto" else device
    if device == "auto":
        return "cpu"
    raise GraderError("no CUDA device is available")


def run(
    exercises: list[Exercise],
    path: str | Path = "exercises",
    device: str = "cpu",
    seed: int = DEFAULT_SEED,
    include_hidden: bool = False,
    profile: str = "check",
    timeout: float | None = None,
    threads: int | None = None,
    lang: str | None = None,
    recorder=None,
    isolation: str | None = None,
    require_isolation: bool = False,
    worker=None,
    memory_budget: float | None = None,
) -> Report:
    """Grade `exercises` of the submission at `path`.

    `recorder` (a `grader.replay.Recorder`) records the references' outputs, to build a
    student release. In a release (`grader.replay.active()`) the seed and the profile are
    the recorded ones whatever is asked: the recorded outputs fit only those inputs.

    `worker` grades with a worker made by the caller instead of starting one (the
    project's tests grade their own mutants with `grader.inprocess.InProcessWorker`);
    its path, device, time limit and threads are then the run's.

    `memory_budget` (MiB; default DLCOURSE_MEMORY_BUDGET, else none; `grader.memory`)
    bounds this process and its worker together: the worker is replaced by a fresh one at
    a chapter boundary where it would be passed.
    """
    from grader.student import DEFAULT_TIMEOUT, Worker  # imports no torch

    started = time.perf_counter()
    given = worker is not None
    # a worker made by the caller is the caller's to replace: a budget only when asked
    budget = _budget(memory_budget) if memory_budget is not None or not given else None
    if given:
        device, threads = worker.device, worker.threads
    else:
        threads = threads or int(os.environ.get("DLCOURSE_THREADS", "1"))
        # `check` takes the default from DLCOURSE_ISOLATION (else the strongest that runs)
        requested = isolation_to_run(isolation or os.environ.get("DLCOURSE_ISOLATION") or "auto", require_isolation, device)
        worker = _worker(Worker(Path(path), device=device, timeout=timeout or DEFAULT_TIMEOUT, threads=threads, requested_isolation=requested))
    # the worker imports torch while this process does (the next import is torch's)
    worker.start()
    from grader import replay

    hidden_elsewhere: dict[str, int] = {}  # a release's hidden checks, counted, not shipped
    if recorder is None and replay.active():
        seed, profile = int(replay.meta()["seed"]), str(replay.meta()["profile"])
        hidden_elsewhere = dict(replay.meta().get("hidden", {}))
    _preload()
    try:
        collector = _collect(exercises, worker, seed, include_hidden, profile, threads, lang, recorder, budget)
    finally:
        worker.stop()
        if not given:
            _prepare_spare(worker)
    if collector.problems:
        raise GraderError("\n".join(collector.problems))
    report = Report(seed=seed, device=device, isolation=worker.isolation)
    for e in exercises:
        report.exercises.append(
            ExerciseResult(
                e.id, e.chapter, collector.results.get(e.id, []), collector.hidden_not_run.get(e.id, 0) + hidden_elsewhere.get(e.id, 0),
                integrity=list(collector.integrity.get(e.id, [])),
            )
        )
    report.duration = time.perf_counter() - started
    return report


# --- warm workers: instant re-checks ----------------------------------------------------

_WARM: dict = {"on": False, "spare": None}


def keep_workers_warm(on: bool = True) -> None:
    """Keep a started worker waiting for this process's next run (`watch`, the notebook
    API), so that a re-check skips the worker's start-up (importing torch). Every run
    still gets a fresh worker: the spare is started after the previous run ended and
    imports the student's files only at its first call, so no state leaks between runs."""
    _WARM["on"] = on
    if not on:
        _drop_spare()


def _same_worker(a, b) -> bool:
    return (Path(a.path).resolve(), a.device, a.threads, a.requested_isolation) == (Path(b.path).resolve(), b.device, b.threads, b.requested_isolation)


def _worker(wanted):
    """The spare worker when it fits `wanted` (and is alive), else `wanted` itself."""
    spare, _WARM["spare"] = _WARM["spare"], None
    if spare is not None:
        if _same_worker(spare, wanted) and spare.alive():
            spare.timeout = wanted.timeout
            return spare
        spare.stop()
    return wanted


def _prepare_spare(done) -> None:
    # the user mode grades a copy of the submission made at start: a spare would be stale
    if _WARM["on"] and done.isolation != "user":
        from grader.student import Worker

        spare = Worker(done.path, device=done.device, timeout=done.timeout, threads=done.threads, requested_isolation=done.requested_isolation)
        spare.start()
        _WARM["spare"] = spare


def _drop_spare() -> None:
    spare, _WARM["spare"] = _WARM["spare"], None
    if spare is not None:
        spare.stop()


atexit.register(_drop_spare)


def isolation_to_run(isolation: str, required: bool, device: str = "cpu") -> str:
    """The mode to ask the worker for. With `required`, the requested mode ("auto": a
    real boundary, bwrap or user) must be able to run, else GraderError."""
    from grader import isolation as iso
    from grader.messages import text

    if isolation not in iso.CHOICES:
        raise GraderError(text("isolation.unknown", mode=isolation, choices=", ".join(iso.CHOICES)))
    try:
        mode = iso.choose(isolation, device)
    except iso.IsolationUnavailable as exc:
        if required:
            raise GraderError(text("isolation.required_unavailable", mode=isolation, reason=str(exc))) from None
        return "auto"
    if required and mode == "python" and isolation == "auto":
        reasons = "; ".join(f"{m}: {iso.why_not(m)}" for m in ("bwrap", "user"))
        raise GraderError(text("isolation.none_available", reasons=reasons))
    return mode


def _preload() -> None:
    """Import what the grader will need before any student code runs: a module imported
    later could have been rewritten meanwhile where the worker's walls are Python's own."""
    import grader.export.gradescope  # noqa: F401
    import grader.export.junit  # noqa: F401
    import grader.export.markdown  # noqa: F401
    from grader.messages import catalogue, current_lang

    catalogue(current_lang())
    catalogue("en")


def _budget(option: float | None) -> float | None:
    from grader import memory
    from grader.messages import text

    try:
        return memory.memory_budget(option)
    except ValueError:
        raise GraderError(text("instructor.bad_memory_budget", value=option if option is not None else os.environ.get(memory.ENV, ""))) from None


def _collect(exercises, worker, seed, include_hidden, profile, threads, lang, recorder=None, budget=None):
    import pytest
    import torch

    from grader import lean_torch, profiles, replay
    from grader.plugin import Collector

    lean_torch.skip_dynamo_until_compiling()  # checks against torch.optim compile nothing
    torch.set_num_threads(threads)
    collector = Collector(worker, {e.id for e in exercises}, include_hidden, seed, lang, recorder=recorder, memory_budget=budget)
    files = []
    for chapter_id in dict.fromkeys(e.chapter for e in exercises):
        for module in chapter_of(chapter_id).modules:
            f = CHECKS / f"{module}.py"
            if f.is_file():
                files.append(str(f))
    if not files:
        return collector
    args = [
        *files,
        "-c", str(CHECKS / "checks.ini"),
        "--rootdir", str(CHECKS),
        "-p", "no:cacheprovider",
        "-p", "no:terminal",
        "-p", "no:warnings",
        # these two end every session with five full gc.collect() passes: 1.5 s of a re-check
        "-p", "no:unraisableexception",
        "-p", "no:threadexception",
        "--assert=plain",
    ]
    saved = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        # the inputs come from the seed alone: the same in a checkout, an installed wheel,
        # a release's recording and the release itself
        with profiles.use(profile), replay.fixed_generation():
            code = pytest.main(args, plugins=[collector])
    finally:
        if saved is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = saved
    if code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR):
        collector.problems.append(f"pytest could not run the checks (exit code {int(code)})")
    return collector
