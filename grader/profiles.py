"""Hypothesis settings for grading: no example database, no deadline, no health checks
that could fail a slow but correct student, one bug reported (the smallest a public check
can find; a hidden check's first), and a seed set per run so that the same submission
always gets the same score.

Registered on import, loaded only by the runner (`with use("check"):`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, Phase, settings

PUBLIC_EXAMPLES = 20
"""Examples a public check draws, in `check` and in `grade` alike: with the same seed both
draw the same inputs, so a public check that passes in `check` passes in `grade` (#16)."""

HIDDEN_EXAMPLES = 40
"""Examples a hidden check draws (`grade` only): grading adds checks and examples there."""

PROFILES = {
    # what a student runs: the public checks
    "check": dict(max_examples=PUBLIC_EXAMPLES),
    # what an instructor runs: the same public examples, hidden checks on top
    "grade": dict(max_examples=PUBLIC_EXAMPLES),
}


GRADING = dict(
    database=None,
    deadline=None,
    derandomize=False,
    print_blob=False,
    report_multiple_bugs=False,
    suppress_health_check=list(HealthCheck),
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
)
"""What every graded check runs with, whatever profile was active when its module was
imported (the plugin applies it to each collected check)."""

HIDDEN_GRADING = dict(GRADING, phases=(Phase.explicit, Phase.reuse, Phase.generate))
"""A hidden check's settings: the same, without shrinking. Its message shows neither the
input nor the expected value, and its points come from the first failing example anyway
(`grader.checks.first_failure`), so shrinking would only cost time (a quarter of `grade
all` of a submission wrong in 80 exercises: 54 s with hidden checks shrinking, 41 s
without; the same points on every check)."""

for _profile, _extra in PROFILES.items():
    settings.register_profile(f"dlcourse-{_profile}", **GRADING, **_extra)


@contextmanager
def use(name: str) -> Iterator[None]:
    """Make the grading profile `name` the default inside the block, then restore the
    previous one (the grader may run inside another Hypothesis user's process)."""
    current = getattr(settings, "get_current_profile_name", None)  # public API of recent Hypothesis
    previous = current() if current is not None else "default"
    settings.load_profile(f"dlcourse-{name}")
    try:
        yield
    finally:
        settings.load_profile(previous)
