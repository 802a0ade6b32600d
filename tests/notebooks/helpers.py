"""Shared by the notebook tests: notebooks with the references pasted in."""

from __future__ import annotations

import ast

from tests.submissions import SOLUTIONS


def reference_functions(module: str) -> dict[str, str]:
    """Source of every top-level function and class of a reference module, by name."""
    source = (SOLUTIONS / f"{module}.py").read_text(encoding="utf-8")
    lines = source.splitlines(keepends=True)
    out = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            out[node.name] = "".join(lines[first - 1 : node.end_lineno]).rstrip()
    return out


def reference_preamble(module: str) -> str:
    """The reference module without its docstring and exercise functions: imports,
    constants and private helpers, in order."""
    source = (SOLUTIONS / f"{module}.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    keep = []
    for node in tree.body[1:]:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
            continue
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        keep.append("".join(lines[first - 1 : node.end_lineno]).rstrip())
    return "\n\n".join(keep)


def function_name(cell_source: str) -> str | None:
    """The name of the function a code cell defines, when it holds exactly one."""
    try:
        body = ast.parse(cell_source).body
    except SyntaxError:
        return None
    if len(body) == 1 and isinstance(body[0], ast.FunctionDef):
        return body[0].name
    return None


def paste_references(nb, module: str):
    """`nb` (a chapter notebook) with each stub cell replaced by the reference function,
    and the references' imports and helpers in the imports cell."""
    refs = reference_functions(module)
    preamble_done = False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        name = function_name(cell.source)
        if name in refs:
            cell.source = refs[name]
        elif not preamble_done and cell.source.startswith("from __future__"):
            cell.source = reference_preamble(module)
            preamble_done = True
    assert preamble_done, "the chapter notebook has no imports cell"
    return nb
