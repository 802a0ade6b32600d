"""Runs inside the worker: notices student code that reaches for the grader's machinery
during one call, and names what it reached for with a short flag (a slug).

    with Watch(walls, guard) as watch:
        value = func(*args)
    watch.flags   # ["grader_frames"] -> the exercise scores 0 and instructors see it

Flags (catalogue `integrity.<flag>`):

- `grader_frames`: a frame of the worker above the student's own (`sys._getframe(n)`,
  reading a grader frame's code after an `f_back` walk, `inspect.stack()`, a traceback's
  `tb_frame`), all frames (`sys._current_frames`), or a trace/profile function (it would
  be handed the grader's frames);
- `grader_modules`: importing the grader while the call runs (its modules are taken out of
  `sys.modules` for the call, so a module found there was imported by the student);
- `grader_state`: an attribute of a grader module, the audit hook's state or its class
  replaced; the guard's dispatch modes popped;
- `worker_pipes`: opening the worker's reply or request pipe (the grader also checks,
  after every reply, that nothing was written ahead of it: see `grader.student`).

This is a tripwire inside the interpreter, not a wall: what a student can do to the
machine is bounded by the operating system (`grader.isolation`).
"""

from __future__ import annotations

import inspect
import operator
import os
import stat
import sys
import traceback

FLAGS = ("grader_frames", "grader_modules", "grader_state", "worker_pipes")
_HOOK_FILES = frozenset({__file__, __file__.replace("integrity.py", "sandbox.py")})
"""The audit hook's own frames, skipped when looking for who raised an event."""
_FRAME_TOOLS = frozenset({inspect.__file__, traceback.__file__})
"""Standard-library helpers that walk frames for their caller (`inspect.stack()`)."""


def _grader_module(name: str) -> bool:
    return name[:6] == "grader" and (len(name) == 6 or name[6] == ".")


_SEEN: dict = {"names": frozenset(), "grader": ()}
"""The names in `sys.modules` while the last call ran (the grader's hidden), and the
grader's names then hidden: where the next call's scan starts."""


def _grader_names() -> list[str]:
    """The grader's modules in `sys.modules`: those hidden during the last call, if still
    there, and any grader name among the names added since. The set difference runs in C
    (some 1,100 names twice a call: a Python loop over them was a third of a call)."""
    added = sys.modules.keys() - _SEEN["names"]
    found = dict.fromkeys(n for n in added if _grader_module(n))
    found.update(dict.fromkeys(n for n in _SEEN["grader"] if n in sys.modules))
    return list(found)


class _NoGrader:
    """A meta-path finder, first in line during a call, that refuses to import the grader."""

    def __init__(self, watch: "Watch"):
        self.watch = watch

    def find_spec(self, name, path=None, target=None):
        if _grader_module(name):
            self.watch.flag("grader_modules")
            raise ImportError(f"No module named {name!r}")
        return None


def fingerprint(walls: object, modules: dict) -> tuple[tuple, tuple]:
    """What student code must not replace, as (names, objects): the attributes of
    `modules` (the grader's, and the worker's own, run as `__main__`), the audit hook's
    state and its class. Compare two with `unchanged`: objects by identity, never through
    `id()`, since every `id()` is an audit event the hook sees (a thousand per call).
    Built with list.extend over each namespace (C loops: twice a call, some 650 names)."""
    names: list = []
    objects: list = []

    def add(label: str, owner: object, attributes: dict, skip: str) -> None:
        if skip in attributes:
            attributes = dict(attributes)
            del attributes[skip]
        names.append(label)
        names.extend(attributes)
        objects.append(owner)
        objects.extend(attributes.values())

    # a warning raised in a module adds its `__warningregistry__`: not a replacement
    for n, m in sorted(modules.items()):
        add(n, m, vars(m), "__warningregistry__")
    if walls is not None:
        add("walls", type(walls), vars(walls), "watch")
        add("Walls", None, dict(vars(type(walls))), "")
    return tuple(names), tuple(objects)


def unchanged(before: tuple[tuple, tuple], after: tuple[tuple, tuple]) -> bool:
    return before[0] == after[0] and all(map(operator.is_, before[1], after[1]))


class Watch:
    """Around one call of student code: hides the grader's modules, watches audit events
    (through `walls.watch`, see `grader.sandbox`) and compares fingerprints."""

    def __init__(self, walls: object = None, guard: object = None):
        self.walls = walls
        self.guard = guard
        self.flags: list[str] = []
        self._busy = False

    def flag(self, slug: str) -> None:
        if slug not in self.flags:
            self.flags.append(slug)

    def __enter__(self) -> "Watch":
        frame, above = sys._getframe(1), set()
        while frame is not None:
            above.add(id(frame))
            frame = frame.f_back
        self.above = frozenset(above)
        self.pipes = _worker_pipes()
        self.hidden = {n: sys.modules[n] for n in _grader_names()}
        for n in self.hidden:
            del sys.modules[n]
        self.names = frozenset(sys.modules)
        self.finder = _NoGrader(self)
        sys.meta_path.insert(0, self.finder)
        if self.walls is not None:
            self.walls.watch = self
        self.watched = dict(self.hidden)
        if "__main__" in sys.modules:
            self.watched["__main__"] = sys.modules["__main__"]
        self.before = fingerprint(self.walls, self.watched)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.walls is not None:
            if getattr(self.walls, "watch", None) is not self:
                self.flag("grader_state")
            self.walls.watch = None
        if self.finder in sys.meta_path:
            sys.meta_path.remove(self.finder)
        else:
            self.flag("grader_state")
        # every grader module was hidden: one there now was put there during the call
        for n in sys.modules.keys() - self.names:
            if _grader_module(n):
                if sys.modules[n] is not self.hidden.get(n):
                    self.flag("grader_modules")
                del sys.modules[n]
        sys.modules.update(self.hidden)
        _SEEN["names"], _SEEN["grader"] = self.names, tuple(self.hidden)
        if not unchanged(self.before, fingerprint(self.walls, self.watched)):
            self.flag("grader_state")
        if self.guard is not None and getattr(self.guard, "tampered", False):
            self.flag("grader_state")

    # --- audit events, called by the audit hook -------------------------------------------

    def event(self, event: str, args: tuple) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            self._event(event, args)
        finally:
            self._busy = False

    def _event(self, event: str, args: tuple) -> None:
        if event == "sys._getframe":
            if args and id(args[0]) in self.above and self._by_student():
                self.flag("grader_frames")
        elif event == "object.__getattr__" and len(args) >= 2:
            obj, name = args[0], args[1]
            if name in ("f_code", "f_back", "f_locals", "f_globals") and id(obj) in self.above and self._by_student():
                self.flag("grader_frames")
            elif name == "tb_frame" and id(getattr(obj, "tb_frame", None)) in self.above and self._by_student():
                self.flag("grader_frames")
        elif event in ("sys._current_frames", "sys.settrace", "sys.setprofile", "sys._getframemodulename"):
            if self._by_student():
                self.flag("grader_frames")
        elif event == "open" and args and isinstance(args[0], int) and args[0] in self.pipes:
            self.flag("worker_pipes")

    def _by_student(self) -> bool:
        """Whether the frame access comes from student code: its own line, or a stdlib
        frame-walking helper (`inspect.stack()`, `traceback.extract_stack()`) it called.
        Libraries walk frames for their own reasons (`typing` at class creation, torch's
        operator registration on a lazy import): those are not the student reaching out."""
        root = getattr(self.walls, "submission", None)
        if not root:
            return True
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename in _HOOK_FILES:
            frame = frame.f_back
        while frame is not None and frame.f_code.co_filename in _FRAME_TOOLS:
            frame = frame.f_back
        if frame is None:
            return False
        filename = os.path.realpath(frame.f_code.co_filename)
        return filename == root or filename.startswith(root + os.sep)


WATCHED = frozenset(
    ("sys._getframe", "object.__getattr__", "sys._current_frames", "sys.settrace", "sys.setprofile", "sys._getframemodulename", "open")
)


_PIPES: list[frozenset[int]] = []


def _worker_pipes() -> frozenset[int]:
    """The worker's pipe descriptors: every FIFO open past stdio when the first call
    starts (253 `fstat`s, so once per worker, not once per call)."""
    if not _PIPES:
        out = []
        for fd in range(3, 256):
            try:
                if stat.S_ISFIFO(os.fstat(fd).st_mode):
                    out.append(fd)
            except OSError:
                continue
        _PIPES.append(frozenset(out))
    return _PIPES[0]
