"""The exports of a Report, parsed back: Gradescope's results.json (its schema), JUnit XML
(with the standard library's parser) and the Markdown summary. No grading runs here."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from grader.export import gradescope, junit, markdown
from grader.results import CheckResult, ExerciseResult, Report


def sample_report() -> Report:
    return Report(
        seed=7,
        device="cpu",
        duration=1.5,
        exercises=[
            ExerciseResult("ch4.linear_backward", "ch4", [
                CheckResult("linear_backward_matches_autograd", 0.0, 3.0, "failed", "public", "db is wrong\n  inputs:\nx = tensor([1.])", 0.1),
                CheckResult("linear_backward_larger_layers", 0.0, 1.0, "failed", "hidden", "db is wrong\nThis is a hidden check.", 0.2),
            ]),
            ExerciseResult("ch4.sgd_step", "ch4", [CheckResult("sgd_step_matches_torch_optim", 2.0, 2.0, "passed", "public", "", 0.05)]),
            ExerciseResult("ch4.adam_step", "ch4", [CheckResult("adam_matches_torch_optim", 0.0, 4.0, "timeout", "public", "did not return <in time> & \"quoted\"", 5.0)]),
        ],
    )


GRADESCOPE_TEST_FIELDS = {"name": str, "number": str, "score": float, "max_score": float, "status": str, "visibility": str, "output": str}


def check_gradescope_schema(data: dict) -> None:
    """The fields Gradescope reads, with their types and allowed values."""
    assert isinstance(data["score"], (int, float))
    assert isinstance(data["execution_time"], (int, float))
    assert isinstance(data["output"], str)
    assert isinstance(data["tests"], list)
    for t in data["tests"]:
        for key, kind in GRADESCOPE_TEST_FIELDS.items():
            assert isinstance(t[key], kind), (key, t)
        assert t["status"] in ("passed", "failed")
        assert t["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
        assert 0 <= t["score"] <= t["max_score"]


def test_gradescope_results_follow_the_schema_and_add_up():
    report = sample_report()
    data = json.loads(gradescope.results_json(report))
    check_gradescope_schema(data)
    assert data["score"] == report.score == 2.0
    assert sum(t["score"] for t in data["tests"]) == data["score"]
    assert len({t["number"] for t in data["tests"]}) == len(data["tests"]) == 4
    by_name = {t["name"].split(": ")[1]: t for t in data["tests"]}
    assert by_name["linear_backward_matches_autograd"]["visibility"] == "visible"
    assert by_name["linear_backward_larger_layers"]["visibility"] == "after_due_date"
    assert by_name["adam_matches_torch_optim"]["status"] == "failed"
    hidden = json.loads(gradescope.results_json(report, hidden_visibility="hidden"))
    assert [t["visibility"] for t in hidden["tests"]].count("hidden") == 1


def test_gradescope_results_for_a_run_that_could_not_grade():
    data = gradescope.failed_results()
    check_gradescope_schema(data)
    assert data["score"] == 0 and data["output"] and not data["output"].startswith("instructor.")


def test_junit_xml_parses_back_with_one_testcase_per_check():
    report = sample_report()
    root = ET.fromstring(junit.junit_xml(report))
    assert root.tag == "testsuites"
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == sum(len(e.checks) for e in report.exercises)
    assert root.get("tests") == "4" and root.get("failures") == "2" and root.get("errors") == "1"
    adam = root.find("./testsuite/testcase[@name='adam_matches_torch_optim']")
    assert adam.find("error").get("type") == "timeout"
    assert adam.find("error").text == 'did not return <in time> & "quoted"'
    hidden = root.find("./testsuite/testcase[@name='linear_backward_larger_layers']")
    assert "inputs" not in hidden.find("failure").text
    assert root.find("./testsuite/testcase[@name='sgd_step_matches_torch_optim']").find("failure") is None


def test_markdown_summary_has_the_total_a_row_per_exercise_and_failed_details():
    md = markdown.summary(sample_report())
    assert "2 / 10" in md
    rows = [line for line in md.splitlines() if line.startswith("| ") and "`ch4." in line]
    assert len(rows) == 3
    assert md.count("<details>") == 3  # the two failed checks of linear_backward, adam's timeout
    assert "instructor." not in md  # every string found in the catalogue


def test_report_json_round_trips():
    data = json.loads(json.dumps(sample_report().to_dict()))
    assert data["score"] == 2.0 and data["max_score"] == 10.0
    assert [e["status"] for e in data["exercises"]] == ["failed", "passed", "timeout"]
