"""The SQLite progress history: concurrent writers, recovery from a corrupt or
old-format file, and hint levels."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

from dlcourse_cli import history
from tests.progress.fixtures import FakeExercise, FakeReport


def workspace(tmp_path):
    path = tmp_path / "exercises"
    path.mkdir()
    return path


def test_record_and_read_back(tmp_path):
    path = workspace(tmp_path)
    history.record(path, FakeReport([FakeExercise("ch4.sgd_step", 2, 2, "passed"), FakeExercise("ch4.linear_forward", 0, 2, "failed")]))
    got = history.attempts(path)
    assert [(a.exercise, a.score, a.max_score, a.status) for a in got] == [
        ("ch4.sgd_step", 2, 2, "passed"), ("ch4.linear_forward", 0, 2, "failed")]
    assert all(len(a.source_hash) == 16 and a.duration > 0 for a in got)
    assert history.last_status(path) == {"ch4.sgd_step": "passed", "ch4.linear_forward": "failed"}


def test_reading_without_history_creates_nothing(tmp_path):
    path = workspace(tmp_path)
    assert history.attempts(path) == [] and history.hints_shown(path) == {}
    assert not history.database_path(path).exists()


def test_hint_levels_keep_the_highest(tmp_path):
    path = workspace(tmp_path)
    for level in (1, 3, 2):
        history.record_hint(path, "ch4.sgd_step", level)
    assert history.hints_shown(path) == {"ch4.sgd_step": 3}


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from dlcourse_cli import history
    from tests.progress.fixtures import FakeExercise, FakeReport

    path, n = Path(sys.argv[1]), int(sys.argv[2])
    for i in range(n):
        history.record(path, FakeReport([FakeExercise("ch4.sgd_step", i % 3, 2, "failed"), FakeExercise("ch1.softmax", 3, 3, "passed")]))
        history.record_hint(path, "ch4.sgd_step", 1 + i % 4)
""")


def test_concurrent_writers_lose_nothing_and_corrupt_nothing(tmp_path):
    """Several processes create and write the same (not yet existing) database at once."""
    path = workspace(tmp_path)
    procs, rounds = 6, 15
    running = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(rounds)], stderr=subprocess.PIPE, text=True, cwd=_root())
        for _ in range(procs)
    ]
    errors = [p.communicate(timeout=120)[1] for p in running]
    assert [p.returncode for p in running] == [0] * procs, errors
    assert not any(errors), errors  # no "could not record", no recovery message
    conn = sqlite3.connect(history.database_path(path))
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == procs * rounds * 2
    assert conn.execute("SELECT COUNT(*) FROM hints").fetchone()[0] == procs * rounds
    conn.close()
    assert list(history.database_path(path).parent.glob("progress.db.*-*")) == []  # nothing moved aside


def test_a_corrupt_file_is_kept_aside_and_replaced(tmp_path, capsys):
    path = workspace(tmp_path)
    db = history.database_path(path)
    db.parent.mkdir()
    db.write_bytes(b"this is not an SQLite database, it was truncated by a crash" * 50)
    history.record(path, FakeReport([FakeExercise("ch4.sgd_step", 2, 2, "passed")]))
    assert [a.exercise for a in history.attempts(path)] == ["ch4.sgd_step"]
    backups = list(db.parent.glob("progress.db.corrupt-*"))
    assert len(backups) == 1 and backups[0].read_bytes().startswith(b"this is not")
    err = capsys.readouterr().err
    assert "could not be read" in err and backups[0].name in err


def test_an_old_format_file_is_kept_aside_and_replaced(tmp_path, capsys):
    path = workspace(tmp_path)
    db = history.database_path(path)
    db.parent.mkdir()
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE attempts (exercise TEXT, passed INTEGER)")  # a pre-release layout
    conn.execute("INSERT INTO attempts VALUES ('ch4.sgd_step', 1)")
    conn.commit()
    conn.close()
    assert history.last_status(path) == {}  # reading recovers too, without a crash
    assert "another version" in capsys.readouterr().err
    [backup] = db.parent.glob("progress.db.old-*")
    assert sqlite3.connect(backup).execute("SELECT * FROM attempts").fetchall() == [("ch4.sgd_step", 1)]
    history.record(path, FakeReport([FakeExercise("ch4.sgd_step", 2, 2, "passed")]))
    assert history.last_status(path) == {"ch4.sgd_step": "passed"}


def test_a_newer_format_version_is_kept_aside(tmp_path, capsys):
    path = workspace(tmp_path)
    db = history.database_path(path)
    db.parent.mkdir()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    history.record_hint(path, "ch4.sgd_step", 1)
    assert history.hints_shown(path) == {"ch4.sgd_step": 1}
    assert len(list(db.parent.glob("progress.db.old-*"))) == 1
    assert "version 99" in capsys.readouterr().err


def test_a_version_1_file_is_upgraded_in_place(tmp_path):
    path = workspace(tmp_path)
    db = history.database_path(path)
    db.parent.mkdir()
    conn = sqlite3.connect(db)
    conn.executescript(history.SCHEMA.split("CREATE TABLE IF NOT EXISTS hints")[0])
    conn.execute("INSERT INTO attempts (time, exercise, score, max_score, status, duration, source_hash, seed, device)"
                 " VALUES (1, 'ch1.softmax', 3, 3, 'passed', 0.1, 'h', 0, 'cpu')")
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    history.record_hint(path, "ch1.softmax", 2)
    assert history.last_status(path) == {"ch1.softmax": "passed"}
    assert history.hints_shown(path) == {"ch1.softmax": 2}
    assert list(db.parent.glob("progress.db.*-*")) == []


def _root():
    from pathlib import Path

    return str(Path(__file__).resolve().parents[2])
