"""The `ref` fixture's two forms: the references themselves, or their recorded outputs.

`Reference` calls `solutions/<module>.py` (and `solutions/mistakes/<module>.py`) in the
grader process; with a `replay.Recorder` (building a student release) it records every
call's inputs and output. `ReplayReference` is the release's form: it ships no code and
looks recorded outputs up (`grader.replay`).

Both also answer for the exercise's known mistakes (`mistake_outputs`): the outputs of
every mistake registered in `solutions/mistakes/` on the inputs of one student call,
computed (and recorded) like reference outputs, or replayed. `serving` makes the
fixture's reference the current one, for `grader.known` to use on a failed comparison.
"""

from __future__ import annotations

import importlib
import importlib.util
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch

from grader import probes, replay
from grader.curriculum import chapter as chapter_of
from grader.curriculum import find
from grader.tree import map_tensors


def _mistakes_function(func: str) -> str:
    """The name recorded outputs of `func`'s known mistakes are stored under: the table
    {key: output} of one call, so a release needs no list of the keys."""
    return f"mistakes:{func}"


class Reference:
    """The reference functions of one exercise's chapter, called in the grader process.

    With a `recorder` (building a student release), every call's inputs and output are
    recorded, see `grader.replay`."""

    def __init__(self, exercise_id: str, recorder: replay.Recorder | None = None):
        self._chapter = chapter_of(find(exercise_id).chapter)
        self._modules = [importlib.import_module(f"solutions.{m}") for m in self._chapter.modules]
        # the reference side of known mistakes and check-side truths (`solutions/mistakes/`):
        # reached through `ref` like the references, so a release ships their outputs only
        for m in self._chapter.modules:
            if importlib.util.find_spec(f"solutions.mistakes.{m}") is not None:
                self._modules.append(importlib.import_module(f"solutions.mistakes.{m}"))
        self._recorder = recorder

    @property
    def recording(self) -> bool:
        return self._recorder is not None

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        for module in self._modules:
            func = getattr(module, name, None)
            # a registered mistake (`solutions.mistakes.Mistake`) is not callable: skipped
            if callable(func):
                return lambda *args, **kwargs: self._call(name, func, args, kwargs)
        raise AttributeError(name)

    def _call(self, name, func, args, kwargs):
        out = func(*probes.resolve(args), **probes.resolve(kwargs))
        if self._recorder is not None:
            self._recorder.record(self._chapter.id, name, args, kwargs, out)
        return out

    def mistake_outputs(self, func: str, args: tuple, kwargs: dict) -> dict[str, object]:
        """Catalogue key (`mistake.ch4.linear_backward.db_mean`) -> what that registered
        mistake of `func` returns on these inputs (fresh copies: mistake code may modify
        them). A mistake that raises gives nothing. Recorded when recording."""
        from solutions.mistakes import registered

        table = registered(f"{self._chapter.id}.{func}")
        if not table:
            return {}
        out = {}
        for key, code in table.items():
            fresh_args, fresh_kwargs = map_tensors((args, kwargs), torch.Tensor.clone)
            try:
                with warnings.catch_warnings():  # a mistake's own warnings are not the check's
                    warnings.simplefilter("ignore")
                    out[f"mistake.{key}"] = code(*probes.resolve(fresh_args), **probes.resolve(fresh_kwargs))
            except Exception:  # noqa: BLE001 - a mistake that cannot run on these inputs names nothing
                continue
        if self._recorder is not None:
            try:  # a mistake whose output the wire does not carry is not known in a release
                carried = {k: v for k, v in out.items() if replay.carried(v)}
                self._recorder.record(self._chapter.id, _mistakes_function(func), args, kwargs, carried)
            except replay.ReplayError:
                pass  # inputs the wire does not carry: the release knows no mistake there
        return out


class ReplayReference:
    """The `ref` fixture of a student release: outputs recorded at release time, looked
    up by a hash of the inputs (`grader.replay`); no reference code is shipped."""

    recording = False

    def __init__(self, exercise_id: str):
        self._chapter = find(exercise_id).chapter

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: replay.lookup(self._chapter, name, args, kwargs)

    def mistake_outputs(self, func: str, args: tuple, kwargs: dict) -> dict[str, object]:
        """The known mistakes' outputs recorded for these inputs; none when not recorded."""
        found = replay.recorded(self._chapter, _mistakes_function(func), args, kwargs)
        return found if isinstance(found, dict) else {}


_current: ContextVar[Reference | ReplayReference | None] = ContextVar("dlcourse_reference", default=None)


def for_exercise(exercise_id: str, recorder: replay.Recorder | None = None) -> Reference | ReplayReference:
    """The reference a check of `exercise_id` uses: recorded outputs in a student
    release (unless recording one), the references otherwise."""
    if recorder is None and replay.active():
        return ReplayReference(exercise_id)
    return Reference(exercise_id, recorder)


@contextmanager
def serving(exercise_id: str, recorder: replay.Recorder | None = None) -> Iterator[Reference | ReplayReference]:
    """`for_exercise(...)`, made the current reference while a check runs."""
    reference = for_exercise(exercise_id, recorder)
    token = _current.set(reference)
    try:
        yield reference
    finally:
        _current.reset(token)


def recording() -> bool:
    """True while the running check records a student release."""
    reference = _current.get()
    return reference is not None and reference.recording


def current(exercise_id: str) -> Reference | ReplayReference:
    """The running check's reference, or a fresh one for `exercise_id` outside a check."""
    reference = _current.get()
    return reference if reference is not None else for_exercise(exercise_id)
