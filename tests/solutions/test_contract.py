"""Stubs and references share one contract: module docstring, imports, function names,
signatures and docstrings; every stub body is exactly the TODO line and the
NotImplementedError naming its exercise id, and calling it raises that error."""

from __future__ import annotations

import ast
import importlib
import inspect

import pytest

from grader.curriculum import chapters, exercises
from tests.submissions import EXERCISES, SOLUTIONS

MODULES = [(c, m) for c in chapters() for m in c.modules]


def _public_functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")}


def _returns(node: ast.FunctionDef) -> str | None:
    return ast.unparse(node.returns) if node.returns else None


def _parse(folder, module) -> ast.Module:
    return ast.parse((folder / f"{module}.py").read_text(encoding="utf-8"))


@pytest.mark.parametrize("chapter, module", MODULES, ids=[m for _, m in MODULES])
def test_stub_and_reference_share_docstrings_imports_and_signatures(chapter, module):
    stub, ref = _parse(EXERCISES, module), _parse(SOLUTIONS, module)
    assert ast.get_docstring(stub) == ast.get_docstring(ref)
    imports = lambda tree: [ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]  # noqa: E731
    assert imports(stub) == imports(ref)
    stub_funcs, ref_funcs = _public_functions(stub), _public_functions(ref)
    assert set(stub_funcs) == set(ref_funcs)
    for name, node in stub_funcs.items():
        assert ast.unparse(node.args) == ast.unparse(ref_funcs[name].args), name
        assert _returns(node) == _returns(ref_funcs[name]), name
        assert ast.get_docstring(node) == ast.get_docstring(ref_funcs[name]), name


@pytest.mark.parametrize("exercise", exercises(), ids=lambda e: e.id)
def test_every_exercise_has_a_stub_and_a_reference(exercise):
    module = next(m for c in chapters() if c.id == exercise.chapter for m in c.modules)
    assert exercise.name in _public_functions(_parse(EXERCISES, module))
    assert exercise.name in _public_functions(_parse(SOLUTIONS, module))


@pytest.mark.parametrize("exercise", exercises(), ids=lambda e: e.id)
def test_stub_body_is_the_todo_and_raises_not_implemented(exercise):
    module = next(m for c in chapters() if c.id == exercise.chapter for m in c.modules)
    node = _public_functions(_parse(EXERCISES, module))[exercise.name]
    body = node.body[1:] if ast.get_docstring(node) else node.body
    assert [ast.unparse(s) for s in body] == [f"raise NotImplementedError({exercise.id!r})"]
    source = ast.get_source_segment((EXERCISES / f"{module}.py").read_text(encoding="utf-8"), node)
    assert f"# TODO: implement {exercise.id} (hint: `dlcourse hint {exercise.id}`)." in source
    func = getattr(importlib.import_module(f"exercises.{module}"), exercise.name)
    args = [None] * sum(1 for p in inspect.signature(func).parameters.values() if p.default is inspect.Parameter.empty)
    with pytest.raises(NotImplementedError, match=exercise.id):
        func(*args)
