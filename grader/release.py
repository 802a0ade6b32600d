"""Build the student edition of dlcourse: stubs, grader, CLI, catalogue and the public
checks, without `solutions/`, `tests/` or any hidden check.

    summary = build(Path("release"))

- Hidden checks are removed from each check module by AST (`strip_hidden`), and with
  them every top-level helper that only they used; the rest of the file keeps its text.
- The references are not shipped: the public checks are run once against them with a
  recording `ref` (`grader.replay.Recorder`), and the outputs are stored as wire-format
  data in `grader/recorded/`. In the release the seed and the profile are the recorded
  ones (`--seed` is ignored there) and Hypothesis is pinned to the recorded version, so
  the release draws the very same inputs. Each known mistake (`solutions/mistakes/`) is
  graded the same way, so the inputs Hypothesis shrinks its failures to are recorded too.
- The instructor's commands (`grade`, `grade-batch`, `release`) and their modules stay out.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import exercises as exercises_pkg
import grader

if TYPE_CHECKING:
    from grader import replay

# grader/export ships: the engine imports its renderers before any student code runs
# (`runner._preload`), and they hold nothing a student may not see
GRADER_LEFT_OUT = {"release.py", "batch.py", "gradebook.py", "submission.py", "__main__.py", "similarity.py", "recorded", "checks", "__pycache__"}
CLI_LEFT_OUT = {"grade.py", "grade_batch.py", "gradebook.py", "release.py", "similarity.py"}
RECORD_PROFILE = "check"


class ReleaseError(RuntimeError):
    """The release cannot be built (a public check fails on the references, a check
    module imports the references directly, the folder is not empty)."""


@dataclass
class Summary:
    path: Path
    files: int
    recorded: int
    hidden_removed: list[str]


# --- stripping hidden checks ------------------------------------------------------------------


def _hidden_exercise(node: ast.AST) -> str | None:
    """The exercise id of a hidden check (`@exercise(id, ..., hidden=True)`), else None."""
    for deco in getattr(node, "decorator_list", []):
        if isinstance(deco, ast.Call):
            name = deco.func.id if isinstance(deco.func, ast.Name) else getattr(deco.func, "attr", "")
            if name == "exercise":
                for kw in deco.keywords:
                    if kw.arg == "hidden" and isinstance(kw.value, ast.Constant) and kw.value.value:
                        first = deco.args[0] if deco.args else None
                        return str(first.value) if isinstance(first, ast.Constant) else "?"
    return None


def _is_hidden(node: ast.AST) -> bool:
    return _hidden_exercise(node) is not None


def hidden_counts(source: str) -> dict[str, int]:
    """How many hidden checks each exercise has (the release says how many it lacks)."""
    counts: dict[str, int] = {}
    for node in ast.parse(source).body:
        exercise_id = _hidden_exercise(node)
        if exercise_id:
            counts[exercise_id] = counts.get(exercise_id, 0) + 1
    return counts


def _defined(node: ast.stmt) -> str | None:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if len(targets) == 1 and isinstance(targets[0], ast.Name):
            return targets[0].id
    return None


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def strip_hidden(source: str) -> tuple[str, list[str]]:
    """`source` without its hidden checks and the helpers only they use; returns the new
    source and the names of the removed checks.

    >>> strip_hidden(open("grader/checks/ch4_backprop.py").read())[1][:1]
    ['check_linear_backward_larger_layers']
    """
    tree = ast.parse(source)
    body = tree.body
    removed = [n for n in body if _is_hidden(n)]
    hidden_names = [n.name for n in removed]
    while True:
        kept = [n for n in body if n not in removed]
        used_by_removed = set().union(*(_names(n) for n in removed)) if removed else set()
        more = []
        for n in kept:
            name = _defined(n)
            if name is None or name not in used_by_removed or name.startswith("check_"):
                continue
            if not any(name in _names(other) for other in kept if other is not n):
                more.append(n)
        if not more:
            break
        removed += more
    lines = source.splitlines(keepends=True)
    drop: set[int] = set()
    for n in removed:
        start = min([n.lineno] + [d.lineno for d in getattr(n, "decorator_list", [])])
        # comment lines directly above describe the removed definition
        while start > 1 and lines[start - 2].lstrip().startswith("#") and not lines[start - 2].lstrip().startswith("# ---"):
            start -= 1
        drop.update(range(start, n.end_lineno + 1))
    text = "".join(line for i, line in enumerate(lines, start=1) if i not in drop)
    text = re.sub(r"\n{4,}", "\n\n\n", text)
    return text, hidden_names


def _imports_solutions(source: str) -> bool:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "solutions":
            return True
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "solutions" for a in node.names):
            return True
    return False


# --- building -----------------------------------------------------------------------------------


def _folder(package) -> Path:
    """A package's folder (`__file__` is None for a namespace or editable-finder package)."""
    return Path(next(iter(package.__path__)))


def _package_folder(name: str) -> Path:
    """The folder of package `name`, found without importing it: the release copies the
    CLI's files, and the engine never imports the CLI."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ReleaseError(f"the package {name} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _copy_tree(src: Path, dest: Path, left_out: set[str]) -> None:
    shutil.copytree(src, dest, ignore=lambda d, names: [n for n in names if n in left_out or n == "__pycache__" or n.endswith(".pyc")])


def build(outdir: Path, chapters: list[str] | None = None, jobs: int = 1) -> Summary:
    """Write the student release into `outdir` (which must not exist or be empty).

    `chapters` (default: all) are the chapters whose checks are released, for a course
    that releases chapter by chapter; the stubs of every chapter are shipped. `jobs`
    chapters are recorded at once, each in a process of its own (`record_chapters`)."""
    from grader.curriculum import chapter as chapter_of
    from grader.curriculum import chapters as all_chapters

    chosen = [chapter_of(c) for c in chapters] if chapters else list(all_chapters())
    modules = {m for c in chosen for m in c.modules}
    outdir = Path(outdir)
    if outdir.exists() and any(outdir.iterdir()):
        raise ReleaseError(f"{outdir} is not empty")
    outdir.mkdir(parents=True, exist_ok=True)
    grader_src = _folder(grader)
    _copy_tree(grader_src, outdir / "grader", GRADER_LEFT_OUT)
    _copy_tree(_package_folder("dlcourse_cli"), outdir / "dlcourse_cli", CLI_LEFT_OUT)
    _copy_tree(_folder(exercises_pkg), outdir / "exercises", set())

    checks_out = outdir / "grader" / "checks"
    checks_out.mkdir()
    for name in ("__init__.py", "checks.ini"):
        shutil.copy2(grader_src / "checks" / name, checks_out / name)
    hidden: list[str] = []
    counts: dict[str, int] = {}
    for module in sorted((grader_src / "checks").glob("ch*.py")):
        if module.stem not in modules:
            continue
        source = module.read_text(encoding="utf-8")
        stripped, names = strip_hidden(source)
        counts |= hidden_counts(source)
        if _imports_solutions(stripped):
            raise ReleaseError(f"{module.name} imports solutions/ directly; call the references through the `ref` fixture")
        (checks_out / module.name).write_text(stripped, encoding="utf-8")
        hidden += names

    recorded = _record(outdir / "grader" / "recorded", [c.id for c in chosen], counts, jobs)
    _write_project(outdir)
    files = sum(1 for p in outdir.rglob("*") if p.is_file())
    return Summary(outdir, files, recorded, hidden)


def _record(folder: Path, chapters: list[str], hidden: dict[str, int], jobs: int) -> int:
    from grader import runner

    recorder = record_chapters(chapters, jobs)
    recorder.save(folder, runner.DEFAULT_SEED, RECORD_PROFILE, hidden)
    return len(recorder.outputs)


def record_chapters(chapters: list[str], jobs: int = 1) -> replay.Recorder:
    """`record` of each chapter's exercises, in a process of its own (`python -m grader
    record`), `jobs` at a time; the tables merged. A chapter's keys name it and its draws do
    not depend on what ran before it, so the table is the one a single `record` of all the
    chapters makes: the same inputs, the same outputs but for rounding (the least squares of
    a rank-deficient matrix may differ between processes). ReleaseError when a chapter's
    recording fails, with what it said; the other chapters' processes are stopped."""
    import subprocess
    import sys
    import tempfile

    from grader import replay
    from grader.curriculum import chapter as chapter_of

    chapters = list(dict.fromkeys(chapters))  # `--chapter ch3 --chapter ch3`: recorded once
    jobs = max(1, min(jobs, len(chapters)))
    if jobs == 1:
        return record([e for c in chapters for e in chapter_of(c).exercises])
    merged = replay.Recorder()
    with tempfile.TemporaryDirectory(prefix="dlcourse-record-") as scratch:
        waiting, running, done = list(chapters), {}, {}
        try:
            while waiting or running:
                while waiting and len(running) < jobs:
                    chapter_id = waiting.pop(0)
                    cmd = [sys.executable, "-m", "grader", "record", chapter_id, "--out", str(Path(scratch) / chapter_id)]
                    with open(Path(scratch) / f"{chapter_id}.err", "wb") as err:
                        running[chapter_id] = subprocess.Popen(cmd, cwd=scratch, stdin=subprocess.DEVNULL,
                                                               stdout=subprocess.DEVNULL, stderr=err)
                chapter_id, proc = _first_finished(running)
                del running[chapter_id]
                if proc.returncode != 0:
                    err = (Path(scratch) / f"{chapter_id}.err").read_text(encoding="utf-8", errors="replace")
                    raise ReleaseError(f"recording {chapter_id} failed (exit {proc.returncode}): {err.strip()[-2000:]}")
                done[chapter_id] = Path(scratch) / chapter_id
        finally:
            for proc in running.values():
                proc.kill()
                proc.wait()
        for chapter_id in chapters:
            merged.outputs.update(replay.load_table(done[chapter_id]))
    return merged


def _first_finished(running: dict) -> tuple:
    """The first of the running processes to exit (polled: there are a few, for minutes)."""
    import time

    while True:
        for item in running.items():
            if item[1].poll() is not None:
                return item
        time.sleep(0.05)


def record(exercises: list) -> replay.Recorder:
    """What a release ships for `exercises`: their public checks run against the
    references (in a worker process) with a recorder, then each of their known mistakes
    graded alone with the same recorder. ReleaseError when a public check fails on the
    references."""
    import solutions

    from grader import replay, runner

    recorder = replay.Recorder()
    report = runner.run(
        exercises,
        path=_folder(solutions),
        seed=runner.DEFAULT_SEED,
        include_hidden=False,
        profile=RECORD_PROFILE,
        recorder=recorder,
    )
    failing = [f"{e.id}/{c.name} ({c.status})" for e in report.exercises for c in e.checks if c.status != "passed"]
    if failing:
        raise ReleaseError("public checks fail on the references: " + ", ".join(failing))
    record_known_mistakes(recorder, exercises)
    return recorder


def record_known_mistakes(recorder, exercises: list) -> None:
    """Grade each known mistake of `exercises` (`solutions/mistakes/`) as a submission of
    its own, public checks only, with the same seed, profile and recorder as the
    references: the inputs Hypothesis visits while it shrinks that mistake's failures are
    recorded too (reference outputs and mistake tables), so a student who makes a known
    mistake gets, from recorded data alone, the example, score and named mistake the full
    package gives. Trusted code (ours), graded in this process."""
    import tempfile

    import solutions
    from solutions import mistakes

    from grader import runner
    from grader.curriculum import chapter
    from grader.inprocess import InProcessWorker

    wanted = {e.id: e for e in exercises}
    references = _folder(solutions)
    with tempfile.TemporaryDirectory(prefix="dlcourse-release-") as scratch:
        for n, entry in enumerate(e for e in mistakes.entries() if e.exercise in wanted):
            exercise = wanted[entry.exercise]
            folder = Path(scratch) / f"mistake{n}"
            folder.mkdir()
            for path in references.glob("ch*.py"):
                shutil.copy(path, folder / path.name)
            module = chapter(exercise.chapter).modules[0]
            with open(folder / f"{module}.py", "a", encoding="utf-8") as f:
                f.write("\n\n" + mistakes.source(entry))
            runner.run([exercise], seed=runner.DEFAULT_SEED, include_hidden=False, profile=RECORD_PROFILE,
                       recorder=recorder, worker=InProcessWorker(folder))


PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "dlcourse-student"
version = "{version}"
description = "Foundations of Deep Learning: exercises and their public checks (student edition)"
readme = "README.md"
requires-python = ">=3.10"
dependencies = [
    "torch>=2.2,<3",
    "numpy>=1.24",
    "scikit-learn>=1.3",
    "typer>=0.12",
    "rich>=13",
    "pytest>=8",
    "nbformat>=5.9",
    # the recorded reference outputs fit the inputs this exact version draws
    "hypothesis=={hypothesis}",
]

[project.scripts]
dlcourse = "dlcourse_cli.main:run"

[tool.setuptools.packages.find]
include = ["exercises*", "grader*", "dlcourse_cli*"]

[tool.setuptools.package-data]
grader = ["locales/*/*.json", "recorded/*", "checks/checks.ini"]
"""

README = """\
# Foundations of Deep Learning: exercises

Install (Python 3.10+, with torch already installed or from PyPI):

    python -m pip install .

Create your workspace and check your work:

    dlcourse init my-work && cd my-work
    dlcourse check ch4
    dlcourse hint ch4.linear_backward

`check` runs the public checks; your instructor's grading also runs hidden ones. The
inputs are drawn from a fixed seed in this edition (`--seed` is ignored): the expected
values were recorded from the references for those inputs.
"""


def _write_project(outdir: Path) -> None:
    import importlib.metadata

    import hypothesis

    try:
        version = importlib.metadata.version("dlcourse")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        version = "0.0.0"
    (outdir / "pyproject.toml").write_text(PYPROJECT.format(version=version, hypothesis=hypothesis.__version__), encoding="utf-8")
    (outdir / "README.md").write_text(README, encoding="utf-8")
