"""Gradescope's results.json for one graded submission.

    {"score": 52.0, "execution_time": 3.1, "output": "Score 52 / 55 ...", "output_format": "text",
     "extra_data": {"isolation": "user", ...},
     "tests": [{"name": "ch4.linear_backward: linear_backward_matches_autograd",
                "number": "4.2.1", "score": 3.0, "max_score": 3.0, "status": "passed",
                "visibility": "visible", "output": "", "output_format": "text"}, ...]}

A test's `number` is stable: chapter, the exercise's position in its chapter in
`grader.curriculum`, and the check's position in the exercise ("4.2.1" is chapter 4,
its second exercise, that exercise's first check), whichever targets were graded.

Public checks are "visible"; hidden checks get `hidden_visibility` ("after_due_date" by
default, or "hidden", "after_published"; see templates/README.md for what each hides). A
hidden check's message never holds inputs or expected values: the grader's plugin
withholds them before the report is built. Every message is student-influenced text and
is passed through `grader.sanitize.clean`; outputs are plain text (`output_format`
"text"), so a message cannot smuggle Markdown or HTML into Gradescope's page.
"""

from __future__ import annotations

import json

from grader.checks import HIDDEN
from grader.messages import text
from grader.results import ExerciseResult, Report
from grader.sanitize import clean, name

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
OUTPUT_FORMAT = "text"
MESSAGE_LIMIT = 8000
"""Characters of a check's message kept in a test's output."""


def number(exercise_id: str, check_index: int) -> str:
    """The stable test number of an exercise's check (`check_index` counts from 1).

    >>> number("ch4.linear_backward", 1)
    '4.2.1'
    """
    from grader.curriculum import exercises

    chapter_id = exercise_id.split(".", 1)[0]
    in_chapter = [e.id for e in exercises() if e.chapter == chapter_id]
    chapter = chapter_id.removeprefix("ch")
    position = in_chapter.index(exercise_id) + 1 if exercise_id in in_chapter else 0
    return f"{chapter}.{position}.{check_index}"


def _test_output(e: ExerciseResult, message: str, passed: bool) -> str:
    out = text("instructor.check_passed") if passed else clean(message, MESSAGE_LIMIT)
    if e.integrity:
        out = text("deploy.integrity", exercise=e.id, flags=name(", ".join(e.integrity))) + "\n" + out
    return out


def results(report: Report, hidden_visibility: str = "after_due_date") -> dict:
    """The results.json object (a dict)."""
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {VISIBILITIES}")
    tests = []
    for e in report.exercises:
        for c_index, c in enumerate(e.checks, start=1):
            tests.append(
                {
                    "name": text("instructor.gradescope.test_name", exercise=e.id, check=name(c.name)),
                    "number": number(e.id, c_index),
                    "score": 0.0 if e.integrity else float(c.score),
                    "max_score": float(c.max_score),
                    "status": "passed" if c.status == "passed" and not e.integrity else "failed",
                    "visibility": hidden_visibility if c.visibility == HIDDEN else "visible",
                    "output": _test_output(e, c.message, c.status == "passed"),
                    "output_format": OUTPUT_FORMAT,
                }
            )
    summary = text("instructor.summary", score=report.score, max_score=report.max_score, seed=report.seed, device=report.device)
    return {
        "score": float(report.score),
        "execution_time": round(report.duration, 3),
        "output": summary + "\n" + text("deploy.isolation", isolation=name(report.isolation)),
        "output_format": OUTPUT_FORMAT,
        "stdout_visibility": "hidden",
        "extra_data": {
            "isolation": report.isolation,
            "integrity": {e.id: list(e.integrity) for e in report.exercises if e.integrity},
            "seed": report.seed,
            "device": report.device,
            "report_version": report.version,
        },
        "tests": tests,
    }


def results_json(report: Report, hidden_visibility: str = "after_due_date") -> str:
    return json.dumps(results(report, hidden_visibility), indent=2, ensure_ascii=False) + "\n"


def failed_results() -> dict:
    """The results.json written when grading itself could not run (see templates/gradescope)."""
    return {"score": 0.0, "execution_time": 0.0, "output": text("instructor.gradescope_failed"), "output_format": OUTPUT_FORMAT, "tests": []}


if __name__ == "__main__":  # python -m grader.export.gradescope --failed results.json
    import sys
    from pathlib import Path

    if len(sys.argv) != 3 or sys.argv[1] != "--failed":
        sys.exit("usage: python -m grader.export.gradescope --failed RESULTS_FILE")
    Path(sys.argv[2]).write_text(json.dumps(failed_results(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
