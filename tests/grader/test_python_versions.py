"""`requires-python` must be true: the torch-free engine tests pass on the oldest and the
newest CPython we claim (3.10 and 3.13), each in a virtual environment with pytest and
Hypothesis installed from the package index, and every module compiles there."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TORCH_FREE_TESTS = ["tests/grader/test_sanitize.py", "tests/grader/test_curriculum_document.py"]
TORCH_FREE_MODULES = ["grader.sanitize", "grader.curriculum", "grader.curriculum.document", "grader.results",
                      "grader.messages", "grader.isolation"]


def _claimed_minor() -> int:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    return int(re.search(r'requires-python\s*=\s*">=3\.(\d+)"', text).group(1))


def _interpreter(minor: int) -> str | None:
    """A real CPython 3.minor: pyenv's own build first (its shims may point elsewhere)."""
    candidates = [str(p) for p in sorted(Path.home().glob(f".pyenv/versions/3.{minor}.*/bin/python3.{minor}"))]
    candidates.append(shutil.which(f"python3.{minor}") or "")
    for exe in filter(None, candidates):
        probe = subprocess.run([exe, "-c", "import sys; print(sys.version_info[1])"], capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == str(minor):
            return exe
    return None


@pytest.fixture(scope="module", params=["oldest", "newest"])
def venv_python(request, tmp_path_factory):
    minor = _claimed_minor() if request.param == "oldest" else 13
    exe = _interpreter(minor)
    if exe is None:
        pytest.skip(f"CPython 3.{minor} is not installed (python3.{minor} / pyenv)")
    venv = tmp_path_factory.mktemp(f"py3{minor}")
    subprocess.run([exe, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    pip = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "pytest>=8", "hypothesis>=6.100"],
                         capture_output=True, text=True, timeout=600)
    if pip.returncode != 0:
        pytest.skip(f"pytest/Hypothesis could not be installed for CPython 3.{minor}: {pip.stderr.strip()[-300:]}")
    return python


def test_every_module_compiles(venv_python):
    done = subprocess.run([venv_python, "-m", "compileall", "-q", "-x", r"/\.|__pycache__", "grader", "dlcourse_cli", "exercises", "solutions", "tests"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPYCACHEPREFIX=str(Path(venv_python).parent.parent / "pycache")))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_torch_free_engine_modules_import_and_their_tests_pass(venv_python):
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONHOME", None)
    imported = subprocess.run([venv_python, "-c", "import " + ", ".join(TORCH_FREE_MODULES)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0, imported.stderr[-3000:]
    tests = subprocess.run([venv_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT),
                            "-c", os.devnull, *TORCH_FREE_TESTS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout
