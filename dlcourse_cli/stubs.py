"""Put one exercise's stub back into the student's file, and take it back out.

`reset` replaces just that function (found with `ast`, decorators included, the last
top-level definition of that name, as Python would use) by its pristine stub; the rest of
the file is left byte for byte.

Pristine stubs come from the package's own copy, never from the files the student edits
(`pristine_source`). With a wheel or the student release, that is the installed
`exercises` package. With `pip install -e .` the installed package IS the checkout, which
a student may have edited; a stub is recognised by its shape (a docstring, then only
`raise NotImplementedError`), and an edited one is taken from the checkout's git history
instead: the newest committed version in which it still has that shape. The
student's version goes to `.dlcourse/backups/<time>-<exercise>/` first (the function
in `backup.json`, the whole file beside it). `undo` puts the latest backup's function
back and marks that backup as used (`<name>.undone`), keeping in it whatever it
replaced, so nothing is ever lost.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import time
from dataclasses import dataclass
from pathlib import Path

from dlcourse_cli.errors import UsageError
from grader.messages import text

UNDONE = ".undone"


@dataclass(frozen=True)
class Backup:
    """One reset: what it replaced, and where the copy lives."""

    folder: Path
    exercise: str
    module: str
    function: str
    source: str
    """The student's function as it was before the reset."""


def backups_folder(exercises_path: Path) -> Path:
    return Path(exercises_path).resolve().parent / ".dlcourse" / "backups"


def stub_folder() -> Path:
    """The installed stubs (the `exercises` package), found without importing torch."""
    spec = importlib.util.find_spec("exercises")
    return Path(next(iter(spec.submodule_search_locations)))


def is_stub(node: ast.AST) -> bool:
    """A function whose body is a docstring (optional), then only `raise NotImplementedError`."""
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        body = body[1:]
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    exc = body[0].exc.func if isinstance(body[0].exc, ast.Call) else body[0].exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def _pristine(source: str, name: str | None) -> bool:
    """Whether `source` holds the untouched stub of `name` (None: of every function in it)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    functions = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and (name is None or n.name == name)]
    return (name is None or bool(functions)) and all(is_stub(n) for n in functions)


def _git_versions(file: Path):
    """The committed versions of `file`, newest first (nothing outside a git work tree)."""
    import subprocess

    def git(folder: Path, *args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else None

    top = git(file.parent, "rev-parse", "--show-toplevel")
    if not top:
        return
    root = Path(top.strip()).resolve()
    relative = file.resolve().relative_to(root).as_posix()
    for commit in (git(root, "log", "--format=%H", "--", relative) or "").split():
        content = git(root, "show", f"{commit}:{relative}")
        if content is not None:
            yield content


def pristine_source(module: str, function: str | None = None) -> str:
    """The pristine text of `exercises/<module>.py` (every function still a stub, or just
    `function` when given): the installed copy when it is untouched, else the newest
    committed version that is. UsageError when there is none."""
    file = stub_folder() / f"{module}.py"
    if not file.is_file():
        raise UsageError(text("selfstudy.reset_no_stub", exercise=f"{module}.{function or '*'}"))
    installed = _read(file)
    if _pristine(installed, function):
        return installed
    for version in _git_versions(file):
        if _pristine(version, function):
            return version
    raise UsageError(text("selfstudy.stub_edited", file=file))


def write_pristine(module: str, dest: Path) -> None:
    """Write the pristine `exercises/<module>.py` to `dest` (what `dlcourse init` copies)."""
    _write(dest, pristine_source(module))


def function_span(source: str, name: str, file: Path | None = None) -> tuple[int, int] | None:
    """First and last line (1-based, inclusive, decorators included) of the last top-level
    `def name` in `source`, or None."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise UsageError(text("selfstudy.reset_syntax_error", file=file or "?", line=exc.lineno or "?", detail=exc.msg)) from None
    span = None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            span = (min([node.lineno] + [d.lineno for d in node.decorator_list]), node.end_lineno)
    return span


def _lines(source: str) -> list[str]:
    return source.splitlines(keepends=True)


def _function_source(source: str, name: str, file: Path | None = None) -> str | None:
    span = function_span(source, name, file)
    return None if span is None else "".join(_lines(source)[span[0] - 1 : span[1]])


def replace_function(source: str, name: str, new: str, file: Path | None = None) -> str:
    """`source` with the function `name` replaced by `new` (appended when it is missing)."""
    if not new.endswith("\n"):
        new += "\n"
    span = function_span(source, name, file)
    lines = _lines(source)
    if span is None:
        sep = "" if not lines or lines[-1].endswith("\n") else "\n"
        return source + sep + "\n\n" + new
    return "".join(lines[: span[0] - 1]) + new + "".join(lines[span[1] :])


def _read(file: Path) -> str:
    with open(file, encoding="utf-8", newline="") as f:  # newline="" keeps the file's line endings
        return f.read()


def _write(file: Path, source: str) -> None:
    with open(file, "w", encoding="utf-8", newline="") as f:
        f.write(source)


def _locate(exercise_id: str, exercises_path: Path):
    """(module, function name, stub function source) of an exercise."""
    from grader.curriculum import chapter, find

    ex = find(exercise_id)
    for module in chapter(ex.chapter).modules:
        stub_file = stub_folder() / f"{module}.py"
        if stub_file.is_file() and function_span(_read(stub_file), ex.name, stub_file) is not None:
            stub = _function_source(pristine_source(module, ex.name), ex.name, stub_file)
            if stub is not None:
                return module, ex.name, stub
    raise UsageError(text("selfstudy.reset_no_stub", exercise=exercise_id))


def reset(exercises_path: Path, exercise_id: str) -> Backup | None:
    """Restore the stub of `exercise_id`; the backup made, or None when it was already the stub."""
    module, name, stub = _locate(exercise_id, exercises_path)
    file = Path(exercises_path) / f"{module}.py"
    if not file.is_file():
        raise UsageError(text("selfstudy.reset_no_file", file=file))
    source = _read(file)
    mine = _function_source(source, name, file)
    if mine is not None and mine.rstrip() == stub.rstrip():
        return None
    folder = backups_folder(exercises_path) / f"{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**9:09d}-{exercise_id}"
    folder.mkdir(parents=True)
    (folder / f"{module}.py").write_text(source, encoding="utf-8")
    record = {"exercise": exercise_id, "module": module, "function": name, "time": time.time(), "source": mine or ""}
    (folder / "backup.json").write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
    _write(file, replace_function(source, name, stub, file))
    return Backup(folder, exercise_id, module, name, mine or "")


def latest_backup(exercises_path: Path) -> Backup | None:
    folder = backups_folder(exercises_path)
    candidates = sorted(p for p in folder.glob("*") if p.is_dir() and not p.name.endswith(UNDONE)) if folder.is_dir() else []
    for path in reversed(candidates):
        try:
            data = json.loads((path / "backup.json").read_text(encoding="utf-8"))
            return Backup(path, data["exercise"], data["module"], data["function"], data["source"])
        except (OSError, ValueError, KeyError):
            continue  # not one of ours, or damaged: try the one before
    return None


def undo(exercises_path: Path) -> Backup:
    """Bring back the function saved by the latest reset; the backup used."""
    backup = latest_backup(exercises_path)
    if backup is None:
        raise UsageError(text("selfstudy.undo_nothing"))
    file = Path(exercises_path) / f"{backup.module}.py"
    source = _read(file) if file.is_file() else ""
    current = _function_source(source, backup.function, file) if source else None
    if current is not None:
        (backup.folder / "replaced_by_undo.py").write_text(current, encoding="utf-8")
    if backup.source:
        _write(file, replace_function(source, backup.function, backup.source, file))
    backup.folder.rename(backup.folder.with_name(backup.folder.name + UNDONE))
    return backup
