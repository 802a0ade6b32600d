"""The instructor package as deployed: the wheel built from this repository, installed
(not editable) in a fresh virtual environment, grading the references from a folder
outside the checkout with no PYTHONPATH. Every exercise gets full marks, the train
exercises too (they call torch.optim, whose first use lazily imports sympy from the very
site-packages the grader is installed in)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.deployed import environments as envs
from tests.submissions import ROOT, SOLUTIONS

pytestmark = pytest.mark.slow

TRAIN = ("ch3.train_linear_svm", "ch5.digits_train_predict", "ch10.diffusion_train_sample")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The venv's bin folder, with dlcourse installed from a freshly built wheel."""
    root = tmp_path_factory.mktemp("wheel")
    wheels = root / "wheels"
    wheels.mkdir()
    wheel = envs.build_wheel(envs.copy_sources(ROOT, root / "src"), wheels)
    python = envs.make_venv(root / "venv")
    envs.install(python, wheel)
    return python.parent


@pytest.fixture(scope="module")
def workspace(installed, tmp_path_factory) -> Path:
    """An `init` workspace with the references copied into its exercise folder."""
    outside = tmp_path_factory.mktemp("outside")
    proc = envs.run([installed / "dlcourse", "init", "ws"], cwd=outside, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for module in SOLUTIONS.glob("ch*.py"):
        shutil.copy(module, outside / "ws" / "exercises" / module.name)
    return outside / "ws"


@pytest.fixture(scope="module")
def graded(installed, workspace) -> dict:
    """`dlcourse grade all` of the references, run once."""
    out = workspace.parent / "report.json"
    proc = envs.run([installed / "dlcourse", "grade", "all", "--submission", workspace, "--json", out, "--quiet"],
                    cwd=workspace.parent, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(out.read_text(encoding="utf-8"))


def test_the_installed_package_is_the_wheel_not_the_checkout(installed, workspace):
    proc = envs.run([installed / "python", "-c", "import grader, solutions; print(grader.__file__); print(solutions.__file__)"],
                    cwd=workspace.parent, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for line in proc.stdout.split():
        assert Path(line).is_relative_to(installed.parent) and not Path(line).resolve().is_relative_to(ROOT), line


def test_grade_all_of_the_references_gives_full_marks_train_exercises_included(graded):
    short = {e["id"]: (e["score"], e["max_score"], e["status"], [c["message"][:300] for c in e["checks"] if c["status"] != "passed"][:1])
             for e in graded["exercises"] if e["score"] != e["max_score"]}
    assert not short, short
    ids = {e["id"] for e in graded["exercises"]}
    from grader.curriculum import exercises

    assert ids == {e.id for e in exercises()}
    assert set(TRAIN) <= ids
    assert graded["score"] == graded["max_score"] > 0
    assert graded["isolation"] in ("bwrap", "user", "python")


def test_a_wrong_submission_still_fails_when_installed(installed, workspace, tmp_path):
    """A check of the installed package tells a mutant from the reference (the full marks
    above are not an installed grader that passes everything)."""
    work = tmp_path / "ws"
    shutil.copytree(workspace, work)
    with open(work / "exercises" / "ch4_backprop.py", "a", encoding="utf-8") as f:
        f.write("\n\ndef linear_forward(x, W, b):\n    return x @ W\n")
    proc = envs.run([installed / "dlcourse", "check", "ch4.linear_forward", "ch3.train_linear_svm", "--json"], cwd=work, timeout=600)
    assert proc.returncode == 1, proc.stderr[-4000:]
    report = {e["id"]: e for e in json.loads(proc.stdout)["exercises"]}
    assert report["ch4.linear_forward"]["status"] == "failed"
    assert report["ch3.train_linear_svm"]["status"] == "passed", report["ch3.train_linear_svm"]
