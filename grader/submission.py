"""Where a submission keeps its exercise modules, and a clean copy of them to grade.

Students hand in their modules in every layout: `exercises/` itself, a workspace holding
it, `hw/exercises/`, a folder named `exercises (1)`, a workspace zipped one level up, or
the flat files an LMS downloads (`doejohn_1234_ch1_ml_basics.py`). `prepare` finds each
chapter module (`grader.curriculum`) by its file name wherever it sits, and copies the
ones found into a fresh folder as `<module>.py`: that folder is what gets graded, read-only
to the sandbox, with nothing else of the submission in it.

    prepared = prepare(Path("alice"), Path("/tmp/x/alice"))
    prepared.status          # Status.OK, NO_FILES, AMBIGUOUS or UNSAFE
    prepared.found           # {"ch4_backprop": "hw/exercises (1)/ch4_backprop.py"}

A file matches module `m` when it is named `m.py`, or ends with `_m.py` or `-m.py` (an
LMS prefix). A notebook (`m.ipynb`, `..._m.ipynb`) is a candidate only where no `.py`
matches, converted by `grader.notebook.module_source`. Two candidates for one module make
the submission ambiguous (nothing is graded; the detail names them). A symbolic link that
leads outside the submission makes it unsafe; links are never followed, and hidden
folders, `__MACOSX` and `__pycache__` are not searched.

`exercises_folder` keeps `dlcourse grade`'s simpler rule: the folder itself, or its
`exercises/` when it holds no chapter module.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from grader.gradebook import Status

MAX_MODULE_BYTES = 5 << 20
"""A chapter module larger than this is not copied (a student's module is a few kB)."""
MAX_ENTRIES = 20_000
"""Directory entries searched in one submission before giving up on the rest."""
SKIPPED_DIRS = {"__MACOSX", "__pycache__", "node_modules", "site-packages"}


def exercises_folder(path: Path) -> Path:
    """`path`, or `path/exercises` when `path` holds no `ch*_*.py` and has that folder."""
    path = Path(path)
    if not any(path.glob("ch*_*.py")) and (path / "exercises").is_dir():
        return path / "exercises"
    return path


def module_names() -> list[str]:
    from grader.curriculum import chapters

    return [m for c in chapters() for m in c.modules]


@dataclass
class Prepared:
    """What `prepare` found in one submission, and the folder it built."""

    folder: Path
    """The clean copy: one `<module>.py` per module found."""
    found: dict[str, str] = field(default_factory=dict)
    """Module -> the file it came from, relative to the submission."""
    ambiguous: dict[str, list[str]] = field(default_factory=dict)
    """Module -> its candidate files, when more than one."""
    unsafe: list[str] = field(default_factory=list)
    """Symbolic links leading outside the submission."""
    notes: list[str] = field(default_factory=list)
    """Files that matched but could not be used (too large, an unreadable notebook)."""

    @property
    def status(self) -> Status:
        if self.unsafe:
            return Status.UNSAFE
        if self.ambiguous:
            return Status.AMBIGUOUS
        return Status.OK if self.found else Status.NO_FILES

    def detail(self) -> str:
        """One line for the gradebook: what was wrong, then where the modules came from."""
        from grader.messages import text

        parts = []
        if self.unsafe:
            parts.append(text("batch.unsafe_link", links=", ".join(self.unsafe[:5])))
        for module, candidates in self.ambiguous.items():
            parts.append(text("batch.ambiguous", module=module, candidates=", ".join(candidates[:5])))
        parts += self.notes
        if self.status is Status.NO_FILES and not parts:
            parts.append(text("batch.no_files"))
        moved = {m: p for m, p in self.found.items() if p not in (f"{m}.py", f"exercises/{m}.py")}
        if moved and not self.unsafe and not self.ambiguous:
            parts.append(text("batch.found_at", files=", ".join(f"{p}" for p in moved.values())))
        return "; ".join(parts)


def _match(filename: str, modules: list[str], suffix: str) -> str | None:
    lower = filename.lower()
    for m in modules:
        end = m + suffix
        if lower == end or lower.endswith("_" + end) or lower.endswith("-" + end):
            return m
    return None


def _within(root: Path, target: Path) -> bool:
    return target == root or root in target.parents


def prepare(path: Path, dest: Path) -> Prepared:
    """Find the chapter modules in the submission at `path` (a folder) and copy them into
    `dest` (created; it must not exist) as `<module>.py`."""
    root = Path(path).resolve()
    dest = Path(dest)
    dest.mkdir(parents=True)
    prepared = Prepared(dest)
    modules = module_names()
    py: dict[str, list[Path]] = {}
    nb: dict[str, list[Path]] = {}
    seen = 0
    for top, dirs, files in os.walk(root, followlinks=False):
        top_path = Path(top)
        kept = []
        for d in sorted(dirs):
            p = top_path / d
            if p.is_symlink():
                _check_link(root, p, prepared)
            elif not d.startswith(".") and d not in SKIPPED_DIRS:
                kept.append(d)
        dirs[:] = kept
        for f in sorted(files):
            seen += 1
            p = top_path / f
            if p.is_symlink():
                _check_link(root, p, prepared)
                continue
            if f.startswith("."):
                continue
            if (m := _match(f, modules, ".py")) is not None:
                py.setdefault(m, []).append(p)
            elif (m := _match(f, modules, ".ipynb")) is not None:
                nb.setdefault(m, []).append(p)
        if seen > MAX_ENTRIES:
            break
    if prepared.unsafe:
        return prepared
    for m in modules:
        candidates = py.get(m) or nb.get(m) or []
        if len(candidates) > 1:
            prepared.ambiguous[m] = [str(c.relative_to(root)) for c in candidates]
        elif candidates:
            _copy(root, candidates[0], m, prepared)
    return prepared


def _check_link(root: Path, link: Path, prepared: Prepared) -> None:
    try:
        target = (link.parent / os.readlink(link)).resolve()
    except (OSError, RuntimeError):  # a loop, an unreadable link
        target = None
    if target is None or not _within(root, target):
        prepared.unsafe.append(str(link.relative_to(root)))


def _read(path: Path) -> bytes | None:
    """The file's bytes, never through a link, None when larger than MAX_MODULE_BYTES."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise OSError("not a regular file")
        data = f.read(MAX_MODULE_BYTES + 1)
    return None if len(data) > MAX_MODULE_BYTES else data


def _copy(root: Path, source: Path, module: str, prepared: Prepared) -> None:
    from grader.messages import text

    relative = str(source.relative_to(root))
    try:
        if source.suffix.lower() == ".ipynb":
            code = _notebook_source(source)
            if code is None:
                prepared.notes.append(text("batch.notebook_unsupported", file=relative))
                return
            data = code.encode("utf-8")
        else:
            data = _read(source)
            if data is None:
                prepared.notes.append(text("batch.too_large", file=relative, limit=MAX_MODULE_BYTES))
                return
    except (OSError, ValueError) as exc:  # NotebookError is a ValueError
        prepared.notes.append(text("batch.unreadable", file=relative, detail=str(exc)[:200]))
        return
    (prepared.folder / f"{module}.py").write_bytes(data)
    prepared.found[module] = relative


def _notebook_source(path: Path) -> str | None:
    """The notebook as module source; None when this grader cannot convert notebooks."""
    try:
        from grader.notebook import module_source
    except ImportError:
        return None
    return module_source(path)
