"""The CSV gradebook of a batch: its columns, its rows, and how they reach the disk.

One row per submission, one physical line per row (every cell goes through
`grader.sanitize.csv_cell`: one line, formula characters escaped, numbers untouched):

    submission[,student_id,name],status,total,max_total,<chapter>...,<exercise>...,
    isolation,integrity,seconds,detail

`student_id` and `name` are there when a roster is given. A row whose status is not `ok`
has empty scores (blank, not zero: nothing was graded). `integrity` lists the flagged
exercises (`ch4.linear_forward: grader_frames; ch4.sgd_step: grader_modules`).

Rows are appended with one `write()` of the whole line, then flushed and fsynced, so a
batch killed mid-write leaves at most one torn last line; `read` detects it (no trailing
newline, or the wrong number of cells) and drops it, so the submission is graded again.

    book = read(Path("gradebook.csv"))          # header, rows, torn
    merge(Path("all.csv"), [Path("s1.csv"), Path("s2.csv")])
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from grader.messages import text
from grader.sanitize import csv_cell

FIXED_COLUMNS = ["submission", "status", "total", "max_total"]
ROSTER_COLUMNS = ["student_id", "name"]
TAIL_COLUMNS = ["isolation", "integrity", "seconds", "detail"]
BOM = "\ufeff"


class Status(str, Enum):
    """A gradebook row's status (a `str`, so it compares and prints as its value)."""

    OK = "ok"
    """Graded, whatever the score."""
    NO_FILES = "no_files"
    """No exercise module anywhere in the submission."""
    AMBIGUOUS = "ambiguous"
    """Two candidate files for one chapter module; the detail names them."""
    UNSAFE = "unsafe"
    """A zip with a path outside itself, a link, a bomb; or a symbolic link leaving the folder."""
    ERROR = "error"
    """The grader could not grade it (it failed, or wrote no report)."""
    TIMEOUT = "timeout"
    """Killed, with its worker, past the time limit per submission."""

    def __str__(self) -> str:
        return self.value


RETRIED = frozenset({Status.ERROR, Status.TIMEOUT})
"""Statuses `--retry-errors` grades again."""


@dataclass
class Row:
    """One submission's line of the gradebook."""

    submission: str
    status: Status
    total: float | None = None
    """None (an empty cell) unless graded."""
    max_total: float | None = None
    scores: dict[str, float] = field(default_factory=dict)
    """Per chapter (`ch4`) and per exercise (`ch4.linear_backward`)."""
    seconds: float = 0.0
    detail: str = ""
    isolation: str = ""
    """The boundary the student's code ran inside (the report's "isolation")."""
    integrity: dict[str, list[str]] = field(default_factory=dict)
    """Flagged exercises and their flags (the report's "integrity")."""
    student_id: str = ""
    name: str = ""

    def cells(self, columns: list[str]) -> list[str]:
        """The row's cells in `columns` order, each made safe by `csv_cell`."""
        values = {
            "submission": self.submission,
            "student_id": self.student_id,
            "name": self.name,
            "status": str(self.status),
            "total": _number(self.total),
            "max_total": _number(self.max_total),
            "isolation": self.isolation,
            "integrity": "; ".join(f"{k}: {', '.join(v)}" for k, v in self.integrity.items()),
            "seconds": f"{self.seconds:.1f}",
            "detail": self.detail,
        }
        values |= {k: _number(v) for k, v in self.scores.items()}
        return [csv_cell(values.get(c, "")) for c in columns]


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def columns(chapters: list[str], exercise_ids: list[str], roster: bool = False) -> list[str]:
    return ["submission", *(ROSTER_COLUMNS if roster else []), *FIXED_COLUMNS[1:], *chapters, *exercise_ids, *TAIL_COLUMNS]


def line(cells: list[str]) -> str:
    """One CSV line ending in a newline (cells are one line each: see `csv_cell`)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()


@dataclass
class Book:
    """A gradebook as read from the disk."""

    header: list[str]
    rows: list[dict[str, str]]
    torn: int = 0
    """Lines dropped: cut mid-write (no newline) or with the wrong number of cells."""
    bom: bool = False


def read(path: Path) -> Book | None:
    """The gradebook at `path`, None when there is none (or it is empty)."""
    if not path.is_file():
        return None
    raw = path.read_bytes().decode("utf-8", "replace")
    bom = raw.startswith(BOM)
    raw = raw.removeprefix(BOM)
    if not raw:
        return None
    lines = raw.split("\n")
    last = lines.pop()  # "" when the file ends with a newline
    torn = 1 if last else 0
    if not lines:  # not even a whole header
        return None
    header = next(csv.reader([lines[0]]))
    rows = []
    for text in lines[1:]:
        cells = next(csv.reader([text]), [])
        if len(cells) != len(header):
            torn += 1
            continue
        rows.append(dict(zip(header, cells)))
    return Book(header, rows, torn, bom)


def write(path: Path, header: list[str], rows: Iterable[dict[str, str]], bom: bool = False) -> None:
    """Write a whole gradebook atomically (a temporary file renamed over `path`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (BOM if bom else "") + line(header) + "".join(line([r.get(c, "") for c in header]) for r in rows)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Appender:
    """Appends whole rows to a gradebook, each with one `write()`, flushed and fsynced."""

    def __init__(self, path: Path):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, cells: list[str]) -> None:
        data = line(cells).encode("utf-8")
        written = os.write(self.fd, data)
        if written != len(data):  # a full disk: the row is torn, and re-graded on resume
            raise OSError(f"short write to the gradebook ({written} of {len(data)} bytes)")
        os.fsync(self.fd)

    def close(self) -> None:
        os.close(self.fd)


# --- roster and merge ------------------------------------------------------------------


def read_roster(path: Path) -> dict[str, tuple[str, str]]:
    """submission -> (student_id, name) from a CSV with columns `submission,student_id[,name]`."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"submission", "student_id"} <= set(reader.fieldnames):
            raise ValueError(text("batch.roster_columns", path=path))
        return {r["submission"]: (r["student_id"] or "", r.get("name") or "") for r in reader if r.get("submission")}


class MergeError(ValueError):
    """Shards that cannot be joined; the message says why."""


def merge(out: Path, shards: list[Path], bom: bool = False) -> int:
    """Join shard gradebooks into `out`, rows sorted by submission; returns the row count.

    Every shard must have the same columns and no torn row; a submission in two shards is
    an error (naming it), never a silent choice. The shards' report folders
    (`<stem>-reports/`) are copied into `out`'s."""
    import shutil

    header: list[str] | None = None
    rows: dict[str, dict[str, str]] = {}
    seen_in: dict[str, Path] = {}
    duplicates = []
    for shard in shards:
        book = read(shard)
        if book is None:
            raise MergeError(text("batch.merge_missing", path=shard))
        if book.torn:
            raise MergeError(text("batch.merge_torn", path=shard, count=book.torn))
        if header is None:
            header = book.header
        elif book.header != header:
            raise MergeError(text("batch.merge_columns", path=shard, first=shards[0]))
        for r in book.rows:
            if r["submission"] in rows:
                duplicates.append(f"{r['submission']} ({seen_in[r['submission']]}, {shard})")
            rows[r["submission"]] = r
            seen_in[r["submission"]] = shard
    if duplicates:
        raise MergeError(text("batch.merge_duplicates", duplicates="; ".join(duplicates)))
    assert header is not None
    write(out, header, [rows[k] for k in sorted(rows)], bom=bom)
    target = reports_dir(out)
    for shard in shards:
        source = reports_dir(shard)
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            for f in source.iterdir():
                if f.is_file() and not f.is_symlink():
                    shutil.copyfile(f, target / f.name)
    return len(rows)


def reports_dir(gradebook: Path) -> Path:
    """Where each student's full report sits: `<gradebook stem>-reports/` beside it."""
    return gradebook.with_name(f"{gradebook.stem}-reports")
