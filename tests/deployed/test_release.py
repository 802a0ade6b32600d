"""The student release as deployed: built with `dlcourse release` from the checkout (it
needs the references to record their outputs), made a wheel, installed (not editable) in
a fresh virtual environment, and run from outside the checkout on an `init` workspace with
the references copied in: full marks on every public check, exit 0. The installed release
holds no `solutions` package and no hidden check."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from grader import release
from tests.deployed import environments as envs
from tests.submissions import ROOT, SOLUTIONS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The venv's bin folder, with the student release installed from its wheel."""
    root = tmp_path_factory.mktemp("release")
    built = root / "dlcourse-student"
    proc = envs.run([sys.executable, "-m", "dlcourse_cli", "release", built], cwd=ROOT, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-4000:]
    wheels = root / "wheels"
    wheels.mkdir()
    wheel = envs.build_wheel(built, wheels)
    assert wheel.name.startswith("dlcourse_student-")
    python = envs.make_venv(root / "venv")
    envs.install(python, wheel)
    return python.parent


def test_the_installed_release_has_no_solutions_and_no_hidden_check(installed, tmp_path):
    site = envs.site_packages(installed / "python")
    assert not (site / "solutions").exists()
    proc = envs.run([installed / "python", "-c", "import solutions"], cwd=tmp_path, timeout=120)
    assert proc.returncode != 0 and "No module named 'solutions'" in proc.stderr
    checks = sorted((site / "grader" / "checks").glob("ch*.py"))
    assert len(checks) == len(list((ROOT / "grader" / "checks").glob("ch*.py")))
    for module in checks:
        assert release.hidden_counts(module.read_text(encoding="utf-8")) == {}, module.name
        assert "hidden=True" not in module.read_text(encoding="utf-8"), module.name
    assert not (site / "dlcourse_cli" / "commands" / "grade.py").exists()


def test_check_all_of_the_references_gives_full_marks_on_every_public_check(installed, tmp_path):
    proc = envs.run([installed / "dlcourse", "init", "ws"], cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for module in SOLUTIONS.glob("ch*.py"):
        shutil.copy(module, tmp_path / "ws" / "exercises" / module.name)
    proc = envs.run([installed / "dlcourse", "check", "all", "--json"], cwd=tmp_path / "ws", timeout=1500)
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout)
    short = {e["id"]: (e["score"], e["max_score"], [c["message"][:300] for c in e["checks"] if c["status"] != "passed"][:1])
             for e in report["exercises"] if e["status"] != "passed"}
    assert not short, short
    from grader.curriculum import exercises

    assert {e["id"] for e in report["exercises"]} == {e.id for e in exercises()}
    assert report["score"] == report["max_score"] > 0
    assert report["hidden_not_run"] > 0
    assert all(c["visibility"] == "public" for e in report["exercises"] for c in e["checks"])
