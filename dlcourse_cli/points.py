"""Where an exercise's points come from: its public checks (what `dlcourse check` can
award) and its hidden checks (added by the instructor's grading). One split, read by
`list`, `check`, `progress` and the report, so they all tell the same story.

    split()["ch4.linear_backward"]  # -> Split(public=3.0, hidden=1.0)

Read without importing torch or the checks: the `@exercise("id", points=N[, hidden=True])`
decorators are found in the check modules' text. The student release ships no hidden
checks, so there hidden = the curriculum's points − the public ones found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_DECORATOR = re.compile(r'@exercise\(\s*"([\w.]+)"\s*,\s*points\s*=\s*([0-9.]+)\s*(,\s*hidden\s*=\s*True\s*)?\)')


@dataclass(frozen=True)
class Split:
    public: float
    """Points of the public checks: the most `dlcourse check` can award."""
    hidden: float
    """Points only the instructor's grading (hidden checks) can award."""

    @property
    def total(self) -> float:
        return self.public + self.hidden


def _checks_folder() -> Path:
    import grader

    return Path(next(iter(grader.__path__))) / "checks"


@lru_cache(maxsize=1)
def split() -> dict[str, Split]:
    """Every exercise of the curriculum, keyed by id."""
    from grader.curriculum import exercises

    public: dict[str, float] = {}
    for file in sorted(_checks_folder().glob("ch*.py")):
        for exercise_id, points, hidden in _DECORATOR.findall(file.read_text(encoding="utf-8")):
            if not hidden:
                public[exercise_id] = public.get(exercise_id, 0.0) + float(points)
    out = {}
    for e in exercises():
        mine = public.get(e.id, float(e.points))  # no check module found: count it all as public
        out[e.id] = Split(mine, max(0.0, float(e.points) - mine))
    return out
