"""The mutants' slots graded once per test process, and each chapter's release recording
made once per test session, for the tests that read them.

A slot (`tests.submissions.slots`: the references with several mutants, variants or known
mistakes of one chapter swapped in) is graded as the instructor grades it: hidden checks
included, the `grade` profile, in this process (`grader.inprocess`). The mutant tests
(`tests/grader/test_mutants.py`) read each report for their verdicts, and the release
tests (`tests/instructor/test_release_mistakes.py`) compare its public checks with the
release's. Tests of one slot share its `xdist_group` (`group`), so with pytest-xdist they
run in one process, which grades the slot once.

The student release (`dlcourse release` of this checkout: the references' outputs and
the known mistakes' recorded) is built by the first test process that needs it and read
by every other, under a lock in the session's shared temporary folder: the release tests
replay its recording, and the deployed release test installs it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from grader.curriculum import chapter, find
from grader.inprocess import InProcessWorker
from grader.runner import CHECKS, run
from tests.submissions import load_cases, slots, write_submission

# only chapters whose checks exist; tests/grader/test_registry.py proves which those are
CASES = [c for c in load_cases() if (CHECKS / f"{chapter(find(c.exercise).chapter).modules[0]}.py").is_file()]
SLOTS = slots(CASES)
SLOT_OF = {id(case): key for key, group in SLOTS.items() for case in group}
DEALT = sorted(SLOTS, key=lambda key: (key[1], int(key[0].removeprefix("ch"))))
"""The slots in the order their tests should be dealt out: every chapter's first slot, then
every second one, ... With pytest-xdist the groups go to the processes in this order, so two
processes seldom wait on one chapter's recording at the same time."""
CASES_DEALT = [case for key in DEALT for case in SLOTS[key]]


def group(key: tuple[str, int]) -> str:
    """The slot's `xdist_group` name."""
    return f"slot-{key[0]}-{key[1]}"


def grade_as_instructor(cases, folder: Path, worker=None):
    return run([find(c.exercise) for c in cases], path=folder, include_hidden=True, profile="grade", worker=worker)


def slot_reports(root: Path) -> Callable[[tuple[str, int]], tuple[Path, object]]:
    """`get(key) -> (submission folder, report)`, each slot graded once (lazily) in this
    process. Every slot's folder has one name, `submission`: messages name the student's
    file by it."""
    cache: dict[tuple[str, int], tuple[Path, object]] = {}

    def get(key: tuple[str, int]) -> tuple[Path, object]:
        if key not in cache:
            folder = write_submission(root / f"{key[0]}_{key[1]}" / "submission", SLOTS[key])
            cache[key] = folder, grade_as_instructor(SLOTS[key], folder, InProcessWorker(folder))
        return cache[key]

    return get


def student_release(shared: Path) -> Callable[[], Path]:
    """`get() -> folder` of the student release `dlcourse release` builds from this checkout
    (every chapter, two recorded at a time), built by the first test process that needs it and
    read by every other, under a lock in the session's shared temporary folder. A build
    that failed is not tried again: each test that needs it fails with what it said."""
    import shutil
    import sys

    from tests.deployed import environments as envs
    from tests.submissions import ROOT

    def get() -> Path:
        folder, failed = shared / "student-release", shared / "student-release.failed"
        with _locked(shared / "student-release.lock"):
            if not folder.is_dir() and not failed.is_file():
                partial = shared / "student-release.partial"
                shutil.rmtree(partial, ignore_errors=True)
                proc = envs.run([sys.executable, "-m", "dlcourse_cli", "release", partial, "--jobs", "2"], cwd=ROOT, timeout=1500)
                if proc.returncode == 0:
                    partial.rename(folder)
                else:
                    failed.write_text(f"dlcourse release exited {proc.returncode}: {proc.stderr[-4000:]}", encoding="utf-8")
        if failed.is_file():
            raise AssertionError(failed.read_text(encoding="utf-8"))
        return folder

    return get


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` between the test processes (pytest-xdist workers)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
