"""The `dlcourse` command line, through Typer's CliRunner (and a subprocess where the
question is what the process imports)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from dlcourse_cli.main import app
from tests.submissions import EXERCISES, SOLUTIONS, write_submission

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_list_json_has_every_exercise_with_its_fields(tmp_path):
    result = invoke("list", "--json", "--path", str(tmp_path / "exercises"))
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert {"ch1.softmax", "ch4.linear_backward", "ch11.clip_loss"} <= {r["id"] for r in rows}
    row = next(r for r in rows if r["id"] == "ch4.linear_backward")
    assert row["chapter"] == "ch4" and row["points"] > 0 and row["title"] and row["title"] != "title.ch4.linear_backward"


def test_unknown_target_is_a_usage_error_with_suggestions():
    result = invoke("check", "ch4.linear_backwrd")
    assert result.exit_code == 2
    assert "Did you mean: ch4.linear_backward" in result.stderr


def test_missing_exercises_folder_is_a_usage_error(tmp_path):
    result = invoke("check", "ch4", "--path", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert "No exercises folder" in result.stderr


@pytest.mark.slow
def test_device_cuda_runs_on_a_gpu_or_is_a_usage_error_without_one():
    import torch

    result = invoke("check", "ch4.sgd_step", "--path", str(SOLUTIONS), "--device", "cuda")
    if torch.cuda.is_available():
        assert result.exit_code == 0, result.stdout
    else:
        assert result.exit_code == 2
        assert "not available" in result.stderr


def test_hint_levels_are_progressive():
    first = invoke("hint", "ch4.linear_backward")
    second = invoke("hint", "ch4.linear_backward", "--level", "2")
    assert first.exit_code == second.exit_code == 0
    assert "Hint 1 of" in first.stdout and "Hint 2 of" not in first.stdout
    assert "--level 2" in first.stdout
    assert "Hint 2 of" in second.stdout


def test_hint_for_unknown_exercise_is_a_usage_error():
    result = invoke("hint", "ch4.nothing_like_this")
    assert result.exit_code == 2


@pytest.mark.slow
def test_stubs_are_not_started_and_exit_1(tmp_path):
    path = write_submission(tmp_path / "exercises", base=EXERCISES)
    result = invoke("check", "ch4", "--path", str(path), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["score"] == 0 and report["max_score"] > 0
    assert {e["status"] for e in report["exercises"]} == {"not_started"}


@pytest.mark.slow
def test_reference_gets_full_marks_and_exit_0_with_the_documented_json(tmp_path):
    path = write_submission(tmp_path / "exercises")
    result = invoke("check", "ch4", "--path", str(path), "--json", "--seed", "7")
    assert result.exit_code == 0, result.stdout
    report = json.loads(result.stdout)  # stdout holds only JSON
    assert {"version", "seed", "device", "score", "max_score", "exercises"} <= set(report)
    assert report["seed"] == 7 and report["device"] == "cpu"
    assert report["score"] == report["max_score"] > 0
    exercise = report["exercises"][0]
    assert {"id", "chapter", "score", "max_score", "status", "checks"} <= set(exercise)
    assert {"name", "score", "max_score", "status", "visibility", "message"} <= set(exercise["checks"][0])


@pytest.mark.slow
def test_a_failure_is_explained_under_the_table_and_exit_1(tmp_path):
    path = write_submission(tmp_path / "exercises")
    with open(path / "ch4_backprop.py", "a") as f:
        f.write("\n\ndef linear_backward(dout, x, W):\n    return dout @ W.T, dout.T @ x, dout.sum(0)\n")
    result = invoke("check", "ch4.linear_backward", "--path", str(path))
    assert result.exit_code == 1
    assert "ch4.linear_backward" in result.stdout
    assert "transposed" in result.stdout
    assert "--seed" in result.stdout  # how to reproduce the run


@pytest.mark.slow
def test_same_seed_same_report(tmp_path):
    path = write_submission(tmp_path / "exercises")
    with open(path / "ch4_backprop.py", "a") as f:
        f.write("\n\ndef sgd_step(w, dw, lr):\n    return w - lr * dw * (1 + (w.abs() > 1.5))\n")
    runs = [json.loads(invoke("check", "ch4.sgd_step", "--path", str(path), "--json", "--seed", "3").stdout) for _ in range(2)]
    for r in runs:
        r.pop("duration")
        for e in r["exercises"]:
            for c in e["checks"]:
                c.pop("duration")
    assert runs[0] == runs[1]
    assert runs[0]["score"] < runs[0]["max_score"]


@pytest.mark.parametrize("args", [["--help"], ["list"], ["hint", "ch4.sgd_step"]])
def test_fast_commands_do_not_import_torch(args):
    code = (
        "import sys\n"
        "from dlcourse_cli.main import app\n"
        f"try:\n    app({args!r})\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
