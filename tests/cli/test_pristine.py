"""`reset` and `init` take pristine stubs from the package's own copy, never from the
files the student edits, even when the package IS the student's working copy
(`pip install -e .` of a checkout whose `exercises/` the student fills in)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from dlcourse_cli import stubs
from dlcourse_cli.main import app
from tests.submissions import EXERCISES

runner = CliRunner()
MODULE = "ch4_backprop"
SOLVED = '''def linear_forward(x, W, b):
    return x.matmul(W) + b  # my own version
'''


def git(folder, *args):
    subprocess.run(["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True, capture_output=True)


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """An editable install's checkout: its `exercises/` is both the installed package and
    the student's working copy, committed pristine, then edited by the student."""
    folder = tmp_path / "checkout" / "exercises"
    folder.mkdir(parents=True)
    shutil.copyfile(EXERCISES / f"{MODULE}.py", folder / f"{MODULE}.py")
    git(folder.parent, "init", "-q")
    git(folder.parent, "add", ".")
    git(folder.parent, "commit", "-q", "-m", "stubs")
    file = folder / f"{MODULE}.py"
    file.write_text(stubs.replace_function(file.read_text(encoding="utf-8"), "linear_forward", SOLVED), encoding="utf-8")
    monkeypatch.setattr(stubs, "stub_folder", lambda: folder)
    return folder


def stub_of(source: str) -> str:
    return stubs._function_source(source, "linear_forward")


def test_reset_in_an_edited_editable_checkout_restores_the_pristine_stub(checkout):
    result = runner.invoke(app, ["reset", "ch4.linear_forward", "--path", str(checkout)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    now = (checkout / f"{MODULE}.py").read_text(encoding="utf-8")
    pristine = (EXERCISES / f"{MODULE}.py").read_text(encoding="utf-8")
    assert stub_of(now) == stub_of(pristine) and "# my own version" not in now
    # the student's version is kept, and --undo brings it back
    assert runner.invoke(app, ["reset", "--undo", "--path", str(checkout)], catch_exceptions=False).exit_code == 0
    assert "# my own version" in (checkout / f"{MODULE}.py").read_text(encoding="utf-8")


def test_init_from_an_edited_editable_checkout_writes_pristine_stubs(checkout, tmp_path):
    result = runner.invoke(app, ["init", str(tmp_path / "ws")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    written = (tmp_path / "ws" / "exercises" / f"{MODULE}.py").read_text(encoding="utf-8")
    assert written == (EXERCISES / f"{MODULE}.py").read_text(encoding="utf-8")


def test_an_edited_copy_with_no_history_is_a_usage_error_not_a_silent_no_op(checkout):
    shutil.rmtree(checkout.parent / ".git")
    result = runner.invoke(app, ["reset", "ch4.linear_forward", "--path", str(checkout)])
    assert result.exit_code == 2
    assert "edited" in result.stderr and "# my own version" in (checkout / f"{MODULE}.py").read_text(encoding="utf-8")


def test_the_installed_stubs_are_recognised_as_pristine():
    for file in sorted(EXERCISES.glob("ch*.py")):
        assert stubs.pristine_source(file.stem) == file.read_text(encoding="utf-8")
