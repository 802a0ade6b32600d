"""The progress history: every `dlcourse check` appends its results, and every
`dlcourse hint` the hint level it showed, to an SQLite database in the workspace
(`.dlcourse/progress.db`, beside the exercises folder).

Each write is one short transaction in WAL mode with a generous busy timeout, so
several checks running at once (a watch and a check, two terminals) never corrupt it.
A file that is not a readable database, or one written in a format this version does
not know, is moved aside (`progress.db.corrupt-<time>` / `progress.db.old-<time>`)
and recreated, with a note on stderr, never a crash. Version 1 files (no hints table)
are upgraded in place.

Reading never creates the file: with no history yet, readers get empty results.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from grader.messages import text

SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    exercise TEXT NOT NULL,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    status TEXT NOT NULL,
    duration REAL NOT NULL,
    source_hash TEXT NOT NULL,
    seed INTEGER NOT NULL,
    device TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_exercise ON attempts (exercise, time);
CREATE TABLE IF NOT EXISTS hints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    exercise TEXT NOT NULL,
    level INTEGER NOT NULL
);
"""
ATTEMPT_COLUMNS = ("id", "time", "exercise", "score", "max_score", "status", "duration", "source_hash", "seed", "device")
HINT_COLUMNS = ("id", "time", "exercise", "level")


class FormatMismatch(sqlite3.DatabaseError):
    """A readable SQLite file whose tables this version of dlcourse does not know."""


@dataclass(frozen=True)
class Attempt:
    """One exercise in one recorded `dlcourse check`."""

    time: float
    """Seconds since the epoch when the check finished."""
    exercise: str
    score: float
    max_score: float
    status: str
    """One of grader.results.STATUSES."""
    duration: float
    """Seconds the exercise's checks took."""
    source_hash: str
    """First 16 hex digits of the SHA-256 of the student's function source."""
    seed: int
    device: str


def database_path(exercises_path: Path) -> Path:
    return Path(exercises_path).resolve().parent / ".dlcourse" / "progress.db"


def connect(exercises_path: Path) -> sqlite3.Connection:
    """Open (creating, upgrading or recovering) the workspace's progress database."""
    path = database_path(exercises_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return _open(path)
    except sqlite3.OperationalError:
        raise  # locked, read-only, disk full: not a reason to throw the history away
    except sqlite3.DatabaseError as exc:
        try:
            # another process may have recovered it in the meantime
            return _open(path)
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError:
            pass
        kind = "old" if isinstance(exc, FormatMismatch) else "corrupt"
        backup = path.with_name(f"{path.name}.{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**6:06d}")
        try:
            path.replace(backup)
        except FileNotFoundError:
            pass  # someone else moved it aside first
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        print(text(f"selfstudy.history_{kind}", detail=str(exc), backup=backup.name), file=sys.stderr)
        return _open(path)


def _open(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA journal_mode=WAL")
        _check_format(conn)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            with conn:  # one transaction: a concurrent opener waits, then sees the result
                conn.execute("BEGIN IMMEDIATE")
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    except BaseException:
        conn.close()
        raise
    return conn


def _check_format(conn: sqlite3.Connection) -> None:
    """Raise FormatMismatch unless the file is empty, version 1 or this version's format."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]  # DatabaseError if not a database
    if version not in (0, 1, SCHEMA_VERSION):
        raise FormatMismatch(f"unknown format version {version}")
    for table, columns in (("attempts", ATTEMPT_COLUMNS), ("hints", HINT_COLUMNS)):
        found = tuple(row[1] for row in conn.execute(f"PRAGMA table_info({table})"))
        if found and found != columns:
            raise FormatMismatch(f"table {table} has columns {', '.join(found)}")


def source_hash(exercises_path: Path, module: str, function: str) -> str:
    """A hash of the student's function source (or of the whole file if it cannot be found)."""
    import ast

    file = Path(exercises_path) / f"{module}.py"
    try:
        source = file.read_text(encoding="utf-8", errors="replace")
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef) and node.name == function:
                source = ast.get_source_segment(source, node) or source
                break
    except (OSError, SyntaxError, ValueError):
        source = ""
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def record(exercises_path: Path, report) -> None:
    """Append one row per exercise of `report`; a failure to write never fails a check."""
    from grader.curriculum import chapter, find

    now = time.time()
    rows = []
    for e in report.exercises:
        ex = find(e.id)
        rows.append((now, e.id, e.score, e.max_score, e.status, sum(c.duration for c in e.checks),
                     source_hash(exercises_path, chapter(ex.chapter).modules[0], ex.name), report.seed, report.device))
    _write(exercises_path, "INSERT INTO attempts (time, exercise, score, max_score, status, duration, source_hash, seed, device)"
           " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def record_hint(exercises_path: Path, exercise_id: str, level: int) -> None:
    """Remember that hints up to `level` of `exercise_id` were shown."""
    _write(exercises_path, "INSERT INTO hints (time, exercise, level) VALUES (?, ?, ?)", [(time.time(), exercise_id, level)])


def _write(exercises_path: Path, sql: str, rows: list[tuple]) -> None:
    try:
        conn = connect(exercises_path)
        try:
            with conn:
                conn.executemany(sql, rows)
        finally:
            conn.close()
    except (OSError, sqlite3.Error) as exc:
        print(text("selfstudy.history_unwritable", detail=str(exc)), file=sys.stderr)


def _read(exercises_path: Path, sql: str) -> list[tuple]:
    if not database_path(exercises_path).is_file():
        return []
    try:
        conn = connect(exercises_path)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()
    except (OSError, sqlite3.Error) as exc:
        print(text("selfstudy.history_unreadable", detail=str(exc)), file=sys.stderr)
        return []


def attempts(exercises_path: Path) -> list[Attempt]:
    """Every recorded attempt, oldest first."""
    rows = _read(exercises_path, f"SELECT {', '.join(ATTEMPT_COLUMNS[1:])} FROM attempts ORDER BY time, id")
    return [Attempt(*row) for row in rows]


def hints_shown(exercises_path: Path) -> dict[str, int]:
    """The highest hint level shown for each exercise, {} when none was."""
    return dict(_read(exercises_path, "SELECT exercise, MAX(level) FROM hints GROUP BY exercise"))


def last_status(exercises_path: Path) -> dict[str, str]:
    """The latest status of each exercise, {} when there is no history yet."""
    latest: dict[str, str] = {}
    for a in attempts(exercises_path):
        latest[a.exercise] = a.status
    return latest
