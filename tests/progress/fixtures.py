"""Build progress histories for the tests without running the grader: rows written
straight into a workspace's database, and a minimal stand-in for a grader Report."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from dlcourse_cli import history


@dataclass
class FakeCheck:
    duration: float = 0.1


@dataclass
class FakeExercise:
    id: str
    score: float
    max_score: float
    status: str
    checks: list = field(default_factory=lambda: [FakeCheck()])


@dataclass
class FakeReport:
    exercises: list
    seed: int = 0
    device: str = "cpu"


def add_attempts(exercises_path: Path, rows: list[tuple[float, str, float, float, str]]) -> None:
    """Append (time offset in seconds from an hour ago, exercise, score, max, status) rows."""
    start = time.time() - 3600
    conn = history.connect(exercises_path)
    with conn:
        conn.executemany(
            "INSERT INTO attempts (time, exercise, score, max_score, status, duration, source_hash, seed, device)"
            " VALUES (?, ?, ?, ?, ?, 0.5, 'h', 0, 'cpu')",
            [(start + dt, ex, s, m, st) for dt, ex, s, m, st in rows],
        )
    conn.close()


SAMPLE = [
    (0, "ch4.sgd_step", 0, 2, "failed"),
    (60, "ch4.sgd_step", 2, 2, "passed"),
    (120, "ch4.linear_forward", 1, 2, "failed"),
    (300, "ch1.softmax", 2, 2, "passed"),  # its public checks award 2 of its 3 points
    (400, "ch4.relu_backward", 0, 3, "not_started"),
]
"""Two chapters: ch4 has one pass (after a failure) and one partial; ch1 one pass."""
