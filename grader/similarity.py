"""Code similarity between submissions, per exercise, for an instructor to look at.

    report = compare(Path("submissions"), resolve_targets(["ch4"]))
    report.matches[0]   # the most similar pair: exercise, the two names, shares, regions

For each exercise, the student's function is taken with `ast` from the chapter module
of each submission (a folder or a .zip, found like `grade-batch` finds them; a notebook
is read with `grader.notebook`). Every pair is compared with copydetect's fingerprints
(names and strings normalised, k-grams hashed and winnowed: the method of MOSS), the
stub's own fingerprints removed as boilerplate. A pair is flagged when the code one of
them shares with the other reaches `threshold` of its fingerprinted code.

It flags; it never grades, and nothing here executes student code. Left out: matches
across exercises (a function copied under another name), and code shared through
helper functions outside the graded ones.
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import heapq
import importlib.util
import io
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from grader import sanitize
from grader.curriculum import Exercise
from grader.curriculum import chapter as chapter_of

NOISE = 25
"""k: matches shorter than this many normalised characters are ignored (copydetect's default)."""
GUARANTEE = 30
"""Matches at least this long are always found; winnowing window = GUARANTEE - NOISE + 1."""
THRESHOLD = 0.5
"""A pair is flagged when one side shares at least this share of its fingerprints."""
MIN_SHARED = 8
"""Fewer shared fingerprints than this never flag a pair (tiny functions look alike)."""
KEEP = 2000
"""Flagged pairs kept per exercise (the most similar); `SimilarityReport.flagged` counts all."""
DETAIL = 200
"""Pairs, from the top of the ranking, whose shared regions are found and shown."""
MAX_SOURCE_BYTES = 2 << 20
"""A module larger than this is not read (exercise modules are a few kB)."""


@dataclass(frozen=True)
class Match:
    """One pair of submissions and the code they share for one exercise."""

    exercise: str
    first: str
    """Name of submission A (folder or zip name)."""
    second: str
    similarity: float
    """The larger of the two shares: the ranking key."""
    first_share: float
    """Share of A's fingerprints (after winnowing, stub removed) that B has too (0..1)."""
    second_share: float
    tokens: int
    """Fingerprints the two share."""
    first_source: str
    second_source: str
    first_regions: tuple[tuple[int, int], ...] = ()
    """Character ranges of `first_source` that are shared, for highlighting."""
    second_regions: tuple[tuple[int, int], ...] = ()


@dataclass
class SimilarityReport:
    """Every flagged pair, ranked, with what was compared."""

    submissions: list[str]
    exercises: list[str]
    """Exercise ids compared (those at least two submissions wrote)."""
    compared: int
    """Pairs of functions compared."""
    threshold: float
    matches: list[Match] = field(default_factory=list)
    """Flagged pairs, most similar first."""
    problems: list[tuple[str, str]] = field(default_factory=list)
    """(submission, what could not be read)."""
    library: str = ""
    """copydetect's version."""
    flagged: int = 0
    """Pairs at or above the threshold, including any beyond the `keep` per exercise."""

    def by_pair(self) -> list[tuple[str, str, int, float]]:
        """(A, B, flagged exercises, mean similarity) for each pair of submissions."""
        groups: dict[tuple[str, str], list[float]] = {}
        for m in self.matches:
            groups.setdefault((m.first, m.second), []).append(m.similarity)
        rows = [(a, b, len(s), sum(s) / len(s)) for (a, b), s in groups.items()]
        return sorted(rows, key=lambda r: (-r[2], -r[3], r[0], r[1]))


def compare(folder: Path, exercises: list[Exercise], threshold: float = THRESHOLD, jobs: int | None = None,
            keep: int = KEEP, detail: int = DETAIL, min_shared: int = MIN_SHARED) -> SimilarityReport:
    """Compare the submissions of `folder` on `exercises`: every pair, per exercise.
    A pair is flagged when it reaches `threshold` with at least `min_shared` fingerprints.
    At most `keep` flagged pairs per exercise are kept (the most similar), and the
    shared regions are found for the first `detail` of the ranking."""
    import copydetect

    functions, names, problems = collect(folder, exercises)
    stubs = stub_functions(exercises)
    todo = [(ex_id, stubs.get(ex_id, ""), sorted(by_sub.items()), threshold, keep, detail, min_shared)
            for ex_id, by_sub in functions.items() if len(by_sub) >= 2]
    matches: list[Match] = []
    compared = flagged = 0
    for found, count, hits in _map(_compare_exercise, todo, jobs):
        matches.extend(found)
        compared += count
        flagged += hits
    order = {e.id: i for i, e in enumerate(exercises)}
    matches.sort(key=lambda m: (-m.similarity, -m.tokens, order.get(m.exercise, 0), m.first, m.second))
    matches[detail:] = [dataclasses.replace(m, first_regions=(), second_regions=()) for m in matches[detail:]]
    return SimilarityReport(names, [t[0] for t in todo], compared, threshold, matches, problems, copydetect.__version__, flagged)


def _map(fn, jobs_list: list, jobs: int | None):
    """`fn` over `jobs_list` in fresh processes with a fixed PYTHONHASHSEED: copydetect
    hashes k-grams with Python's `hash`, so a fixed seed makes the fingerprints, and so
    the report, the same on every run."""
    import multiprocessing

    if not jobs_list:
        return []
    workers = max(1, min(jobs or os.cpu_count() or 1, len(jobs_list)))
    saved = os.environ.get("PYTHONHASHSEED")
    os.environ["PYTHONHASHSEED"] = "0"
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            return list(pool.map(fn, jobs_list, chunksize=1))
    except BrokenProcessPool:
        # no fresh process could start (a `__main__` that cannot be imported again, as
        # `python -`): compare here, with this process's hash seed
        return list(map(fn, jobs_list))
    finally:
        if saved is None:
            os.environ.pop("PYTHONHASHSEED", None)
        else:
            os.environ["PYTHONHASHSEED"] = saved


def collect(folder: Path, exercises: list[Exercise]) -> tuple[dict[str, dict[str, str]], list[str], list[tuple[str, str]]]:
    """({exercise id: {submission: function source}}, submission names, problems)."""
    from grader.batch import UnsafeZip, discover, extract_zip

    functions: dict[str, dict[str, str]] = {e.id: {} for e in exercises}
    names, problems = [], []
    for entry in discover(Path(folder)):
        # an `Entry` (name, path, note), or the older (name, path) pair
        name, path = (entry.name, entry.path) if hasattr(entry, "path") else entry
        names.append(name)
        work = Path(tempfile.mkdtemp(prefix="dlcourse-similarity-"))
        try:
            if path.is_file():
                try:
                    extract_zip(path, work / "submission")
                except UnsafeZip as exc:
                    problems.append((name, sanitize.name(exc, 300)))
                    continue
                path = _single_root(work / "submission")
            for ex_id, source in submission_functions(path, exercises, problems, name).items():
                functions[ex_id][name] = source
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return functions, names, problems


def submission_functions(path: Path, exercises: list[Exercise], problems: list[tuple[str, str]] | None = None, name: str = "") -> dict[str, str]:
    """{exercise id: source of the student's function} for one submission folder.

    A chapter module is looked for as `<module>.py`, then as a notebook named for it
    (`grader.notebook.chapter_module`), in the folder, then in its `exercises/` and
    `notebooks/` sub-folders; the first function that is not the untouched stub wins."""
    stubs = stub_functions(exercises)
    modules: dict[str, list[tuple[str, ast.Module]]] = {}
    out = {}
    for ex in exercises:
        for module in chapter_of(ex.chapter).modules:
            if module not in modules:
                modules[module] = _module_sources(Path(path), module, problems, name)
            for source, tree in modules[module]:
                found = function_source(source, tree, ex.name)
                if found is not None and found.strip() != stubs.get(ex.id, "").strip():
                    out[ex.id] = found
                    break
            if ex.id in out:
                break
    return out


def _module_sources(path: Path, module: str, problems: list[tuple[str, str]] | None, name: str) -> list[tuple[str, ast.Module]]:
    """Every readable version of `module` in a submission, in the order they are preferred."""
    from grader.notebook import NotebookError, chapter_module, convert

    found = []
    for folder in (path, path / "exercises", path / "notebooks"):
        if not folder.is_dir():
            continue
        candidates = [folder / f"{module}.py"] + sorted(p for p in folder.glob("*.ipynb") if chapter_module(p.name) == module)
        for file in candidates:
            try:
                if not file.is_file() or (file.suffix == ".py" and file.stat().st_size > MAX_SOURCE_BYTES):
                    continue  # a notebook's own limit (`grader.notebook.MAX_BYTES`) applies in `convert`
                source = file.read_text(encoding="utf-8", errors="replace") if file.suffix == ".py" else convert(file).source
                found.append((source, ast.parse(source)))
            except (OSError, SyntaxError, ValueError, RecursionError, MemoryError, NotebookError) as exc:
                if problems is not None:
                    problems.append((name, f"{sanitize.name(file.name)}: {sanitize.name(exc, 300)}"))
    return found


def function_source(source: str, tree: ast.Module | None, name: str) -> str | None:
    """The last top-level `def name` of a module (as Python would use), decorators included."""
    if tree is None:
        return None
    from grader.notebook import python_lines

    lines = python_lines(source)
    found = None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            found = "".join(lines[first - 1 : node.end_lineno])
    return found


def stub_functions(exercises: list[Exercise]) -> dict[str, str]:
    """{exercise id: the stub's function source}, from the installed `exercises` package."""
    return {ex.id: stub for ex in exercises if (stub := _stub(ex.id)) is not None}


@lru_cache(maxsize=None)
def _stub(exercise_id: str) -> str | None:
    from grader.curriculum import find

    ex = find(exercise_id)
    spec = importlib.util.find_spec("exercises")
    stubs = Path(next(iter(spec.submodule_search_locations)))
    for module in chapter_of(ex.chapter).modules:
        file = stubs / f"{module}.py"
        if file.is_file():
            source = file.read_text(encoding="utf-8")
            found = function_source(source, ast.parse(source), ex.name)
            if found is not None:
                return found
    return None


def write_csv(report: SimilarityReport, out: Path) -> None:
    """One row per flagged pair, in rank order; names are made safe for spreadsheets."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["rank", "exercise", "submission_a", "submission_b", "similarity", "share_a", "share_b", "shared_tokens"])
        for rank, m in enumerate(report.matches, start=1):
            writer.writerow([rank, m.exercise, sanitize.csv_cell(m.first), sanitize.csv_cell(m.second),
                             f"{m.similarity:.3f}", f"{m.first_share:.3f}", f"{m.second_share:.3f}", m.tokens])


def _compare_exercise(job: tuple[str, str, list[tuple[str, str]], float, int, int, int]) -> tuple[list[Match], int, int]:
    """(the `keep` most similar flagged pairs, pairs compared, pairs flagged) of one
    exercise, the first `detail` of them with their shared regions. The shares count
    fingerprints (as MOSS does); copydetect's slices give the regions."""
    import numpy as np
    from copydetect import compare_files

    exercise, stub, submissions, threshold, keep, detail, min_shared = job
    boilerplate = np.array(sorted(_fingerprint(stub).hashes)) if stub else None
    prints = []
    for name, source in submissions:
        fp = _fingerprint(source, boilerplate)
        if fp.hashes:  # an untouched stub, or code shorter than NOISE, has nothing to match
            prints.append((name, source, fp))
    best: list[tuple[float, int, int, int, int]] = []  # a min-heap on (similarity, shared)
    compared = flagged = 0
    for i, (_, _, a) in enumerate(prints):
        for j in range(i + 1, len(prints)):
            b = prints[j][2]
            compared += 1
            shared = len(a.hashes & b.hashes)
            similarity = shared / min(len(a.hashes), len(b.hashes))
            if similarity < threshold or shared < min_shared:
                continue
            flagged += 1
            item = (similarity, shared, -flagged, i, j)  # ties: the earlier pair ranks first
            if len(best) < keep:
                heapq.heappush(best, item)
            elif item > best[0]:
                heapq.heapreplace(best, item)
    found = []
    for rank, (_, shared, _, i, j) in enumerate(sorted(best, reverse=True)):
        (a_name, a_source, a), (b_name, b_source, b) = prints[i], prints[j]
        regions_a = regions_b = ()
        if rank < detail:
            _, _, (slices_a, slices_b) = compare_files(a, b)
            regions_a, regions_b = _regions(slices_a), _regions(slices_b)
        found.append(Match(exercise, a_name, b_name, shared / min(len(a.hashes), len(b.hashes)), shared / len(a.hashes),
                           shared / len(b.hashes), shared, a_source, b_source, regions_a, regions_b))
    return found, compared, flagged


def _fingerprint(source: str, boilerplate=None):
    from copydetect import CodeFingerprint

    return CodeFingerprint("submission.py", NOISE, GUARANTEE - NOISE + 1, boilerplate=boilerplate, language="python", fp=io.StringIO(source))


def _regions(slices) -> tuple[tuple[int, int], ...]:
    if len(slices) == 0 or len(slices[0]) == 0:
        return ()
    return tuple((int(s), int(e)) for s, e in zip(slices[0], slices[1]))


def _single_root(folder: Path) -> Path:
    entries = [p for p in folder.iterdir() if not p.name.startswith(("__MACOSX", "."))] if folder.is_dir() else []
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else folder
