"""Progress summaries computed from the history: per exercise and per chapter, what is
passed, partly done or not started, points, working time, first and latest pass, and
the exercise to do next. Plain dataclasses; `dlcourse progress` and `dlcourse report`
render them. No torch here.

Points are those of the public checks, the ones `dlcourse check` runs (what hidden
checks add is kept beside them, `hidden_points`), so `list`, `check`, `progress` and the
report tell the same story. An exercise's points and state are those of its latest
recorded check (the code as it is now), not its best one. Working time is estimated from the check times: the gaps
between consecutive checks of a chapter that are shorter than SESSION_GAP, plus the
time the checks themselves took.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

PASSED, PARTIAL, NOT_STARTED = "passed", "partial", "not_started"
SESSION_GAP = 30 * 60.0
"""Seconds between two checks above which the time in between is not counted as work."""


@dataclass
class ExerciseProgress:
    """One exercise of the curriculum, as the history sees it."""

    id: str
    chapter: str
    points: float
    """The points its public checks award: the most `dlcourse check` can record."""
    hidden_points: float = 0.0
    """The points its hidden checks add in the instructor's grading (not counted here)."""
    state: str = NOT_STARTED
    """passed (latest check with full marks), partial (tried, not full marks yet) or not_started."""
    score: float = 0.0
    """Points of the latest check."""
    last_status: str | None = None
    """The grader's status of the latest check (passed, failed, error, ...), None if never checked."""
    attempts: int = 0
    """Recorded checks of this exercise whose code was started (not the untouched stub)."""
    hints_shown: int = 0
    """The highest hint level shown by `dlcourse hint`."""
    first_pass: float | None = None
    """Time (seconds since the epoch) of the first check with full marks."""
    latest_pass: float | None = None


@dataclass
class ChapterProgress:
    """One chapter: counts, points and times over its exercises."""

    id: str
    exercises: list[ExerciseProgress] = field(default_factory=list)
    time_spent: float = 0.0
    """Estimated working seconds (see the module docstring)."""

    def count(self, state: str) -> int:
        return sum(e.state == state for e in self.exercises)

    @property
    def score(self) -> float:
        return sum(e.score for e in self.exercises)

    @property
    def max_score(self) -> float:
        return sum(e.points for e in self.exercises)

    @property
    def hidden_points(self) -> float:
        return sum(e.hidden_points for e in self.exercises)

    @property
    def first_pass(self) -> float | None:
        return min((e.first_pass for e in self.exercises if e.first_pass), default=None)

    @property
    def latest_pass(self) -> float | None:
        return max((e.latest_pass for e in self.exercises if e.latest_pass), default=None)

    @property
    def next(self) -> str | None:
        """The first exercise in curriculum order that is partly done, else the first not started."""
        for state in (PARTIAL, NOT_STARTED):
            for e in self.exercises:
                if e.state == state:
                    return e.id
        return None


@dataclass
class Progress:
    """The whole workspace."""

    chapters: list[ChapterProgress]
    timeline: list[tuple[float, float]]
    """(time, total points) after each recorded check: the points-over-time curve."""
    last_chapter: str | None = None
    """The chapter of the most recent check."""

    @property
    def exercises(self) -> list[ExerciseProgress]:
        return [e for c in self.chapters for e in c.exercises]

    @property
    def score(self) -> float:
        return sum(c.score for c in self.chapters)

    @property
    def max_score(self) -> float:
        return sum(c.max_score for c in self.chapters)

    @property
    def hidden_points(self) -> float:
        return sum(c.hidden_points for c in self.chapters)

    @property
    def time_spent(self) -> float:
        return sum(c.time_spent for c in self.chapters)

    @property
    def next(self) -> str | None:
        """Carry on where you were: the next exercise of the last chapter you checked,
        else of the first chapter that is not finished."""
        by_id = {c.id: c for c in self.chapters}
        if self.last_chapter in by_id and by_id[self.last_chapter].next:
            return by_id[self.last_chapter].next
        return next((c.next for c in self.chapters if c.next), None)

    def to_dict(self) -> dict:
        """The `dlcourse progress --json` format (times as local ISO 8601, or null)."""
        return {
            "version": 1,
            "score": self.score,
            "max_score": self.max_score,
            "hidden_points": self.hidden_points,
            "time_spent": round(self.time_spent, 1),
            "next": self.next,
            "chapters": [
                {
                    "id": c.id,
                    "exercises": len(c.exercises),
                    "passed": c.count(PASSED),
                    "partial": c.count(PARTIAL),
                    "not_started": c.count(NOT_STARTED),
                    "score": c.score,
                    "max_score": c.max_score,
                    "hidden_points": c.hidden_points,
                    "time_spent": round(c.time_spent, 1),
                    "first_pass": iso(c.first_pass),
                    "latest_pass": iso(c.latest_pass),
                    "next": c.next,
                }
                for c in self.chapters
            ],
            "exercises": [
                asdict(e) | {"first_pass": iso(e.first_pass), "latest_pass": iso(e.latest_pass)} for e in self.exercises
            ],
        }


def iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t).isoformat(timespec="seconds")


def summarise(exercises_path: Path) -> Progress:
    """Read the workspace's history and sum it up per exercise and chapter."""
    from dlcourse_cli import history
    from dlcourse_cli.points import split
    from grader.curriculum import chapters

    attempts = history.attempts(exercises_path)
    hints = history.hints_shown(exercises_path)
    points = split()
    progress = Progress(
        chapters=[
            ChapterProgress(c.id, [ExerciseProgress(e.id, c.id, points[e.id].public, points[e.id].hidden, hints_shown=hints.get(e.id, 0))
                                   for e in c.exercises])
            for c in chapters()
        ],
        timeline=[],
    )
    by_id = {e.id: e for e in progress.exercises}
    chapter_of = {e.id: c for c in progress.chapters for e in c.exercises}
    last_seen: dict[str, float] = {}
    total = 0.0
    for a in attempts:
        e = by_id.get(a.exercise)
        if e is None:
            continue  # an exercise that no longer exists
        chapter = chapter_of[a.exercise]
        gap = a.time - last_seen.get(chapter.id, a.time)
        chapter.time_spent += a.duration + (gap if 0 < gap < SESSION_GAP else 0.0)
        last_seen[chapter.id] = a.time
        progress.last_chapter = chapter.id
        total += a.score - e.score
        e.score = a.score
        e.last_status = a.status
        full = a.max_score > 0 and a.score >= a.max_score
        if a.status != "not_started":
            e.attempts += 1
        e.state = PASSED if full else NOT_STARTED if a.status == "not_started" else PARTIAL
        if full:
            e.first_pass = e.first_pass or a.time
            e.latest_pass = a.time
        if not progress.timeline or progress.timeline[-1][0] != a.time:
            progress.timeline.append((a.time, total))
        else:
            progress.timeline[-1] = (a.time, total)
    return progress
