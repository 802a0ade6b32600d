"""The exports of a Report, parsed back: Gradescope's results.json (its schema), JUnit XML
(parsed, and validated against the Jenkins xUnit plugin's junit-10.xsd in tests/data/) and
the Markdown summary, also for hostile student text. No grading runs here."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from grader.export import gradescope, junit, markdown
from grader.results import CheckResult, ExerciseResult, Report

JUNIT_XSD = Path(__file__).parents[1] / "data" / "junit-10.xsd"
# what a hostile student prints or raises: a screen clear and a fake table, NUL and other
# C0 controls, a CDATA terminator, lone surrogates, bidi overrides, and a megabyte of text
HOSTILE = (
    "\x1b[2J\x1b[H\x1b[32mall checks passed\x1b[0m\x00\x07\x08 ]]> <!-- & \" \ud800 \udfff \u202e\x85"
    + "x" * 1_000_000
)


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


def hostile_report() -> Report:
    return Report(
        seed=1,
        device="cpu",
        duration=2.123456789,
        isolation="user",
        exercises=[
            ExerciseResult("ch4.linear_forward", "ch4", [
                CheckResult("linear_forward_matches_reference", 0.0, 2.0, "error", "public", HOSTILE, 0.123456789),
                CheckResult("linear_forward_hidden", 0.0, 1.0, "failed", "hidden", "\x1b]0;title\x07" + HOSTILE[:100], 1e-7),
            ]),
            ExerciseResult("ch4.sgd_step", "ch4", [CheckResult("sgd_step_matches_torch_optim", 2.0, 2.0, "passed", "public", "", 3.0)],
                           integrity=["grader_frames"]),
        ],
    )


GRADESCOPE_TEST_FIELDS = {"name": str, "number": str, "score": float, "max_score": float, "status": str, "visibility": str,
                          "output": str, "output_format": str}


GRADESCOPE_OUTPUT_FORMATS = ("text", "html", "simple_format", "md", "ansi")


def check_gradescope_schema(data: dict) -> None:
    """The fields Gradescope reads, with their types and allowed values."""
    assert isinstance(data["score"], (int, float))
    assert isinstance(data["execution_time"], (int, float))
    assert isinstance(data["output"], str)
    assert isinstance(data["tests"], list)
    assert data["output_format"] in GRADESCOPE_OUTPUT_FORMATS
    for t in data["tests"]:
        for key, kind in GRADESCOPE_TEST_FIELDS.items():
            assert isinstance(t[key], kind), (key, t)
        assert t["status"] in ("passed", "failed")
        assert t["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
        assert 0 <= t["score"] <= t["max_score"]
        assert t["output_format"] in GRADESCOPE_OUTPUT_FORMATS
        assert re.fullmatch(r"\d+\.\d+\.\d+", t["number"]), t["number"]


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


# --- JUnit: valid against the schema CI servers consume, whatever the student printed ------------


@pytest.fixture(scope="module")
def junit_schema():
    xmlschema = pytest.importorskip("xmlschema", reason="xmlschema is not installed (pip install -e '.[test]')")
    return xmlschema.XMLSchema(str(JUNIT_XSD))


def _times(root: ET.Element) -> list[str]:
    return [el.get("time") for el in root.iter() if el.get("time") is not None]


def test_junit_xml_is_valid_against_the_jenkins_schema(junit_schema):
    document = junit.junit_xml(sample_report())
    junit_schema.validate(document)
    assert all(re.fullmatch(r"\d+(\.\d{1,3})?", t) for t in _times(ET.fromstring(document)))


def test_junit_xml_of_hostile_output_is_valid_bounded_and_clean(junit_schema):
    report = hostile_report()
    document = junit.junit_xml(report)
    junit_schema.validate(document)  # well-formed XML 1.0 and valid: no NUL, no surrogate
    root = ET.fromstring(document)
    assert len(document) < 100_000  # the megabyte is cut to a bound
    everything = "".join(root.itertext()) + "".join(v for el in root.iter() for v in el.attrib.values())
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202e]", everything)
    failing = root.find("./testsuite/testcase[@name='linear_forward_matches_reference']/error")
    assert failing.text.startswith("all checks passed") and "]]>" in failing.text  # text survives, escaped
    assert "\n" not in failing.get("message") and len(failing.get("message")) <= junit.SUMMARY_LIMIT
    times = _times(root)
    assert times and all(re.fullmatch(r"\d+\.\d{3}", t) for t in times), times
    assert root.get("time") == "2.123"
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["isolation"] == "user" and props["integrity"] == "grader_frames"


# --- Gradescope: stable numbers, formats, isolation, sanitised text ---------------------------


def test_gradescope_numbers_are_chapter_exercise_check_whatever_was_graded():
    from grader.curriculum import chapter

    ch4 = [e.id for e in chapter("ch4").exercises]
    second = ch4[1]
    full = gradescope.results(sample_report())
    alone = gradescope.results(Report(seed=7, device="cpu", exercises=[
        ExerciseResult(second, "ch4", [CheckResult("a", 1.0, 1.0, "passed", "public"), CheckResult("b", 0.0, 1.0, "failed", "hidden")]),
    ]))
    assert [t["number"] for t in alone["tests"]] == ["4.2.1", "4.2.2"]
    numbers = {t["name"]: t["number"] for t in full["tests"]}
    position = ch4.index("ch4.adam_step") + 1
    assert numbers["ch4.adam_step: adam_matches_torch_optim"] == f"4.{position}.1"
    assert numbers["ch4.linear_backward: linear_backward_larger_layers"] == f"4.{ch4.index('ch4.linear_backward') + 1}.2"


def test_gradescope_results_of_hostile_output_are_clean_and_record_the_isolation():
    data = gradescope.results(hostile_report())
    check_gradescope_schema(data)
    assert data["extra_data"]["isolation"] == "user" and "user" in data["output"]
    assert data["extra_data"]["integrity"] == {"ch4.sgd_step": ["grader_frames"]}
    text = json.dumps(data, ensure_ascii=False)
    assert len(text) < 100_000
    for t in data["tests"]:
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202e]", t["output"]), t["number"]
    # a flagged exercise scores 0 and its tests say why
    sgd = next(t for t in data["tests"] if t["name"].startswith("ch4.sgd_step"))
    assert sgd["score"] == 0 and sgd["status"] == "failed" and "grader_frames" in sgd["output"]
    assert data["score"] == sum(t["score"] for t in data["tests"]) == 0
    json.loads(gradescope.results_json(hostile_report()))  # no lone surrogate reaches the JSON text


def test_markdown_summary_of_hostile_output_has_no_escapes():
    md = markdown.summary(hostile_report())
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202e]", md)
    assert len(md) < 100_000
    md.encode("utf-8")  # no lone surrogate


def test_partial_credit_adds_up_to_the_hundredth():
    # two checks at 2/3 of a point each (rounded per check to 0.6667) make 1.33, not 1.3334
    checks = [CheckResult(f"c{i}", 0.6667, 1.0, "failed", "public", "m", 0.1) for i in range(2)]
    exercise = ExerciseResult("ch4.linear_backward", "ch4", checks + [CheckResult("c2", 2.0, 3.0, "failed", "public", "m", 0.1)])
    assert exercise.score == 3.33
    report = Report(seed=1, device="cpu", exercises=[exercise, exercise, exercise])
    assert report.score == 9.99 and json.loads(gradescope.results_json(report))["score"] == 9.99
