"""The grader's results as plain dataclasses. Rendering (Rich, JSON, exports) lives
elsewhere; these only hold data and add up scores."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum

REPORT_VERSION = 1


class Status(str, Enum):
    """A check's or an exercise's status (a `str`: it compares, prints and goes into JSON
    as its value)."""

    PASSED = "passed"
    FAILED = "failed"
    """A wrong answer (or a bad value, the wrong device, a modified argument)."""
    ERROR = "error"
    """The code raised, crashed, did not import, or reached for the grader's machinery."""
    TIMEOUT = "timeout"
    BANNED_CALL = "banned_call"
    """A built-in the exercise asks to write by hand, or autograd where it is not allowed."""
    NOT_STARTED = "not_started"
    """The stub still raises NotImplementedError."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


STATUSES = tuple(s.value for s in Status)
# when an exercise's checks disagree, the one shown is the first of these that occurs
_PRECEDENCE = (Status.BANNED_CALL, Status.TIMEOUT, Status.ERROR, Status.FAILED)


@dataclass
class CheckResult:
    """One check of one exercise."""

    name: str
    """The check's name (its function name without `check_`)."""
    score: float
    max_score: float
    status: Status
    """A `Status` (a plain status string is converted; an unknown one is a ValueError)."""
    visibility: str
    """"public" (failures show inputs and expected values) or "hidden" (they never do)."""
    message: str = ""
    """What went wrong, for the student; empty when passed."""
    duration: float = 0.0
    """Seconds spent on this check."""
    mistake: str = ""
    """The catalogue key of the mistake the check recognised (`mistake.ch4.linear_backward.db_mean`,
    `mistake.transposed`, ...); empty when it passed or named no mistake. Instructors count
    these across a class (`grade-batch` writes `mistakes.csv`)."""

    def __post_init__(self) -> None:
        self.status = Status(self.status)


@dataclass
class ExerciseResult:
    """One exercise: its checks and the status they add up to."""

    id: str
    chapter: str
    checks: list[CheckResult] = field(default_factory=list)
    hidden_not_run: int = 0
    """Hidden checks of this exercise that this run did not execute (`check` runs public ones)."""
    integrity: list[str] = field(default_factory=list)
    """Integrity flags (`grader_frames`, `grader_modules`, ...): the code reached for the
    grader's machinery. A flagged exercise scores 0 and instructors see the flag."""

    @property
    def score(self) -> float:
        # to the hundredth: partial credit of 2/3 in two checks is 1.33, not 1.3334
        return 0.0 if self.integrity else round(sum(c.score for c in self.checks), 2)

    @property
    def max_score(self) -> float:
        return sum(c.max_score for c in self.checks)

    @property
    def status(self) -> Status:
        statuses = {c.status for c in self.checks}
        if statuses == {Status.PASSED}:
            return Status.PASSED
        for status in _PRECEDENCE:
            if status in statuses:
                return status
        # only passed and not-started checks: started but incomplete
        return Status.FAILED if Status.PASSED in statuses else Status.NOT_STARTED

    @property
    def mistakes(self) -> list[str]:
        """The distinct mistakes this exercise's checks recognised, in check order."""
        return list(dict.fromkeys(c.mistake for c in self.checks if c.mistake))

    @property
    def reason(self) -> str:
        """The first failing check's message: the one line a table shows."""
        for c in self.checks:
            if c.status != "passed" and c.message:
                return c.message
        return ""


@dataclass
class Report:
    """One grading run."""

    seed: int
    device: str
    exercises: list[ExerciseResult] = field(default_factory=list)
    duration: float = 0.0
    version: int = REPORT_VERSION
    isolation: str = "python"
    """The boundary student code ran inside: "bwrap" (an OS sandbox), "user" (a dedicated
    unprivileged user) or "python" (in-process walls only)."""

    @property
    def score(self) -> float:
        return round(sum(e.score for e in self.exercises), 2)

    @property
    def max_score(self) -> float:
        return sum(e.max_score for e in self.exercises)

    @property
    def all_passed(self) -> bool:
        return all(e.status == "passed" for e in self.exercises)

    @property
    def hidden_not_run(self) -> int:
        return sum(e.hidden_not_run for e in self.exercises)

    def to_dict(self) -> dict:
        """The JSON report format documented in the README."""
        return {
            "version": self.version,
            "seed": self.seed,
            "device": self.device,
            "isolation": self.isolation,
            "integrity": {e.id: e.integrity for e in self.exercises if e.integrity},
            "score": self.score,
            "max_score": self.max_score,
            "hidden_not_run": self.hidden_not_run,
            "duration": round(self.duration, 3),
            "exercises": [
                {
                    "id": e.id,
                    "chapter": e.chapter,
                    "score": e.score,
                    "max_score": e.max_score,
                    "status": e.status,
                    "hidden_not_run": e.hidden_not_run,
                    "integrity": e.integrity,
                    "mistakes": e.mistakes,
                    "checks": [asdict(c) | {"duration": round(c.duration, 4)} for c in e.checks],
                }
                for e in self.exercises
            ],
        }
