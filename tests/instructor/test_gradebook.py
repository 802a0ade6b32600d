"""The CSV gradebook: safe cells, atomic rows, torn rows found on resume, retries, the
roster join, sharding and merging. Grading itself is replaced by a fake here (the
end-to-end runs are in test_batch.py)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlcourse_cli.main import app
from grader import batch, gradebook
from grader.curriculum import resolve_targets
from grader.gradebook import Row, Status

runner = CliRunner()
TARGET = "ch4.linear_forward"
EXERCISES = resolve_targets([TARGET])
COLUMNS = gradebook.columns(["ch4"], [TARGET])


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return {r["submission"]: r for r in csv.DictReader(f)}


def test_cells_escape_formulas_keep_numbers_and_leave_ungraded_scores_blank():
    row = Row("=HYPERLINK(\"x\")", Status.ERROR, detail="@SUM(A1)\nline two", scores={})
    cells = dict(zip(COLUMNS, row.cells(COLUMNS)))
    assert cells["submission"] == "'=HYPERLINK(\"x\")" and cells["detail"] == "'@SUM(A1) line two"
    assert cells["total"] == cells["max_total"] == cells[TARGET] == ""  # blank, not 0
    graded = Row("bob", Status.OK, -1.5, 2, {TARGET: -1.5, "ch4": -1.5}, isolation="bwrap",
                 integrity={TARGET: ["grader_frames", "grader_modules"]})
    cells = dict(zip(COLUMNS, graded.cells(COLUMNS)))
    assert cells["total"] == "-1.5" and cells[TARGET] == "-1.5"
    assert cells["isolation"] == "bwrap" and cells["integrity"] == f"{TARGET}: grader_frames, grader_modules"


def test_a_row_is_appended_with_one_write(tmp_path, monkeypatch):
    writes = []
    real = os.write
    monkeypatch.setattr(gradebook.os, "write", lambda fd, data: writes.append(data) or real(fd, data))
    app_ = gradebook.Appender(tmp_path / "b.csv")
    app_.append(Row("alice", Status.OK, 2, 2, {TARGET: 2, "ch4": 2}, detail="a, b").cells(COLUMNS))
    app_.close()
    assert len(writes) == 1 and writes[0].endswith(b"\n") and writes[0].count(b"\n") == 1


@pytest.mark.parametrize("tail", ["carol,ok,2,2,2", "carol,ok,2,2,2,bwrap\n", "carol,o"])
def test_a_torn_last_row_is_detected(tmp_path, tail):
    path = tmp_path / "b.csv"
    good = gradebook.line(COLUMNS) + gradebook.line(Row("alice", Status.OK, 1, 2, {TARGET: 1, "ch4": 1}).cells(COLUMNS))
    path.write_text(good + tail)
    book = gradebook.read(path)
    assert book.torn == 1 and [r["submission"] for r in book.rows] == ["alice"]


def _fake(monkeypatch, calls: list[str], status: dict[str, Status] | None = None):
    def grade_one(name, path, targets, timeout, extra_args=(), reports=None, children=None, note=""):
        calls.append(name)
        assert Path(path).is_absolute()
        s = (status or {}).get(name, Status.OK)
        if s is not Status.OK:
            return Row(name, s, detail="boom")
        return Row(name, s, 2, 2, {TARGET: 2, "ch4": 2}, isolation="bwrap", detail=note)

    monkeypatch.setattr(batch, "grade_one", grade_one)


def _class(root: Path, names=("alice", "bob", "carol")) -> Path:
    for n in names:
        (root / "subs" / n).mkdir(parents=True)
    return root / "subs"


def test_resume_regrades_a_torn_row_and_retry_errors_replaces_error_rows(tmp_path, monkeypatch):
    subs, out = _class(tmp_path), tmp_path / "book.csv"
    out.write_text(gradebook.line(COLUMNS) + gradebook.line(Row("alice", Status.OK, 1, 2, {TARGET: 1, "ch4": 1}).cells(COLUMNS))
                   + gradebook.line(Row("bob", Status.TIMEOUT).cells(COLUMNS)) + "carol,ok,2,2")
    calls: list[str] = []
    _fake(monkeypatch, calls)
    outcome = batch.grade_batch(subs, out, EXERCISES, [TARGET])
    assert calls == ["carol"] and outcome.torn == 1 and outcome.skipped == 2
    assert {k: r["status"] for k, r in _rows(out).items()} == {"alice": "ok", "bob": "timeout", "carol": "ok"}
    calls.clear()
    outcome = batch.grade_batch(subs, out, EXERCISES, [TARGET], retry_errors=True)
    assert calls == ["bob"] and outcome.retried == 1
    rows = _rows(out)
    assert list(rows) == ["alice", "bob", "carol"] and rows["bob"]["status"] == "ok" and rows["alice"]["total"] == "1"
    assert gradebook.read(out).torn == 0


def test_a_folder_and_a_zip_with_one_stem_are_one_submission(tmp_path, monkeypatch):
    subs = _class(tmp_path, ["alice"])
    (subs / "alice.zip").write_bytes(b"PK")
    (subs / "bob.zip").write_bytes(b"PK")
    calls: list[str] = []
    _fake(monkeypatch, calls)
    batch.grade_batch(subs, tmp_path / "b.csv", EXERCISES, [TARGET])
    rows = _rows(tmp_path / "b.csv")
    assert sorted(calls) == ["alice", "bob"] and "alice.zip" in rows["alice"]["detail"]


def test_roster_adds_student_ids_and_names(tmp_path, monkeypatch):
    subs = _class(tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text("submission,student_id,name\nalice,2026001,Alice Kim\nbob,=2026002,Bob\ndan,2026004,Dan\n", encoding="utf-8")
    _fake(monkeypatch, [], {"bob": Status.NO_FILES})
    outcome = batch.grade_batch(subs, tmp_path / "b.csv", EXERCISES, [TARGET], roster=gradebook.read_roster(roster), bom=True)
    assert (tmp_path / "b.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    rows = _rows(tmp_path / "b.csv")
    assert list(next(iter(rows.values())))[:3] == ["submission", "student_id", "name"]
    assert rows["alice"]["student_id"] == "2026001" and rows["alice"]["name"] == "Alice Kim"
    assert rows["bob"]["student_id"] == "'=2026002" and rows["bob"]["total"] == ""
    assert rows["carol"]["student_id"] == ""
    assert outcome.not_on_roster == ["carol"] and outcome.without_submission == ["dan"]


def test_shards_never_overlap_cover_all_and_ignore_the_listing_order():
    names = [f"student{i:03d}" for i in range(200)]
    shards = [{n for n in names if batch.in_shard(n, (i, 4))} for i in range(1, 5)]
    assert set().union(*shards) == set(names) and sum(map(len, shards)) == len(names)
    assert all(len(s) > 20 for s in shards)  # a split, not everything in one
    assert [{n for n in reversed(names) if batch.in_shard(n, (i, 4))} for i in range(1, 5)] == shards
    assert batch.parse_shard("2/4") == (2, 4)
    for bad in ("0/4", "5/4", "x", "1/0"):
        with pytest.raises(ValueError):
            batch.parse_shard(bad)


def test_merge_joins_shards_sorted_and_refuses_duplicates_and_other_columns(tmp_path):
    one, two = tmp_path / "s1.csv", tmp_path / "s2.csv"
    gradebook.write(one, COLUMNS, [dict(zip(COLUMNS, Row("carol", Status.OK, 2, 2).cells(COLUMNS)))])
    gradebook.write(two, COLUMNS, [dict(zip(COLUMNS, Row("alice", Status.NO_FILES).cells(COLUMNS)))])
    (tmp_path / "s1-reports").mkdir()
    (tmp_path / "s1-reports" / "carol.json").write_text("{}")
    result = runner.invoke(app, ["gradebook", "merge", str(tmp_path / "all.csv"), str(one), str(two)])
    assert result.exit_code == 0, result.output
    assert list(_rows(tmp_path / "all.csv")) == ["alice", "carol"]
    assert (tmp_path / "all-reports" / "carol.json").is_file()

    result = runner.invoke(app, ["gradebook", "merge", str(tmp_path / "dup.csv"), str(one), str(one)])
    assert result.exit_code == 2 and "carol" in result.output and not (tmp_path / "dup.csv").exists()
    other = tmp_path / "other.csv"
    gradebook.write(other, gradebook.columns(["ch4"], [TARGET], roster=True), [])
    result = runner.invoke(app, ["gradebook", "merge", str(tmp_path / "x.csv"), str(one), str(other)])
    assert result.exit_code == 2 and not (tmp_path / "x.csv").exists()
    (tmp_path / "torn.csv").write_text(gradebook.line(COLUMNS) + "bob,ok")
    result = runner.invoke(app, ["gradebook", "merge", str(tmp_path / "y.csv"), str(one), str(tmp_path / "torn.csv")])
    assert result.exit_code == 2


def test_bad_shard_and_bad_roster_are_usage_errors(tmp_path):
    subs = _class(tmp_path, ["alice"])
    result = runner.invoke(app, ["grade-batch", str(subs), "--out", str(tmp_path / "b.csv"), "--shard", "3/2"])
    assert result.exit_code == 2
    (tmp_path / "r.csv").write_text("name,id\nx,1\n")
    result = runner.invoke(app, ["grade-batch", str(subs), "--out", str(tmp_path / "b.csv"), "--roster", str(tmp_path / "r.csv")])
    assert result.exit_code == 2
