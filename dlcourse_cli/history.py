"""The progress history: every `dlcourse check` appends its results to an SQLite
database in the workspace (`.dlcourse/progress.db`, beside the exercises folder).

Writes are single transactions in WAL mode with a busy timeout, so concurrent checks
never corrupt it; a file that is not a readable database is moved aside
(`progress.db.corrupt-<time>`) and recreated, with a note on stderr, never a crash.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import time
from pathlib import Path

SCHEMA_VERSION = 1
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
"""


def database_path(exercises_path: Path) -> Path:
    return Path(exercises_path).resolve().parent / ".dlcourse" / "progress.db"


def connect(exercises_path: Path) -> sqlite3.Connection:
    """Open (creating or recovering) the workspace's progress database."""
    path = database_path(exercises_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return _open(path)
    except sqlite3.DatabaseError as exc:
        backup = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        path.replace(backup)
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        print(f"dlcourse: the progress file was unreadable ({exc}); kept it as {backup.name} and started a new one.", file=sys.stderr)
        return _open(path)


def _open(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version not in (0, SCHEMA_VERSION):
        conn.close()
        raise sqlite3.DatabaseError(f"unknown schema version {version}")
    conn.executescript(SCHEMA)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    conn.commit()
    return conn


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
    try:
        conn = connect(exercises_path)
        with conn:
            conn.executemany(
                "INSERT INTO attempts (time, exercise, score, max_score, status, duration, source_hash, seed, device)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        conn.close()
    except (OSError, sqlite3.Error) as exc:
        print(f"dlcourse: could not record progress ({exc}).", file=sys.stderr)


def last_status(exercises_path: Path) -> dict[str, str]:
    """The latest status of each exercise, {} when there is no history yet."""
    if not database_path(exercises_path).is_file():
        return {}
    try:
        conn = connect(exercises_path)
        rows = conn.execute(
            "SELECT exercise, status FROM attempts a WHERE time = (SELECT MAX(time) FROM attempts b WHERE b.exercise = a.exercise)"
        ).fetchall()
        conn.close()
    except (OSError, sqlite3.Error):
        return {}
    return dict(rows)
