"""Gradescope's results.json for one graded submission.

    {"score": 52.0, "execution_time": 3.1, "output": "Score 52 / 55 ...",
     "tests": [{"name": "ch4.linear_backward: linear_backward_matches_autograd",
                "number": "4.2.1", "score": 3.0, "max_score": 3.0, "status": "passed",
                "visibility": "visible", "output": ""}, ...]}

Public checks are "visible"; hidden checks get `hidden_visibility` ("after_due_date" by
default, or "hidden", "after_published"). A hidden check's message never holds inputs or
expected values: the grader's plugin withholds them before the report is built.
"""

from __future__ import annotations

import json

from grader.checks import HIDDEN
from grader.messages import text
from grader.results import Report

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


def results(report: Report, hidden_visibility: str = "after_due_date") -> dict:
    """The results.json object (a dict)."""
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {VISIBILITIES}")
    tests = []
    for e_index, e in enumerate(report.exercises, start=1):
        chapter = e.chapter.removeprefix("ch")
        for c_index, c in enumerate(e.checks, start=1):
            tests.append(
                {
                    "name": text("instructor.gradescope.test_name", exercise=e.id, check=c.name),
                    "number": f"{chapter}.{e_index}.{c_index}",
                    "score": c.score,
                    "max_score": c.max_score,
                    "status": "passed" if c.status == "passed" else "failed",
                    "visibility": hidden_visibility if c.visibility == HIDDEN else "visible",
                    "output": c.message if c.status != "passed" else text("instructor.check_passed"),
                }
            )
    return {
        "score": report.score,
        "execution_time": round(report.duration, 3),
        "output": text("instructor.summary", score=report.score, max_score=report.max_score, seed=report.seed, device=report.device),
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def results_json(report: Report, hidden_visibility: str = "after_due_date") -> str:
    return json.dumps(results(report, hidden_visibility), indent=2, ensure_ascii=False) + "\n"


def failed_results() -> dict:
    """The results.json written when grading itself could not run (see templates/gradescope)."""
    return {"score": 0.0, "execution_time": 0.0, "output": text("instructor.gradescope_failed"), "tests": []}


if __name__ == "__main__":  # python -m grader.export.gradescope --failed results.json
    import sys
    from pathlib import Path

    if len(sys.argv) != 3 or sys.argv[1] != "--failed":
        sys.exit("usage: python -m grader.export.gradescope --failed RESULTS_FILE")
    Path(sys.argv[2]).write_text(json.dumps(failed_results(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
