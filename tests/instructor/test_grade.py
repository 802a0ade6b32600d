"""`dlcourse grade`: public and hidden checks, every export parsed back, exit codes, and
agreement with `check` on the public part."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from typer.testing import CliRunner

from dlcourse_cli.main import app
from grader.messages import text
from tests.instructor.test_exports import check_gradescope_schema
from tests.submissions import SOLUTIONS

runner = CliRunner()
TARGET = "ch4.linear_backward"  # one public and one hidden check


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def graded(db_mean_submission, tmp_path_factory):
    out = tmp_path_factory.mktemp("exports")
    files = {k: out / name for k, name in (("json", "r.json"), ("gradescope", "results.json"), ("junit", "j.xml"), ("markdown", "s.md"))}
    result = invoke("grade", TARGET, "--submission", str(db_mean_submission), "--fail-under", "3.5",
                    *[a for k, f in files.items() for a in (f"--{k}", str(f))])
    return result, files


def _revealing_labels() -> list[str]:
    """The first words of the catalogue's detail lines that show inputs and expected values."""
    return [text(f"detail.{label}", value="").strip().split("\n")[0][:12] for label in ("inputs", "expected", "got")]


@pytest.mark.slow
def test_grade_runs_hidden_checks_and_fail_under_exits_1(graded):
    result, files = graded
    assert result.exit_code == 1, result.output  # score 0 < 3.5: the CI gate fails
    assert "3.5" in result.stderr
    report = json.loads(files["json"].read_text())
    (exercise,) = report["exercises"]
    assert {c["visibility"] for c in exercise["checks"]} == {"public", "hidden"}
    assert exercise["hidden_not_run"] == 0 and report["hidden_not_run"] == 0


@pytest.mark.slow
def test_hidden_checks_never_reveal_inputs_in_any_export(graded):
    _, files = graded
    report = json.loads(files["json"].read_text())
    hidden = [c for c in report["exercises"][0]["checks"] if c["visibility"] == "hidden"]
    public = [c for c in report["exercises"][0]["checks"] if c["visibility"] == "public"]
    assert hidden and all(c["status"] == "failed" for c in hidden + public)
    labels = _revealing_labels()
    assert any(label in public[0]["message"] for label in labels)  # the labels are right
    for c in hidden:
        assert not any(label in c["message"] for label in labels), c["message"]
        assert "tensor(" not in c["message"]
    gradescope = json.loads(files["gradescope"].read_text())
    check_gradescope_schema(gradescope)
    for t in gradescope["tests"]:
        if t["visibility"] != "visible":
            assert "tensor(" not in t["output"] and not any(label in t["output"] for label in labels)
    junit = ET.fromstring(files["junit"].read_text())
    for case in junit.iter("testcase"):
        if case.get("name") in {c["name"] for c in hidden}:
            assert "tensor(" not in case.find("failure").text


@pytest.mark.slow
def test_every_export_parses_back_and_agrees_with_the_report(graded):
    _, files = graded
    report = json.loads(files["json"].read_text())
    checks = report["exercises"][0]["checks"]
    gradescope = json.loads(files["gradescope"].read_text())
    assert gradescope["score"] == report["score"]
    assert len(gradescope["tests"]) == len(checks)
    junit = ET.fromstring(files["junit"].read_text())
    assert sorted(c.get("name") for c in junit.iter("testcase")) == sorted(c["name"] for c in checks)
    md = files["markdown"].read_text()
    assert f"`{TARGET}`" in md and "<details>" in md


@pytest.mark.slow
def test_check_and_grade_agree_on_the_public_part(graded, db_mean_submission):
    _, files = graded
    graded_report = json.loads(files["json"].read_text())["exercises"][0]
    result = invoke("check", TARGET, "--path", str(db_mean_submission), "--json")
    assert result.exit_code == 1
    checked = json.loads(result.stdout)["exercises"][0]
    hidden = [c for c in graded_report["checks"] if c["visibility"] == "hidden"]
    assert checked["hidden_not_run"] == len(hidden) > 0
    public = {c["name"]: (c["status"], c["score"], c["max_score"]) for c in graded_report["checks"] if c["visibility"] == "public"}
    assert {c["name"]: (c["status"], c["score"], c["max_score"]) for c in checked["checks"]} == public


@pytest.mark.slow
def test_grade_of_a_correct_submission_has_full_marks_and_check_names_the_hidden_checks(tmp_path):
    result = invoke("grade", TARGET, "--submission", str(SOLUTIONS), "--json", str(tmp_path / "r.json"), "--fail-under", "4")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["score"] == report["max_score"] > 0
    checked = invoke("check", TARGET, "--path", str(SOLUTIONS))
    assert checked.exit_code == 0
    from dlcourse_cli.output import counted

    assert counted("cli.all_passed_hidden", 1, points=1) in " ".join(checked.stdout.split())


def test_grade_of_a_missing_submission_is_a_usage_error(tmp_path):
    result = invoke("grade", TARGET, "--submission", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert text("instructor.submission_missing", path=tmp_path / "nowhere") in " ".join(result.stderr.split()) or "nowhere" in result.stderr


def test_grade_of_an_unknown_target_is_a_usage_error(tmp_path):
    result = invoke("grade", "ch4.linear_backwrd", "--submission", str(tmp_path))
    assert result.exit_code == 2
    assert "ch4.linear_backward" in result.stderr
