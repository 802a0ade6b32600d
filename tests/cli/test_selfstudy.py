"""The self-study commands: reset and undo, hints remembered, the notebook API, and
what they import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from dlcourse_cli import history, stubs
from dlcourse_cli.main import app
from tests.submissions import EXERCISES, write_submission

runner = CliRunner()

MY_SGD = '''def sgd_step(w, dw, lr):
    """My own version."""
    return w - lr * dw
'''


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def function_text(name: str, source: str | None = None) -> str:
    """The lines of function `name` in `source` (default: the ch4 stubs)."""
    source = source or (EXERCISES / "ch4_backprop.py").read_text(encoding="utf-8")
    first, last = stubs.function_span(source, name)
    return "".join(source.splitlines(keepends=True)[first - 1 : last])


def test_reset_restores_one_stub_and_undo_brings_it_back(tmp_path):
    path = write_submission(tmp_path / "exercises")  # the reference solutions play the student
    module = path / "ch4_backprop.py"
    module.write_text(module.read_text(encoding="utf-8").replace("\r\n", "\n"), encoding="utf-8")
    before = module.read_text(encoding="utf-8")
    mine = function_text("sgd_step", before)

    result = invoke("reset", "ch4.sgd_step", "--path", str(path))
    assert result.exit_code == 0, result.stdout
    after = module.read_text(encoding="utf-8")
    assert function_text("sgd_step") in after and mine not in after
    # everything around the function is unchanged
    assert after.replace(function_text("sgd_step"), mine) == before
    [backup] = (tmp_path / ".dlcourse" / "backups").iterdir()
    assert (backup / "ch4_backprop.py").read_text(encoding="utf-8") == before
    assert "--undo" in result.stdout

    # resetting the stub again changes nothing and makes no backup
    assert "already" in invoke("reset", "ch4.sgd_step", "--path", str(path)).stdout
    assert len(list((tmp_path / ".dlcourse" / "backups").iterdir())) == 1

    result = invoke("reset", "--undo", "--path", str(path))
    assert result.exit_code == 0
    assert module.read_text(encoding="utf-8") == before
    assert invoke("reset", "--undo", "--path", str(path)).exit_code == 2  # nothing left to undo


def test_undo_keeps_edits_made_elsewhere_in_the_file(tmp_path):
    path = write_submission(tmp_path / "exercises", base=EXERCISES)
    module = path / "ch4_backprop.py"
    module.write_text(module.read_text(encoding="utf-8") + "\n\n" + MY_SGD, encoding="utf-8")
    assert invoke("reset", "ch4.sgd_step", "--path", str(path)).exit_code == 0
    assert "My own version" not in module.read_text(encoding="utf-8")
    module.write_text(module.read_text(encoding="utf-8") + "\nEXTRA = 1\n", encoding="utf-8")  # edited after the reset
    assert invoke("reset", "--undo", "--path", str(path)).exit_code == 0
    text = module.read_text(encoding="utf-8")
    assert "My own version" in text and "EXTRA = 1" in text


def test_reset_errors_are_usage_errors(tmp_path):
    path = write_submission(tmp_path / "exercises", base=EXERCISES)
    assert invoke("reset", "ch4.sgd_stp", "--path", str(path)).exit_code == 2
    assert invoke("reset", "--path", str(path)).exit_code == 2
    (path / "ch4_backprop.py").write_text("def sgd_step(:\n", encoding="utf-8")
    result = invoke("reset", "ch4.sgd_step", "--path", str(path))
    assert result.exit_code == 2 and "line 1" in result.stderr


def test_hint_remembers_the_levels_shown(tmp_path):
    path = tmp_path / "exercises"
    path.mkdir()
    assert invoke("hint", "ch4.linear_backward", "--level", "2", "--path", str(path)).exit_code == 0
    assert invoke("hint", "ch4.linear_backward", "--path", str(path)).exit_code == 0
    assert history.hints_shown(path) == {"ch4.linear_backward": 2}
    result = invoke("progress", "--json", "--path", str(path))
    row = next(e for e in json.loads(result.stdout)["exercises"] if e["id"] == "ch4.linear_backward")
    assert row["hints_shown"] == 2


@pytest.mark.slow
def test_notebook_api_renders_the_table_and_returns_the_report(tmp_path, capsys):
    from dlcourse_cli import check

    path = write_submission(tmp_path / "exercises")
    report = check("ch4.sgd_step", path=path, seed=3)
    assert report.all_passed and report.score == report.max_score > 0 and report.seed == 3
    out = capsys.readouterr().out
    assert "ch4.sgd_step" in out and "Score" in out
    assert history.last_status(path) == {"ch4.sgd_step": "passed"}
    with pytest.raises(FileNotFoundError):
        check("ch4.sgd_step", path=tmp_path / "nowhere", show=False)


@pytest.mark.parametrize("code", [
    "import dlcourse_cli",
    "from dlcourse_cli import check",
    "from dlcourse_cli.main import app\ntry:\n    app(['progress', '--path', {tmp!r}])\nexcept SystemExit:\n    pass",
    "from dlcourse_cli.main import app\ntry:\n    app(['report', '--html', {tmp!r} + '/r.html', '--path', {tmp!r}])\nexcept SystemExit:\n    pass",
    "from dlcourse_cli.main import app\ntry:\n    app(['reset', 'ch4.sgd_step', '--path', {tmp!r}])\nexcept SystemExit:\n    pass",
])
def test_self_study_commands_and_the_api_do_not_import_torch(code, tmp_path):
    write_submission(tmp_path / "exercises", base=EXERCISES)
    script = code.format(tmp=str(tmp_path / "exercises")) + "\nimport sys\nassert 'torch' not in sys.modules, 'torch was imported'\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
