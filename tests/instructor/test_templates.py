"""The CI templates in templates/, run on a sample submission: the GitHub Actions
workflow's grading step (its `run:` script, with the runner's variables set) and the
Gradescope bundle's run_autograder (its results path overridden)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.instructor.test_exports import check_gradescope_schema
from tests.submissions import ROOT, write_submission

TEMPLATES = ROOT / "templates"
TARGET = "ch4.linear_forward"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """PATH starts with a `dlcourse` that runs this interpreter's dlcourse."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "dlcourse"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m dlcourse_cli "$@"\n')
    shim.chmod(0o755)
    return dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **extra)


@pytest.mark.slow
def test_github_workflow_grading_step_writes_the_summary_and_junit(tmp_path):
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load((TEMPLATES / "github" / "dlcourse-grade.yml").read_text())
    steps = workflow["jobs"]["grade"]["steps"]
    install = next(s for s in steps if s.get("name") == "Install the grader")
    assert "DLCOURSE_SPEC" in install["run"] and "@" in workflow["env"]["DLCOURSE_SPEC"]  # pinned
    grade = next(s for s in steps if s.get("name") == "Grade")
    repo = tmp_path / "student-repo"
    write_submission(repo / "exercises")
    runner_temp, summary = tmp_path / "runner-temp", tmp_path / "step-summary.md"
    runner_temp.mkdir()
    env = _env(tmp_path, RUNNER_TEMP=str(runner_temp), GITHUB_STEP_SUMMARY=str(summary), DLCOURSE_TARGETS=TARGET, **grade.get("env", {}))
    proc = subprocess.run(["bash", "-e", "-c", grade["run"]], cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"`{TARGET}`" in summary.read_text()
    junit = ET.parse(runner_temp / "dlcourse-junit.xml").getroot()
    assert len(list(junit.iter("testcase"))) >= 1 and junit.get("failures") == "0"
    assert json.loads((runner_temp / "dlcourse-report.json").read_text())["score"] > 0


@pytest.mark.slow
def test_gradescope_run_autograder_writes_results_json(tmp_path):
    submission = write_submission(tmp_path / "submission")  # Gradescope: the files uploaded
    results = tmp_path / "results" / "results.json"
    env = _env(tmp_path, DLCOURSE_SUBMISSION_DIR=str(submission), DLCOURSE_RESULTS_FILE=str(results),
               DLCOURSE_TARGETS=TARGET, DLCOURSE_PYTHON=sys.executable)
    proc = subprocess.run([str(TEMPLATES / "gradescope" / "run_autograder")], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(results.read_text())
    check_gradescope_schema(data)
    assert data["score"] > 0 and data["tests"]


def test_gradescope_run_autograder_reports_a_submission_it_cannot_grade(tmp_path):
    results = tmp_path / "results.json"
    env = _env(tmp_path, DLCOURSE_SUBMISSION_DIR=str(tmp_path / "missing"), DLCOURSE_RESULTS_FILE=str(results),
               DLCOURSE_TARGETS=TARGET, DLCOURSE_PYTHON=sys.executable)
    subprocess.run([str(TEMPLATES / "gradescope" / "run_autograder")], env=env, capture_output=True, timeout=120)
    data = json.loads(results.read_text())
    check_gradescope_schema(data)
    assert data["score"] == 0 and data["output"]


def test_gradescope_setup_is_valid_bash_and_pins_the_grader():
    setup = TEMPLATES / "gradescope" / "setup.sh"
    assert subprocess.run(["bash", "-n", str(setup)]).returncode == 0
    text = setup.read_text()
    assert "DLCOURSE_SPEC" in text and "@v" in text and "torch==" in text
    assert os.access(TEMPLATES / "gradescope" / "run_autograder", os.X_OK)
