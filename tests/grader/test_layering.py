"""The CLI is built on the engine, never the reverse (issue 15): no module of `grader/`
imports `dlcourse_cli` or starts it as a process."""

from __future__ import annotations

import ast
from pathlib import Path

import grader

GRADER = Path(grader.__file__).parent


def test_no_engine_module_imports_or_runs_the_cli():
    offenders = []
    for path in sorted(GRADER.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, (ast.List, ast.Tuple)):  # a command line: [python, "-m", "dlcourse_cli", ...]
                words = [e.value for e in node.elts if isinstance(e, ast.Constant)]
                names = [w for a, w in zip(words, words[1:]) if a == "-m"]
            offenders += [f"{path.relative_to(GRADER.parent)}:{node.lineno} {n}" for n in names if n.split(".")[0] == "dlcourse_cli"]
    assert not offenders, offenders
