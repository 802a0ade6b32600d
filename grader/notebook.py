"""A Jupyter notebook (`.ipynb`) read as a Python module, for grading: the functions,
classes and imports of its code cells, and nothing else.

    module_source(Path("alice_ch4_backprop.ipynb"))   # -> "import torch\\n\\ndef linear_forward(...): ..."
    chapter_module("alice_ch4_backprop.ipynb")       # -> "ch4_backprop"

Kept from the code cells, in cell order: every top-level `def` and `class` (decorators
included), every `import` / `from ... import`, and top-level assignments of literals
(`EPS = 1e-5`). Left out: every other top-level statement (training loops, plots,
prints), IPython magics and shell lines (`%pip`, `!ls`, `x = !ls`, `obj?`) and cells
written in another language (`%%bash`). A cell that does not parse even without its
magics is skipped and recorded in `Conversion.skipped`.

Pure: the notebook is read as JSON and parsed with `ast`; nothing in it is executed.
A file over `MAX_BYTES` is refused before it is decoded.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from grader import sanitize
from grader.messages import text

MAX_BYTES = 50 << 20
SUFFIX = ".ipynb"
# cell magics whose body is Python and runs as such (the others hold another language)
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})
_MAGIC_LINE = re.compile(r"^(\s*)(?:[%!]|[\w.\[\], ]+=\s*[%!])")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_HELP_LINE = re.compile(r"^(\s*)[\w.]*\?{1,2}\s*$|^(\s*)\?{1,2}[\w.]*\s*$")


class NotebookError(ValueError):
    """A file that is not a readable notebook; `key` and `params` name its catalogue message."""

    def __init__(self, key: str, **params: object):
        self.key = key
        self.params = params
        super().__init__(text(key, **params))


@dataclass(frozen=True)
class SkippedCell:
    """A code cell left out because it does not parse, even without its magics."""

    cell: int
    """1-based position among all the notebook's cells (as Jupyter shows them)."""
    line: int
    """Line of the syntax error within the cell."""
    detail: str
    """The parser's message, e.g. "invalid syntax"."""


@dataclass(frozen=True)
class Conversion:
    """The module built from one notebook."""

    source: str
    """Python source: the kept statements of every code cell, in order."""
    skipped: tuple[SkippedCell, ...] = field(default_factory=tuple)
    """Cells that did not parse."""


def module_source(path: Path) -> str:
    """Python source for a module built from the code cells of the notebook at `path`.
    Raises NotebookError for a file that is not a readable notebook."""
    return convert(path).source


def convert(path: Path) -> Conversion:
    """`module_source`, with the cells that were skipped."""
    return convert_cells(read_code_cells(path))


def read_code_cells(path: Path) -> list[tuple[int, str]]:
    """(1-based cell number, source) of every code cell of the notebook at `path`."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise NotebookError("notebook.unreadable", file=sanitize.name(path.name), detail=sanitize.name(exc.strerror or exc)) from None
    if len(raw) > MAX_BYTES:
        raise NotebookError("notebook.too_large", file=sanitize.name(path.name), limit=MAX_BYTES >> 20)
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise NotebookError("notebook.not_json", file=sanitize.name(path.name)) from None
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, list):
        raise NotebookError("notebook.not_notebook", file=sanitize.name(path.name))
    out = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise NotebookError("notebook.not_notebook", file=sanitize.name(path.name))
        out.append((number, source))
    return out


def convert_cells(cells: list[tuple[int, str]]) -> Conversion:
    """The module of some code cells, each given as (cell number, source)."""
    future: list[str] = []
    kept: list[str] = []
    skipped: list[SkippedCell] = []
    for number, source in cells:
        source = _python_of(source)
        if source is None:
            continue
        try:
            source, tree = _parse(source)
        except SyntaxError as exc:
            skipped.append(SkippedCell(number, exc.lineno or 0, sanitize.name(exc.msg)))
            continue
        except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
            skipped.append(SkippedCell(number, 0, sanitize.name(type(exc).__name__)))
            continue
        lines = python_lines(source)
        chunks = []
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                future.append(_segment(source, lines, node))
            elif _kept(node):
                chunks.append(_segment(source, lines, node))
        if chunks:
            kept.append(f"# cell {number}\n" + "\n".join(chunks))
    parts = list(dict.fromkeys(future)) + kept
    return Conversion("\n\n".join(p.rstrip("\n") for p in parts) + "\n" if parts else "", tuple(skipped))


def chapter_module(filename: str | Path) -> str | None:
    """The exercise module a notebook's file name stands for (`ch4_backprop.ipynb`,
    `alice_ch4_backprop.ipynb`; also Colab's `Copy of ...` and `... (1)`), or None."""
    from grader.curriculum import chapters

    stem = Path(filename).name
    if not stem.lower().endswith(SUFFIX):
        return None
    stem = stem[: -len(SUFFIX)].strip().lower()
    stem = re.sub(r"^copy of ", "", stem)
    stem = re.sub(r"\s*\(\d+\)$", "", stem).replace(" ", "_").replace("-", "_")
    for ch in chapters():
        for module in ch.modules:
            if stem == module or stem.endswith("_" + module):
                return module
    return None


def has_notebooks(path: Path) -> bool:
    """True for a notebook file, or a folder holding one (not looking into sub-folders)."""
    path = Path(path)
    if path.is_file():
        return path.name.lower().endswith(SUFFIX)
    return path.is_dir() and any(p.is_file() for p in path.glob("*" + SUFFIX))


@contextmanager
def module_folder(path: Path, warn: Callable[[str], None] | None = None) -> Iterator[Path]:
    """A folder of exercise modules for `path`: `path` itself when it holds no notebook;
    else a temporary folder with `<module>.py` converted from each notebook, and a
    folder's own `ch*_*.py` modules (which win over a notebook for the same module).
    `warn` receives a message for each skipped cell and, in a folder, each notebook
    whose name tells no chapter. Raises NotebookError (a lone notebook whose name tells
    no chapter, two notebooks for one module, an unreadable notebook)."""
    path = Path(path)
    if not has_notebooks(path):
        yield path
        return
    warn = warn or (lambda message: None)
    if path.is_file():
        notebooks, modules = [path], []
    else:
        modules = sorted(p for p in path.glob("ch*_*.py") if p.is_file())
        notebooks = []
        for nb in sorted(p for p in path.glob("*" + SUFFIX) if p.is_file()):
            module = chapter_module(nb.name)
            if module is None:
                warn(text("notebook.no_chapter", file=sanitize.name(nb.name)))
            elif not (path / f"{module}.py").is_file():  # a module file wins, as in `grader.submission`
                notebooks.append(nb)
    with tempfile.TemporaryDirectory(prefix="dlcourse-notebooks-") as tmp:
        done = materialize(notebooks, Path(tmp))
        for nb, conversion in done.items():
            for cell in conversion.skipped:
                warn(text("notebook.cell_skipped", file=sanitize.name(nb.name), cell=cell.cell, line=cell.line, detail=cell.detail))
        for module in modules:
            shutil.copyfile(module, Path(tmp) / module.name)
        yield Path(tmp)


def materialize(notebooks: list[Path], dest: Path) -> dict[Path, Conversion]:
    """Write `dest/<module>.py` for each notebook, named by `chapter_module`.
    Raises NotebookError when a name tells no chapter or two notebooks name the same one."""
    by_module: dict[str, Path] = {}
    for nb in notebooks:
        module = chapter_module(nb.name)
        if module is None:
            raise NotebookError("notebook.no_chapter", file=sanitize.name(nb.name))
        if module in by_module:
            raise NotebookError("notebook.two_for_one", first=sanitize.name(by_module[module].name), second=sanitize.name(nb.name), module=module)
        by_module[module] = nb
    dest.mkdir(parents=True, exist_ok=True)
    done = {}
    for module, nb in by_module.items():
        conversion = convert(nb)
        (dest / f"{module}.py").write_text(conversion.source, encoding="utf-8")
        done[nb] = conversion
    return done


def python_lines(source: str) -> list[str]:
    """`source` split into lines as Python numbers them: at \\n, \\r\\n and \\r only
    (`str.splitlines` also splits at form feeds and other separators, which would shift
    every later line)."""
    return _LINE.findall(source)


def _parse(source: str) -> tuple[str, ast.Module]:
    """(the source parsed, its tree): as it is, else with its magics stripped."""
    try:
        return source, ast.parse(source)
    except SyntaxError:
        stripped = _strip_magics(source)
        return stripped, ast.parse(stripped)


def _python_of(source: str) -> str | None:
    """The Python of a cell: None for a cell in another language (`%%bash`); the body of
    a Python cell magic (`%%time`)."""
    first, _, rest = source.lstrip().partition("\n")
    if first.startswith("%%"):
        name = first[2:].split(maxsplit=1)[0] if first[2:].strip() else ""
        return rest if name in PYTHON_CELL_MAGICS else None
    return source


def _strip_magics(source: str) -> str:
    """Line magics, shell lines and help requests replaced by `pass` at their indent, so
    that the blocks around them still parse."""
    out = []
    for line in python_lines(source):
        m = _MAGIC_LINE.match(line) or _HELP_LINE.match(line)
        if m:
            indent = next((g for g in m.groups() if g is not None), "")
            out.append(f"{indent}pass\n")
        else:
            out.append(line)
    return "".join(out)


def _kept(node: ast.stmt) -> bool:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
        return True
    if isinstance(node, ast.Assign) and all(_plain_target(t) for t in node.targets):
        return _literal(node.value)
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
        return _literal(node.value)
    return False


def _plain_target(target: ast.expr) -> bool:
    if isinstance(target, ast.Name):
        return True
    return isinstance(target, (ast.Tuple, ast.List)) and all(isinstance(e, ast.Name) for e in target.elts)


def _literal(value: ast.expr) -> bool:
    try:
        ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _segment(source: str, lines: list[str], node: ast.stmt) -> str:
    """The source of `node`: whole lines for a definition (decorators included), exact
    columns for a simple statement (`import torch; train()` keeps only the import)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        return "".join(lines[first - 1 : node.end_lineno]).rstrip() + "\n"
    return (ast.get_source_segment(source, node) or "").rstrip() + "\n"
