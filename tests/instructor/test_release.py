"""`dlcourse release`: the student edition holds no reference code and no hidden check,
records what a student's `check` draws, and fails as a whole when a chapter's recording
fails. Installed and run, it is tested in `tests/deployed/test_release.py`."""

from __future__ import annotations

import ast
import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlcourse_cli.main import app
from grader import release
from tests.submissions import SOLUTIONS

CHECKS = Path(release.__file__).parent / "checks"
CHAPTER = "ch4"


def reference_bodies() -> dict[str, str]:
    """`module.function` -> ast.unparse of its body without the docstring (the docstring is
    shared with the stub on purpose)."""
    out = {}
    for path in SOLUTIONS.glob("ch*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body[1:] if ast.get_docstring(node) is not None else node.body
                if body:
                    out[f"{path.stem}.{node.name}"] = ast.unparse(ast.Module(body=body, type_ignores=[]))
    return out


def hidden_check_names() -> list[str]:
    names = []
    for path in CHECKS.glob("ch*.py"):
        names += release.strip_hidden(path.read_text(encoding="utf-8"))[1]
    return names


@pytest.fixture(scope="module")
def built(student_release) -> Path:
    """The session's release of every chapter (`tests.graded`), read only."""
    return student_release()


@pytest.mark.slow
def test_release_has_no_solutions_tests_or_instructor_commands(built):
    assert sorted(p.name for p in built.iterdir()) == ["README.md", "dlcourse_cli", "exercises", "grader", "pyproject.toml"]
    files = {p.relative_to(built).as_posix() for p in built.rglob("*") if p.is_file()}
    assert not any(f.startswith(("solutions/", "tests/")) for f in files)
    assert "dlcourse_cli/commands/grade.py" not in files and "grader/release.py" not in files
    assert {"grader/recorded/references.wire", "grader/recorded/meta.json", f"grader/checks/{CHAPTER}_backprop.py"} <= files
    assert not any(f.endswith((".pyc", ".pickle", ".pkl", ".pt")) for f in files)


@pytest.mark.slow
def test_release_holds_no_reference_body_and_no_hidden_check_name(built):
    everything = "\n".join(p.read_bytes().decode("utf-8", "replace") for p in built.rglob("*") if p.is_file())
    hidden = hidden_check_names()
    assert hidden
    for name in hidden:
        assert name not in everything and name.removeprefix("check_") not in everything, name
    bodies = reference_bodies()
    shipped = set()
    for path in built.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body[1:] if ast.get_docstring(node) is not None else node.body
                shipped.add(ast.unparse(ast.Module(body=body, type_ignores=[])))
    for name, body in bodies.items():
        assert body not in shipped, f"the body of {name} is in the release"
        if body.count("\n") >= 1:  # multi-line bodies, also as raw text
            assert body not in everything, f"the body of {name} is in the release"


@pytest.mark.slow
def test_recorded_outputs_are_wire_data_and_the_release_pins_hypothesis(built):
    import hypothesis

    from grader import replay

    data = (built / "grader" / "recorded" / "references.wire").read_bytes()
    table = replay.loads(data)
    assert isinstance(table, dict) and len(table) > 0
    meta = json.loads((built / "grader" / "recorded" / "meta.json").read_text())
    assert meta["hypothesis"] == hypothesis.__version__ and meta["entries"] == len(table)
    assert meta["hidden"]["ch4.linear_backward"] == 1
    assert f'"hypothesis=={hypothesis.__version__}"' in (built / "pyproject.toml").read_text()


@pytest.mark.slow
def test_a_release_of_one_chapter_records_that_chapter_only(tmp_path, built):
    """`--chapter` (recorded in this process with `--jobs 1`): ch11's inputs, all among
    those of the session's release of every chapter (recorded two chapters at a time)."""
    out = tmp_path / "dlcourse-student"
    result = CliRunner().invoke(app, ["release", str(out), "--chapter", "ch11", "--jobs", "1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    from grader import replay

    table = replay.load_table(out / "grader" / "recorded")
    meta = json.loads((out / "grader" / "recorded" / "meta.json").read_text())
    assert meta["entries"] == len(table) > 0
    assert meta["hidden"] and all(key.startswith("ch11.") for key in meta["hidden"])
    everything = replay.load_table(built / "grader" / "recorded")
    assert set(table) < set(everything)


def test_strip_hidden_removes_hidden_checks_and_helpers_only_they_use():
    source = '''"""Checks."""
from grader.checks import exercise

SHARED = 3


def _only_hidden(x):
    return x + 1


def _deeper():
    return _only_hidden(2)


def _both(x):
    return x


@exercise("ch0.f", points=1)
def check_public(student, ref):
    _both(SHARED)


# the hidden one
@exercise("ch0.f", points=1, hidden=True)
def check_secret_edge_cases(student, ref):
    _both(_deeper())
'''
    text, names = release.strip_hidden(source)
    assert names == ["check_secret_edge_cases"]
    assert "check_secret" not in text and "the hidden one" not in text
    assert "_only_hidden" not in text and "_deeper" not in text
    assert "def _both" in text and "SHARED = 3" in text and "def check_public" in text
    ast.parse(text)
    assert release.hidden_counts(source) == {"ch0.f": 1}


def test_a_check_that_imports_the_references_directly_is_refused():
    assert release._imports_solutions("from solutions.ch4_backprop import linear_forward")
    assert release._imports_solutions("import solutions.ch4_backprop as s")
    assert not release._imports_solutions("from grader.compare import expect_close")


def test_release_into_a_non_empty_folder_is_a_usage_error(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    result = CliRunner().invoke(app, ["release", str(tmp_path)])
    assert result.exit_code == 2
    assert (tmp_path / "keep.txt").read_text() == "mine"


def _children() -> list[str]:
    """The command lines of this process's living children."""
    import os

    pids = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        pids += (task / "children").read_text().split()
    lines = []
    for pid in pids:
        try:
            lines.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            pass  # gone meanwhile
    return lines


@pytest.mark.slow
def test_a_release_recorded_chapter_by_chapter_holds_every_input_check_all_draws(student_release):
    """`dlcourse release --jobs N` records each chapter in a process of its own, and a
    student's `check all` draws every chapter after the ones before it: each of those
    draws is in the release's table (the session's release is built with --jobs 2). A draw
    that depended on the checks run before it would be missed and its example silently
    discarded (ch6's dropout after ch4's relu did). The outputs are the references': the
    release tests compare the release's verdicts with the full package's."""
    from grader import replay, runner
    from grader.curriculum import exercises
    from grader.inprocess import InProcessWorker

    recorder = replay.Recorder()
    runner.run(list(exercises()), path=SOLUTIONS, seed=runner.DEFAULT_SEED, include_hidden=False,
               profile=release.RECORD_PROFILE, recorder=recorder, worker=InProcessWorker(SOLUTIONS))
    table = replay.load_table(student_release() / "grader" / "recorded")
    missed = [k for k in recorder.outputs if k not in table]
    assert len(recorder.outputs) > 5000 and not missed, f"{len(missed)} of {len(recorder.outputs)} inputs missed"


def test_a_chapter_whose_recording_fails_fails_the_release_and_stops_the_others():
    started = time.monotonic()
    with pytest.raises(release.ReleaseError, match=r"recording ch99 failed \(exit 2\).*ch99"):
        release.record_chapters(["ch99", "ch8"], jobs=2)
    assert time.monotonic() - started < 60  # ch8's recording (half a minute and more) was stopped
    assert not [c for c in _children() if "grader record" in c]
