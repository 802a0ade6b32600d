"""The deployment templates in templates/, exercised by their own commands here:

- the student workflow (github/student-checks.yml): it installs the student release, never
  the instructor package, pins its actions, caches pip, runs once per push; its check step
  (run with the runner's variables set) writes GitHub Classroom's points of the PUBLIC
  checks and a job summary;
- the instructor workflow (github/instructor-grade.yml): pinned, grades with grade-batch;
- the Gradescope bundle: make_bundle.sh builds autograder.zip with the dlcourse wheel in it,
  setup.sh installs dlcourse offline from that wheel, run_autograder grades a sample
  submission and always writes a results.json.
"""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.deployed import environments as envs
from tests.instructor.test_exports import check_gradescope_schema
from tests.submissions import ROOT, write_submission

TEMPLATES = ROOT / "templates"
STUDENT_WORKFLOW = TEMPLATES / "github" / "student-checks.yml"
INSTRUCTOR_WORKFLOW = TEMPLATES / "github" / "instructor-grade.yml"
GRADESCOPE = TEMPLATES / "gradescope"
TARGET = "ch4.linear_forward"
# actions whose releases we found no commit for: pinned by tag, and templates/README.md says so
TAG_PINNED = {"classroom-resources/autograding-grading-reporter"}


def _workflow(path: Path) -> dict:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (pip install -e '.[test]')")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def _steps(workflow: dict) -> list[dict]:
    return [s for job in workflow["jobs"].values() for s in job["steps"]]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """PATH starts with a `dlcourse` that runs this interpreter's dlcourse."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "dlcourse"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m dlcourse_cli "$@"\n')
    shim.chmod(0o755)
    return envs.clean_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **extra)


@pytest.mark.parametrize("path", [STUDENT_WORKFLOW, INSTRUCTOR_WORKFLOW], ids=["student", "instructor"])
def test_workflows_pin_actions_by_commit_cache_pip_and_do_not_run_twice(path):
    workflow = _workflow(path)
    for step in _steps(workflow):
        if "uses" in step:
            action, _, ref = step["uses"].partition("@")
            assert re.fullmatch(r"[0-9a-f]{40}", ref) or action in TAG_PINNED, step["uses"]
            if action == "actions/setup-python":
                assert step["with"]["cache"] == "pip" and step["with"]["cache-dependency-path"]
    triggers = workflow["on"]
    assert not ({"push", "pull_request"} <= set(triggers)), "a push to a pull request's branch would run twice"
    assert workflow["concurrency"]["group"]
    for step in _steps(workflow):
        if "run" in step:
            assert subprocess.run(["bash", "-n"], input=step["run"], text=True).returncode == 0, step.get("name")
    for tagged in TAG_PINNED & {s["uses"].partition("@")[0] for s in _steps(workflow) if "uses" in s}:
        assert tagged in (TEMPLATES / "README.md").read_text(encoding="utf-8")


def test_student_workflow_installs_the_student_release_never_the_instructor_package():
    workflow = _workflow(STUDENT_WORKFLOW)
    wheel = workflow["env"]["DLCOURSE_STUDENT_WHEEL"]
    assert "dlcourse_student" in wheel and wheel.endswith(".whl")
    installs = [s["run"] for s in _steps(workflow) if "run" in s and "pip install" in s["run"]]
    assert installs and all("$DLCOURSE_STUDENT_WHEEL" in r or "torch" in r for r in installs)
    for step in _steps(workflow):
        script = step.get("run", "")
        for line in script.splitlines():
            if "pip install" in line:
                assert "DLCOURSE_STUDENT_WHEEL" in line or "TORCH_SPEC" in line, line
        assert "dlcourse grade" not in script and "--hidden" not in script
    assert "dlcourse check" in "\n".join(s.get("run", "") for s in _steps(workflow))
    assert workflow["concurrency"]["cancel-in-progress"] is True
    assert (ROOT / "templates" / "github" / "dlcourse-grade.yml").exists() is False


@pytest.mark.slow
def test_student_workflow_check_step_reports_public_points_and_a_summary(tmp_path):
    workflow = _workflow(STUDENT_WORKFLOW)
    step = next(s for s in _steps(workflow) if s.get("id") == "dlcourse")
    repo = tmp_path / "student-repo"
    write_submission(repo / "exercises")
    runner_temp, output, summary = tmp_path / "runner-temp", tmp_path / "output", tmp_path / "summary.md"
    runner_temp.mkdir()
    env = _env(tmp_path, RUNNER_TEMP=str(runner_temp), GITHUB_OUTPUT=str(output), GITHUB_STEP_SUMMARY=str(summary),
               DLCOURSE_TARGETS=f"{TARGET} ch4.linear_backward", **step.get("env", {}))
    proc = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = [x for x in output.read_text().splitlines() if x.startswith("result=")]
    result = json.loads(base64.b64decode(line.removeprefix("result=")))
    assert result["status"] == "pass" and {t["status"] for t in result["tests"]} == {"pass"}
    names = [t["name"] for t in result["tests"]]
    assert names == [f"{TARGET} (public checks)", "ch4.linear_backward (public checks)"]
    report = json.loads((runner_temp / "dlcourse-checks.json").read_text())
    assert report["hidden_not_run"] > 0  # public checks only: the hidden one of linear_backward did not run
    assert result["max_score"] == report["max_score"] == sum(t["max_score"] for t in result["tests"])
    text = summary.read_text()
    assert f"`{TARGET}`" in text and "Hidden checks not run here" in text


def test_instructor_workflow_grades_with_grade_batch_and_links_the_shard_recipe():
    workflow = _workflow(INSTRUCTOR_WORKFLOW)
    scripts = "\n".join(s.get("run", "") for s in _steps(workflow))
    assert "dlcourse grade-batch submissions --out" in scripts
    assert "templates/shards/" in INSTRUCTOR_WORKFLOW.read_text()
    assert workflow["on"].keys() == {"workflow_dispatch"}


# --- the Gradescope bundle ------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """make_bundle.sh run on a copy of the repository (no dependency wheels: no network),
    unzipped as Gradescope does into /autograder/source."""
    root = tmp_path_factory.mktemp("bundle")
    repo = envs.copy_sources(ROOT, root / "repo")
    proc = subprocess.run(["bash", str(GRADESCOPE / "make_bundle.sh"), str(root / "autograder.zip")], cwd=root,
                          env=envs.clean_env(DLCOURSE_REPO=str(repo), DLCOURSE_BUNDLE_DEPS="0", PYTHON=sys.executable),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    source = root / "source"
    with zipfile.ZipFile(root / "autograder.zip") as z:
        names = z.namelist()
        assert {"setup.sh", "run_autograder"} <= set(names)  # at the root of the archive
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
        z.extractall(source)
    for name in ("setup.sh", "run_autograder"):
        assert modes[name] & stat.S_IXUSR, name
        (source / name).chmod(modes[name] & 0o777)
    return source


@pytest.fixture(scope="module")
def gradescope_python(bundle, tmp_path_factory) -> Path:
    """setup.sh run on the unzipped bundle: its offline install of the wheel in it, into a
    venv that sees this machine's torch (no apt-get, no download)."""
    venv = tmp_path_factory.mktemp("gradescope") / "venv"
    proc = subprocess.run(["bash", str(bundle / "setup.sh")], cwd=bundle, capture_output=True, text=True, timeout=600,
                          env=envs.clean_env(DLCOURSE_SOURCE_DIR=str(bundle), DLCOURSE_VENV=str(venv), DLCOURSE_SKIP_SYSTEM="1",
                                             DLCOURSE_VENV_OPTIONS="--system-site-packages", DLCOURSE_PIP_OPTIONS="--no-deps --ignore-installed"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return venv / "bin" / "python"


@pytest.mark.slow
def test_gradescope_bundle_holds_the_wheel_and_setup_installs_it_offline(bundle, gradescope_python):
    (wheel,) = (bundle / "wheels").glob("dlcourse-*.whl")
    with zipfile.ZipFile(wheel) as z:
        assert any(n.startswith("grader/checks/") for n in z.namelist())  # the instructor edition: hidden checks
    where = subprocess.run([str(gradescope_python), "-c", "import grader; print(grader.__file__)"], cwd=bundle,
                           capture_output=True, text=True, env=envs.clean_env())
    venv = gradescope_python.parent.parent
    assert Path(where.stdout.strip()).is_relative_to(venv), where
    assert not Path(where.stdout.strip()).resolve().is_relative_to(ROOT)


@pytest.mark.slow
def test_gradescope_run_autograder_grades_a_sample_submission(bundle, gradescope_python, tmp_path):
    submission = write_submission(tmp_path / "submission")  # Gradescope: the files uploaded
    results = tmp_path / "results" / "results.json"
    proc = subprocess.run([str(bundle / "run_autograder")], capture_output=True, text=True, timeout=600, cwd=tmp_path,
                          env=envs.clean_env(DLCOURSE_SUBMISSION_DIR=str(submission), DLCOURSE_RESULTS_FILE=str(results),
                                             DLCOURSE_TARGETS=f"{TARGET} ch4.linear_backward", DLCOURSE_PYTHON=str(gradescope_python)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(results.read_text())
    check_gradescope_schema(data)
    assert data["score"] == sum(t["max_score"] for t in data["tests"]) > 0, data["output"]
    assert data["extra_data"]["isolation"] in ("bwrap", "user", "python")
    hidden = [t for t in data["tests"] if t["visibility"] != "visible"]
    assert hidden and all(t["visibility"] == "after_due_date" for t in hidden)


def test_gradescope_run_autograder_reports_a_submission_it_cannot_grade(tmp_path):
    results = tmp_path / "results.json"
    env = _env(tmp_path, DLCOURSE_SUBMISSION_DIR=str(tmp_path / "missing"), DLCOURSE_RESULTS_FILE=str(results),
               DLCOURSE_TARGETS=TARGET, DLCOURSE_PYTHON=sys.executable)
    proc = subprocess.run([str(GRADESCOPE / "run_autograder")], env=env, capture_output=True, timeout=300)
    assert proc.returncode == 0
    data = json.loads(results.read_text())
    check_gradescope_schema(data)
    assert data["score"] == 0 and data["output"] and not data["tests"]


def test_gradescope_setup_installs_offline_from_the_bundle_and_pins_torch():
    setup = (GRADESCOPE / "setup.sh").read_text()
    assert subprocess.run(["bash", "-n", str(GRADESCOPE / "setup.sh")]).returncode == 0
    assert re.search(r"--no-index --find-links \"\$SOURCE/wheels\"", setup)
    assert "torch==" in setup and "download.pytorch.org/whl/cpu" in setup
    assert "git+" not in setup
    assert os.access(GRADESCOPE / "run_autograder", os.X_OK) and os.access(GRADESCOPE / "make_bundle.sh", os.X_OK)
