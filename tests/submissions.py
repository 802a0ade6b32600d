"""Build student submissions for the project's own tests: the reference modules, with
some functions replaced by mutants or variants (see `tests/mutants`)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import shutil
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import tests.mutants as mutants_pkg
from grader.curriculum import chapter, find
from tests.mutants import CASES, Case

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"


def load_cases() -> list[Case]:
    """Every mutant and variant, importing each `tests/mutants/ch*_mutants.py` once."""
    for info in pkgutil.iter_modules(mutants_pkg.__path__):
        if info.name.endswith("_mutants"):
            importlib.import_module(f"tests.mutants.{info.name}")
    return list(CASES)


def _calls(source: str) -> set[str]:
    """Names a piece of source refers to (functions it may call)."""
    return {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}


@lru_cache(maxsize=None)
def _reference_calls(module: str) -> dict[str, set[str]]:
    """For each function of a reference module, the names it reaches, transitively."""
    tree = ast.parse((SOLUTIONS / f"{module}.py").read_text(encoding="utf-8"))
    direct = {n.name: {m.id for m in ast.walk(n) if isinstance(m, ast.Name)} for n in tree.body if isinstance(n, ast.FunctionDef)}
    closure = {}
    for name in direct:
        seen, todo = set(), [name]
        while todo:
            for callee in direct.get(todo.pop(), ()):
                if callee in direct and callee not in seen:
                    seen.add(callee)
                    todo.append(callee)
        closure[name] = seen
    return closure


def _reach(case: Case) -> set[str]:
    """Every function name the case's code may end up calling."""
    module = chapter(find(case.exercise).chapter).modules[0]
    graph = _reference_calls(module)
    names = _calls(case.source())
    return names | set().union(*(graph.get(n, set()) for n in names))


def slots(cases: list[Case]) -> dict[tuple[str, int], list[Case]]:
    """Group cases into submissions, (chapter, k) -> cases, so that one submission holds
    at most one case per exercise and no case calls a function that another case of the
    same submission replaces (a mutant of im2col must not break a conv2d variant)."""
    out: dict[tuple[str, int], list[Case]] = defaultdict(list)
    for case in cases:
        chap = find(case.exercise).chapter
        name = case.exercise.split(".", 1)[1]
        reach = _reach(case) - {name}
        k = 0
        while True:
            group = out[(chap, k)]
            taken = {c.exercise.split(".", 1)[1] for c in group}
            clash = name in taken or reach & taken or any(name in _reach(c) for c in group)
            if not clash:
                group.append(case)
                break
            k += 1
    return dict(out)


def write_submission(folder: Path, replacements: list[Case] = (), base: Path = SOLUTIONS) -> Path:
    """Copy the chapter modules of `base` into `folder`, appending each replacement
    function to its chapter's module (a later definition wins in Python)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in base.glob("ch*.py"):
        shutil.copy(path, folder / path.name)
    for case in replacements:
        module = chapter(find(case.exercise).chapter).modules[0]
        with open(folder / f"{module}.py", "a", encoding="utf-8") as f:
            f.write("\n\n# --- replaced by the test suite ---\n" + case.source())
    return folder


def submission_with(folder: Path, module: str, source: str) -> Path:
    """A submission of the stubs where `module` has the given source (hostile tests)."""
    write_submission(folder, base=EXERCISES)
    (folder / f"{module}.py").write_text(source, encoding="utf-8")
    return folder
