"""Synthetic submissions for the similarity tests and benchmark: the reference modules,
disguised the way a student hides a copy.

    disguise(source, random.Random(0))   # local names renamed, functions reordered,
                                         # comments and dead statements sprinkled in

The disguise keeps behaviour (renaming is consistent within each function; the inserted
statements assign unused names), so a disguised module is still a correct submission.
"""

from __future__ import annotations

import ast
import builtins
import random
from pathlib import Path

from tests.submissions import SOLUTIONS

WORDS = ("val", "tmp", "acc", "buf", "res", "out", "arr", "cur", "nxt", "aux", "q", "z")


class _Rename(ast.NodeTransformer):
    """Rename a function's parameters and local names, consistently (not its globals)."""

    def __init__(self, mapping: dict[str, str]):
        self.mapping = mapping

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.mapping.get(node.id, node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self.mapping.get(node.arg, node.arg)
        return node


def _locals(fn: ast.FunctionDef, module_names: set[str]) -> list[str]:
    names = {a.arg for a in fn.args.args + fn.args.kwonlyargs + fn.args.posonlyargs}
    names |= {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    keep = module_names | set(dir(builtins))
    return sorted(n for n in names if n not in keep)


def disguise_function(fn: ast.FunctionDef, rng: random.Random, module_names: set[str], edits: int = 2) -> ast.FunctionDef:
    """`fn` with its locals renamed and up to `edits` unused assignments inserted.
    Keyword parameters keep their names (callers may pass them by name)."""
    with_defaults = fn.args.args[len(fn.args.args) - len(fn.args.defaults):] if fn.args.defaults else []
    keyword = {a.arg for a in with_defaults} | {a.arg for a in fn.args.kwonlyargs}
    mapping = {n: f"{rng.choice(WORDS)}_{i}" for i, n in enumerate(_locals(fn, module_names)) if n not in keyword}
    fn = _Rename(mapping).visit(fn)
    body_start = 1 if fn.body and isinstance(fn.body[0], ast.Expr) and isinstance(fn.body[0].value, ast.Constant) else 0
    for k in range(rng.randint(0, edits)):
        at = rng.randint(body_start, max(body_start, len(fn.body) - 1))
        fn.body.insert(at, ast.parse(f"_unused_{k} = {rng.randint(0, 99)}").body[0])
    return fn


def disguise(source: str, rng: random.Random, edits: int = 2) -> str:
    """A module's source with every function disguised and the functions reordered."""
    tree = ast.parse(source)
    module_names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    module_names |= {a.asname or a.name.split(".")[0] for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    module_names |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    head = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    defs = [disguise_function(n, rng, module_names, edits) if isinstance(n, ast.FunctionDef) else n
            for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    rng.shuffle(defs)
    tree.body = head + defs
    out = ast.unparse(ast.fix_missing_locations(tree))
    # a comment here and there, as students add
    lines = out.splitlines()
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(lines))
        if lines[at].startswith("def "):
            lines.insert(at, f"# {rng.choice(WORDS)} {rng.randint(0, 999)}")
    return "\n".join(lines) + "\n"


def make_submissions(dest: Path, count: int, modules: list[str], seed: int = 0) -> list[Path]:
    """`count` submission folders in `dest`, each a disguised copy of the references."""
    rng = random.Random(seed)
    folders = []
    for i in range(count):
        folder = dest / f"student{i:03d}"
        folder.mkdir(parents=True)
        for module in modules:
            source = (SOLUTIONS / f"{module}.py").read_text(encoding="utf-8")
            (folder / f"{module}.py").write_text(disguise(source, rng), encoding="utf-8")
        folders.append(folder)
    return folders
