"""`grader.submission.prepare`: chapter modules found wherever a submission keeps them,
copied into a clean folder; ambiguity, emptiness and links leaving the submission are
statuses of their own."""

from __future__ import annotations

import json
import os
import sys
import zipfile
from pathlib import Path

import pytest

from grader import batch
from grader.gradebook import Status
from grader.submission import exercises_folder, prepare

CODE = "def linear_forward(x, W, b):\n    return x @ W + b\n"


def _put(root: Path, relative: str, text: str = CODE) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("relative", [
    "ch4_backprop.py",
    "exercises/ch4_backprop.py",
    "student2/hw/exercises/ch4_backprop.py",
    "exercises (1)/ch4_backprop.py",
    "doejohn_1234_ch4_backprop.py",        # an LMS download: a prefix, then _<module>.py
    "doe-john-ch4_backprop.py",
    "Downloads/DOEJOHN_1234_CH4_BACKPROP.py",
])
def test_a_module_is_found_wherever_it_sits(tmp_path, relative):
    _put(tmp_path / "sub", relative)
    prepared = prepare(tmp_path / "sub", tmp_path / "clean")
    assert prepared.status is Status.OK
    assert prepared.found == {"ch4_backprop": relative}
    assert sorted(p.name for p in (tmp_path / "clean").iterdir()) == ["ch4_backprop.py"]
    assert (tmp_path / "clean" / "ch4_backprop.py").read_text() == CODE


def test_a_workspace_zipped_one_level_up_is_found(tmp_path):
    with zipfile.ZipFile(tmp_path / "alice.zip", "w") as zf:
        zf.writestr("course/workspace/exercises/ch1_ml_basics.py", "x = 1\n")
        zf.writestr("course/workspace/exercises/ch4_backprop.py", CODE)
        zf.writestr("course/workspace/README.md", "notes")
    batch.extract_zip(tmp_path / "alice.zip", tmp_path / "unzipped")
    prepared = prepare(tmp_path / "unzipped", tmp_path / "clean")
    assert prepared.status is Status.OK
    assert set(prepared.found) == {"ch1_ml_basics", "ch4_backprop"}
    assert sorted(p.name for p in (tmp_path / "clean").iterdir()) == ["ch1_ml_basics.py", "ch4_backprop.py"]


def test_an_empty_or_unrelated_submission_has_no_files(tmp_path):
    (tmp_path / "empty").mkdir()
    assert prepare(tmp_path / "empty", tmp_path / "c1").status is Status.NO_FILES
    _put(tmp_path / "other", "hw/notes.py", "x = 1")
    _put(tmp_path / "other", "ch4_backprop_old.py.bak")
    _put(tmp_path / "other", ".hidden/ch4_backprop.py")
    _put(tmp_path / "other", "__MACOSX/ch4_backprop.py")
    prepared = prepare(tmp_path / "other", tmp_path / "c2")
    assert prepared.status is Status.NO_FILES and prepared.detail()
    assert list((tmp_path / "c2").iterdir()) == []


def test_two_candidates_for_one_module_are_ambiguous(tmp_path):
    _put(tmp_path / "sub", "v1/ch4_backprop.py")
    _put(tmp_path / "sub", "final/alice_ch4_backprop.py")
    _put(tmp_path / "sub", "ch1_ml_basics.py")
    prepared = prepare(tmp_path / "sub", tmp_path / "clean")
    assert prepared.status is Status.AMBIGUOUS
    assert sorted(prepared.ambiguous["ch4_backprop"]) == ["final/alice_ch4_backprop.py", "v1/ch4_backprop.py"]
    assert "v1/ch4_backprop.py" in prepared.detail() and "final/alice_ch4_backprop.py" in prepared.detail()


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_link_leaving_the_submission_is_unsafe_and_never_followed(tmp_path, kind):
    secret = _put(tmp_path / "outside", "ch4_backprop.py", "SECRET = 1\n")
    (tmp_path / "sub").mkdir()
    target = secret if kind == "file" else secret.parent
    os.symlink(target, tmp_path / "sub" / ("ch4_backprop.py" if kind == "file" else "exercises"))
    prepared = prepare(tmp_path / "sub", tmp_path / "clean")
    assert prepared.status is Status.UNSAFE and prepared.unsafe
    assert list((tmp_path / "clean").iterdir()) == []


def test_a_link_inside_the_submission_is_not_followed_but_allowed(tmp_path):
    _put(tmp_path / "sub", "exercises/ch4_backprop.py")
    os.symlink("exercises", tmp_path / "sub" / "latest")
    prepared = prepare(tmp_path / "sub", tmp_path / "clean")
    assert prepared.status is Status.OK and prepared.found == {"ch4_backprop": "exercises/ch4_backprop.py"}


def _notebook(path: Path, code: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": code}
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


def test_a_notebook_is_a_candidate_only_where_no_py_matches(tmp_path):
    pytest.importorskip("grader.notebook", reason="grader/notebook.py (notebook conversion) is not there yet")
    _notebook(tmp_path / "sub" / "alice_ch4_backprop.ipynb", CODE + "print('training...')\n")
    _notebook(tmp_path / "sub" / "ch1_ml_basics.ipynb", "y = 2\n")
    _put(tmp_path / "sub", "ch1_ml_basics.py", "x = 1\n")
    prepared = prepare(tmp_path / "sub", tmp_path / "clean")
    assert prepared.status is Status.OK
    assert prepared.found == {"ch1_ml_basics": "ch1_ml_basics.py", "ch4_backprop": "alice_ch4_backprop.ipynb"}
    converted = (tmp_path / "clean" / "ch4_backprop.py").read_text()
    assert "def linear_forward" in converted and "print" not in converted


def test_without_notebook_support_a_notebook_is_noted_not_graded(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "grader.notebook", None)  # import raises ImportError
    _notebook(tmp_path / "sub" / "ch4_backprop.ipynb", CODE)
    prepared = prepare(tmp_path / "sub", tmp_path / "clean")
    assert prepared.status is Status.NO_FILES
    assert "ch4_backprop.ipynb" in prepared.detail()


def test_exercises_folder_keeps_its_rule(tmp_path):
    _put(tmp_path / "ws", "exercises/ch4_backprop.py")
    assert exercises_folder(tmp_path / "ws") == tmp_path / "ws" / "exercises"
    _put(tmp_path / "flat", "ch4_backprop.py")
    assert exercises_folder(tmp_path / "flat") == tmp_path / "flat"


def test_status_is_a_plain_string_enum():
    assert Status.NO_FILES == "no_files" and str(Status.NO_FILES) == "no_files"
    assert {s.value for s in Status} == {"ok", "no_files", "ambiguous", "unsafe", "error", "timeout"}
