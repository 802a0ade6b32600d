"""`dlcourse init DIR`: a workspace with the stubs, never overwriting a file."""

from __future__ import annotations

from typer.testing import CliRunner

from dlcourse_cli.main import app
from tests.submissions import EXERCISES

runner = CliRunner()


def test_init_copies_the_stubs_into_a_new_workspace(tmp_path):
    result = runner.invoke(app, ["init", str(tmp_path / "ws")], catch_exceptions=False)
    assert result.exit_code == 0
    for stub in EXERCISES.glob("ch*.py"):
        assert (tmp_path / "ws" / "exercises" / stub.name).read_text() == stub.read_text()


def test_init_refuses_to_overwrite_existing_files(tmp_path):
    (tmp_path / "exercises").mkdir()
    mine = tmp_path / "exercises" / "ch4_backprop.py"
    mine.write_text("# my work")
    result = runner.invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 2
    assert "ch4_backprop.py" in result.stderr
    assert mine.read_text() == "# my work"
    assert not (tmp_path / "exercises" / "ch1_ml_basics.py").exists()
