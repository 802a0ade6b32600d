"""The worker's walls: a Python audit hook (PEP 578), installed before student code is
imported and impossible to remove, that refuses what an exercise never needs:

- reading the grader's own files, the references or the checks (paths under those
  packages), or another process's /proc entries;
- writing, deleting or renaming anything outside the worker's scratch directory;
- sockets; starting processes (subprocess, os.system, fork, exec, spawn); signalling
  other processes;
- ctypes (loading a native library other than torch's own, looking up or calling C);
- walking the interpreter's objects (gc.get_objects / referrers / referents);
- adding another audit hook.

A refusal raises `Refused` inside student code and is also recorded, so catching the
exception does not help: the worker reports the first refusal of each call by name.
The hook cannot stop code that never passes through an audited API (a C extension the
student compiled would; ctypes, the way to reach one, is refused). What remains is why a
course should still run `grade` in a disposable container per submission.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from grader.integrity import WATCHED

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

# audit event -> what was refused (`refused.<slug>` in the catalogue)
ALWAYS_REFUSED = {
    "socket.__new__": "socket",
    "socket.connect": "network",
    "socket.bind": "socket",
    "subprocess.Popen": "process",
    "os.system": "process",
    "os.fork": "fork",
    "os.forkpty": "fork",
    "os.exec": "program",
    "os.posix_spawn": "process",
    "os.spawn": "process",
    "os.startfile": "program",
    "pty.spawn": "process",
    "ctypes.dlsym": "ctypes_call",
    "ctypes.call_function": "ctypes_call",
    "ctypes.cdata": "ctypes_memory",
    "ctypes.string_at": "ctypes_memory",
    "ctypes.wstring_at": "ctypes_memory",
    "ctypes.addressof": "ctypes_memory",
    "gc.get_objects": "gc",
    "gc.get_referrers": "gc",
    "gc.get_referents": "gc",
    "sys.addaudithook": "audit_hook",
    "sys.settrace": "tracing",
    "sys.setprofile": "tracing",
    "sys.remote_exec": "remote_exec",
}
# audit events whose first argument is a path that is being changed
PATH_CHANGES = {
    "os.remove", "os.rmdir", "os.rename", "os.mkdir", "os.chmod", "os.chown", "os.truncate",
    "os.utime", "os.symlink", "os.link", "shutil.rmtree", "shutil.move", "shutil.copyfile",
    "shutil.copytree", "os.chflags", "os.lchflags", "os.setxattr", "os.removexattr",
}


class Refused(PermissionError):
    """Raised in student code at a refused operation."""


class Walls:
    """The audit hook's state: what is protected, and the refusals seen so far."""

    def __init__(self, scratch: Path, protected: list[Path], native_ok: list[Path], submission: Path | None = None):
        self.scratch = os.path.realpath(scratch)
        # the student's own folder is always readable, even when it is the references'
        # folder (the project's own tests grade `solutions/` as a submission)
        self.submission = os.path.realpath(submission) if submission else None
        self.protected = [os.path.realpath(p) for p in protected]
        self.native_ok = [os.path.realpath(p) for p in native_ok]
        self.pid = str(os.getpid())
        self.refusals: list[tuple[str, str]] = []
        self.active = False
        self.watch = None
        """A `grader.integrity.Watch` while student code runs, told the events it watches."""

    def protect(self, *packages: str) -> None:
        """Also protect every folder `packages` could be imported from now: each import
        finder is asked (none imports anything), not `sys.modules`. Once the worker's
        `sys.path` has changed, another copy may be found (an editable install, a wheel
        beside a checkout on PYTHONPATH), and its files are as secret as the first's."""
        for name in packages:
            for finder in list(sys.meta_path):
                try:
                    spec = finder.find_spec(name, None)
                except Exception:  # noqa: BLE001 - a finder that cannot answer protects nothing
                    continue
                if spec is not None and spec.origin:
                    folder = os.path.realpath(Path(spec.origin).parent)
                    if folder not in self.protected:
                        self.protected.append(folder)

    def take(self) -> tuple[str, str] | None:
        """The first refusal since the last call as (slug, detail), clearing the record."""
        first = self.refusals[0] if self.refusals else None
        self.refusals = []
        return first

    def refuse(self, what: str, detail: object = "") -> None:
        self.refusals.append((what, _show(detail) if detail != "" else ""))
        raise Refused(f"dlcourse refuses this in exercise code: {what} {self.refusals[-1][1]}".strip())

    # --- the hook -------------------------------------------------------------------------

    def __call__(self, event: str, args: tuple) -> None:
        watch = self.watch
        if watch is not None and event in WATCHED:
            watch.event(event, args)
        if not self.active:
            return
        what = ALWAYS_REFUSED.get(event)
        if what is not None:
            self.refuse(what)
        if event == "open":
            self._open(args)
        elif event in PATH_CHANGES:
            for arg in args[:2]:
                if isinstance(arg, (str, bytes, os.PathLike)) and not self._inside_scratch(arg):
                    self.refuse("change_outside", arg)
        elif event in ("os.kill", "os.killpg"):
            if args and str(args[0]) != self.pid:
                self.refuse("signal")
        elif event == "ctypes.dlopen":
            name = args[0] if args else None
            if not name or not any(str(name).startswith(p) for p in self.native_ok):
                self.refuse("native_library", name)

    def _open(self, args: tuple) -> None:
        path, mode, flags = (list(args) + [None, None, None])[:3]
        if not isinstance(path, (str, bytes, os.PathLike)):
            return  # an already open file descriptor
        real = os.path.realpath(os.fsdecode(path))
        own = self.submission and (real.startswith(self.submission + os.sep) or real == self.submission)
        for protected in [] if own else self.protected:
            if real == protected or real.startswith(protected + os.sep):
                self.refuse("grader_files", path)
        if real.startswith("/proc/") and not _own_proc(real, self.pid):
            self.refuse("other_process", path)
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and mode is None and flags & WRITE_FLAGS
        )
        if writing and not self._inside_scratch(path):
            self.refuse("write_outside", path)

    def _inside_scratch(self, path: object) -> bool:
        real = os.path.realpath(os.fsdecode(path))
        return real == self.scratch or real.startswith(self.scratch + os.sep) or real == os.devnull


def _own_proc(real: str, pid: str) -> bool:
    part = real.split("/")[2] if real.count("/") >= 2 else ""
    return part in ("self", "thread-self", pid) or not part.isdigit()


def _show(path: object) -> str:
    text = os.fsdecode(path) if isinstance(path, (str, bytes, os.PathLike)) else repr(path)
    return text if len(text) < 120 else "..." + text[-117:]


def install(scratch: Path, submission: Path) -> Walls:
    """Install the hook for this process and return its state (inactive until armed).

    Protected: the `grader` package and the `solutions` package, wherever installed,
    found without importing the references. Native libraries may be loaded only from
    torch's own folder (torch loads some lazily).
    """
    import grader
    import torch

    torch_dir = Path(torch.__file__).resolve().parent
    native = [torch_dir, torch_dir.parent / "nvidia", Path(sys.base_prefix).resolve()]  # CUDA libraries load lazily
    walls = Walls(scratch, [Path(grader.__file__).resolve().parent], native, submission)
    walls.protect("solutions")
    sys.addaudithook(walls)
    return walls
