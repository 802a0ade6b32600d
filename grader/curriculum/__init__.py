"""The registry of chapters and exercises, read from one small data module per chapter
(`grader/curriculum/ch4.py` defines `CHAPTER`). No torch is imported here."""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from functools import lru_cache

from grader.curriculum.model import Chapter, Exercise

__all__ = ["Chapter", "Exercise", "chapters", "exercises", "find", "resolve_targets", "UnknownTarget"]


class UnknownTarget(ValueError):
    """A target that names no chapter or exercise; `suggestions` holds close matches."""

    def __init__(self, target: str, suggestions: list[str]):
        super().__init__(target)
        self.target = target
        self.suggestions = suggestions


@lru_cache(maxsize=1)
def chapters() -> tuple[Chapter, ...]:
    """Every chapter defined under `grader/curriculum/`, in chapter order."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("ch") and info.name[2:].isdigit():
            found.append(importlib.import_module(f"{__name__}.{info.name}").CHAPTER)
    return tuple(sorted(found, key=lambda c: c.number))


def exercises() -> tuple[Exercise, ...]:
    return tuple(e for c in chapters() for e in c.exercises)


def chapter(chapter_id: str) -> Chapter:
    for c in chapters():
        if c.id == chapter_id:
            return c
    raise KeyError(chapter_id)


def find(exercise_id: str) -> Exercise:
    for e in exercises():
        if e.id == exercise_id:
            return e
    raise KeyError(exercise_id)


def resolve_targets(targets: list[str] | tuple[str, ...]) -> list[Exercise]:
    """Expand `all`, chapter ids and exercise ids into exercises, in curriculum order.

    >>> [e.id for e in resolve_targets(["ch4.sgd_step"])]
    ['ch4.sgd_step']
    """
    known = {c.id for c in chapters()} | {e.id for e in exercises()}
    wanted: set[str] = set()
    for raw in targets:
        target = raw.strip().lower()
        if target == "all":
            wanted |= {e.id for e in exercises()}
        elif target in {c.id for c in chapters()}:
            wanted |= {e.id for e in chapter(target).exercises}
        elif target in known:
            wanted.add(target)
        else:
            # also accept a bare function name when it is unambiguous
            by_name = [e.id for e in exercises() if e.name == target]
            if len(by_name) == 1:
                wanted.add(by_name[0])
                continue
            ids_by_name = {e.name: e.id for e in exercises()}
            close = difflib.get_close_matches(target, sorted(known | set(ids_by_name)), n=5, cutoff=0.6)
            raise UnknownTarget(raw, list(dict.fromkeys(ids_by_name.get(c, c) for c in close))[:3])
    return [e for e in exercises() if e.id in wanted]
