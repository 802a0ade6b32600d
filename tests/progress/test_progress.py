"""`dlcourse progress`: the per-chapter summary in JSON and for people."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from dlcourse_cli import summary
from dlcourse_cli.main import app
from tests.progress.fixtures import SAMPLE, add_attempts

runner = CliRunner()


def test_progress_json_sums_up_each_chapter(tmp_path):
    path = tmp_path / "exercises"
    path.mkdir()
    add_attempts(path, SAMPLE)
    result = runner.invoke(app, ["progress", "--json", "--path", str(path)], catch_exceptions=False)
    assert result.exit_code == 0
    data = json.loads(result.stdout)  # stdout holds only JSON
    chapters = {c["id"]: c for c in data["chapters"]}
    ch4 = chapters["ch4"]
    assert (ch4["passed"], ch4["partial"]) == (1, 1)
    assert ch4["not_started"] == ch4["exercises"] - 2
    assert ch4["score"] == 3 and ch4["max_score"] > 3
    assert ch4["first_pass"] is not None and ch4["first_pass"] == ch4["latest_pass"]
    assert ch4["next"] == "ch4.linear_forward"  # the partly done one comes first
    # time spent: the gaps between ch4's checks (60 s, 60 s, 280 s) plus the checks themselves
    assert ch4["time_spent"] == 60 + 60 + 280 + 4 * 0.5
    assert chapters["ch1"]["passed"] == 1 and chapters["ch1"]["next"] == "ch1.log_softmax"
    assert chapters["ch2"]["passed"] == 0 and chapters["ch2"]["first_pass"] is None
    assert data["next"] == "ch4.linear_forward"  # the last chapter checked was ch4
    assert data["score"] == 3 + 2
    exercise = next(e for e in data["exercises"] if e["id"] == "ch4.sgd_step")
    assert exercise["attempts"] == 2 and exercise["state"] == "passed"


def test_a_gap_of_more_than_half_an_hour_is_not_counted_as_work(tmp_path):
    path = tmp_path / "exercises"
    path.mkdir()
    add_attempts(path, [(0, "ch4.sgd_step", 0, 2, "failed"), (3000, "ch4.sgd_step", 2, 2, "passed")])
    assert summary.summarise(path).chapters[3].time_spent == 2 * 0.5


def test_a_regression_and_a_reset_count_from_the_latest_check(tmp_path):
    path = tmp_path / "exercises"
    path.mkdir()
    add_attempts(path, [(0, "ch4.sgd_step", 2, 2, "passed"), (10, "ch4.sgd_step", 1, 2, "failed"),
                        (20, "ch4.linear_forward", 2, 2, "passed"), (30, "ch4.linear_forward", 0, 2, "not_started")])
    progress = summary.summarise(path)
    by_id = {e.id: e for e in progress.exercises}
    assert by_id["ch4.sgd_step"].state == "partial" and by_id["ch4.sgd_step"].first_pass is not None
    assert by_id["ch4.linear_forward"].state == "not_started"
    assert [v for _, v in progress.timeline] == [2, 1, 3, 1]


def test_progress_without_history_suggests_the_first_exercise(tmp_path):
    result = runner.invoke(app, ["progress", "--path", str(tmp_path / "exercises")], catch_exceptions=False)
    assert result.exit_code == 0
    assert "ch1.softmax" in result.stdout and "Next:" in result.stdout
    assert not (tmp_path / ".dlcourse").exists()


def test_progress_view_for_people(tmp_path):
    path = tmp_path / "exercises"
    path.mkdir()
    add_attempts(path, SAMPLE)
    for columns in ("80", "140"):
        result = runner.invoke(app, ["progress", "--path", str(path)], env={"COLUMNS": columns}, catch_exceptions=False)
        assert result.exit_code == 0
        lines = result.stdout.splitlines()
        row = next(line for line in lines if line.startswith("ch4 "))
        assert "1✓ 1~" in row and "ch4.linear_forward" in row
        assert max(len(line) for line in lines) <= int(columns)
        assert "Score 5 /" in result.stdout
