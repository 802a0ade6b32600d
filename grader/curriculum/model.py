"""Plain data describing chapters and exercises. Imports nothing heavy (no torch),
so that `dlcourse list` and `dlcourse hint` answer in a fraction of a second."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Exercise:
    """One graded function of docs/curriculum.md."""

    name: str
    """The function's name, as the student writes it (`linear_backward`)."""
    points: int
    """Total points; equals the sum of the points of its checks (a test proves it)."""
    banned: tuple[str, ...] = ()
    """Qualified names of PyTorch routines the student may not call, e.g.
    `torch.nn.functional.softmax` or `torch.Tensor.softmax`."""
    autograd: bool = False
    """True for the "train" exercises, where autograd and torch.optim are allowed."""
    timeout: float | None = None
    """Seconds one call may take; None means the grader's default."""
    chapter: str = ""
    """Filled in by `Chapter`: the chapter id (`ch4`)."""

    @property
    def id(self) -> str:
        return f"{self.chapter}.{self.name}"


@dataclass(frozen=True)
class Chapter:
    """One chapter: its id, the exercise module(s) in `exercises/` and its exercises."""

    id: str
    """`ch4`."""
    modules: tuple[str, ...]
    """Module names in `exercises/` (and `solutions/`), searched in order for a function."""
    exercises: tuple[Exercise, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        bound = tuple(
            Exercise(e.name, e.points, e.banned, e.autograd, e.timeout, chapter=self.id)
            for e in self.exercises
        )
        object.__setattr__(self, "exercises", bound)

    @property
    def number(self) -> int:
        return int(self.id[2:])
