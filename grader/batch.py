"""Batch grading: every submission in a folder, graded in parallel, into one CSV gradebook.

Each submission (a folder, or a .zip extracted safely) is graded by its own process,
`python -m dlcourse_cli grade --json FILE`, started in a new session: a time limit per
submission kills its whole process group (the grader and its worker), and nothing one
submission does can reach another or the batch. Each finished submission is appended to
the CSV at once, so an interrupted batch resumes where it stopped: submissions already in
the gradebook are skipped.

    rows = grade_batch(Path("submissions"), Path("gradebook.csv"), ["ch4"], jobs=4)

One row per submission: `submission, status, total, max_total, <chapter>..., <exercise>...,
seconds, detail`, status "ok" (graded, whatever the score), "timeout" or "error" (the
grader could not grade it: a corrupt or unsafe zip, a grader failure).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader.curriculum import Exercise
from grader.messages import text

# limits on a submitted zip file (a student's exercises are a few small .py files)
MAX_ZIP_BYTES = 50 << 20
MAX_ZIP_FILES = 2000
MAX_ZIP_RATIO = 200
DEFAULT_TIMEOUT = 900.0
FIXED_COLUMNS = ["submission", "status", "total", "max_total"]
TAIL_COLUMNS = ["seconds", "detail"]


class UnsafeZip(ValueError):
    """A zip file with an absolute or `..` path, a link, too many files or too many bytes."""


@dataclass
class Row:
    """One submission's line of the gradebook."""

    submission: str
    status: str
    """"ok", "timeout" or "error"."""
    total: float = 0.0
    max_total: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)
    """Per chapter (`ch4`) and per exercise (`ch4.linear_backward`)."""
    seconds: float = 0.0
    detail: str = ""

    def as_csv(self, columns: list[str]) -> dict[str, str]:
        values = {"submission": self.submission, "status": self.status, "total": f"{self.total:g}", "max_total": f"{self.max_total:g}",
                  "seconds": f"{self.seconds:.1f}", "detail": self.detail}
        values |= {k: f"{v:g}" for k, v in self.scores.items()}
        return {c: values.get(c, "") for c in columns}


def columns(exercises: list[Exercise]) -> list[str]:
    chapters = list(dict.fromkeys(e.chapter for e in exercises))
    return FIXED_COLUMNS + chapters + [e.id for e in exercises] + TAIL_COLUMNS


def discover(folder: Path) -> list[tuple[str, Path]]:
    """(name, path) of every submission: sub-folders and .zip files, by name."""
    found = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_dir():
            found.append((p.name, p))
        elif p.is_file() and p.suffix.lower() == ".zip":
            found.append((p.stem, p))
    return found


def extract_zip(archive: Path, dest: Path, max_bytes: int = MAX_ZIP_BYTES, max_files: int = MAX_ZIP_FILES, max_ratio: int = MAX_ZIP_RATIO) -> None:
    """Extract `archive` into `dest`, refusing path traversal, links and zip bombs.

    Sizes are counted while decompressing (the sizes a zip header declares can lie)."""
    dest = dest.resolve()
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnsafeZip(f"not a readable zip file ({exc})") from None
    with zf:
        members = zf.infolist()
        if len(members) > max_files:
            raise UnsafeZip(f"{len(members)} files (at most {max_files})")
        total = 0
        for info in members:
            name = PurePosixPath(info.filename.replace("\\", "/"))
            if name.is_absolute() or ".." in name.parts or (name.parts and ":" in name.parts[0]):
                raise UnsafeZip(f"path outside the folder: {info.filename!r}")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise UnsafeZip(f"symbolic link: {info.filename!r}")
            target = (dest / name).resolve()
            if target != dest and dest not in target.parents:
                raise UnsafeZip(f"path outside the folder: {info.filename!r}")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(1 << 16):
                        written += len(chunk)
                        total += len(chunk)
                        if total > max_bytes:
                            raise UnsafeZip(f"more than {max_bytes} bytes uncompressed")
                        if written > 1 << 20 and written > max_ratio * max(info.compress_size, 1):
                            raise UnsafeZip(f"compression ratio above {max_ratio}: {info.filename!r}")
                        out.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as exc:  # RuntimeError: encrypted
                raise UnsafeZip(f"{info.filename!r}: {exc}") from None


def read_done(out: Path, expected_columns: list[str]) -> set[str]:
    """Submissions already in the gradebook; raises ValueError if its columns differ."""
    if not out.is_file() or out.stat().st_size == 0:
        return set()
    with open(out, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != expected_columns:
            raise ValueError(f"{out} has other columns (graded with other targets?)")
        return {row["submission"] for row in reader}


def grade_one(name: str, path: Path, targets: list[str], timeout: float, extra_args: list[str] = ()) -> Row:
    """Grade one submission in its own process group; never raises."""
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="dlcourse-batch-"))
    try:
        if path.is_file():
            folder = work / "submission"
            try:
                extract_zip(path, folder)
            except UnsafeZip as exc:
                return Row(name, "error", seconds=time.perf_counter() - started, detail=text("instructor.batch_unsafe_zip", detail=str(exc)))
            entries = [p for p in folder.iterdir() if not p.name.startswith(("__MACOSX", "."))]
            if len(entries) == 1 and entries[0].is_dir():  # alice.zip holding alice/...
                folder = entries[0]
        else:
            folder = path
        report_file = work / "report.json"
        cmd = [sys.executable, "-m", "dlcourse_cli", "grade", *targets, "--submission", str(folder), "--json", str(report_file), "--quiet", *extra_args]
        env = dict(os.environ, DLCOURSE_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return Row(name, "timeout", seconds=time.perf_counter() - started, detail=text("instructor.batch_timeout", seconds=timeout))
        finally:
            _kill_group(proc)  # the worker, should the grader have left it behind
        seconds = time.perf_counter() - started
        if proc.returncode != 0 or not report_file.is_file():
            detail = err.decode("utf-8", "replace").strip().splitlines()[-1:] if err else []
            return Row(name, "error", seconds=seconds, detail=text("instructor.batch_grader_failed", code=proc.returncode, detail=" ".join(detail)[:300]))
        report = json.loads(report_file.read_text(encoding="utf-8"))
        scores: dict[str, float] = {}
        for e in report["exercises"]:
            scores[e["id"]] = e["score"]
            scores[e["chapter"]] = scores.get(e["chapter"], 0.0) + e["score"]
        return Row(name, "ok", report["score"], report["max_score"], scores, seconds)
    except Exception as exc:  # noqa: BLE001 - one submission never stops the batch
        return Row(name, "error", seconds=time.perf_counter() - started, detail=f"{type(exc).__name__}: {exc}"[:300])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _children(pid: int) -> list[int]:
    """Every descendant of `pid` (Linux /proc; elsewhere only the process group is killed)."""
    parents: dict[int, list[int]] = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat_file.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the grading process, its group, and every descendant's group: the worker runs
    in a session of its own and would outlive the grader otherwise."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGSTOP)  # no new worker while we look
        except (ProcessLookupError, PermissionError):
            pass
        for child in _children(proc.pid):
            try:
                os.killpg(os.getpgid(child), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def grade_batch(
    folder: Path,
    out: Path,
    exercises: list[Exercise],
    targets: list[str],
    jobs: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    extra_args: list[str] = (),
    on_row: Callable[[Row], None] | None = None,
) -> tuple[list[Row], int]:
    """Grade every submission of `folder` not yet in `out`; returns (new rows, skipped)."""
    cols = columns(exercises)
    done = read_done(out, cols)
    todo = [(n, p) for n, p in discover(folder) if n not in done]
    lock = threading.Lock()
    new_file = not out.is_file() or out.stat().st_size == 0
    out.parent.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    with open(out, "a", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=cols)
        if new_file:
            writer.writeheader()
            f.flush()

        def work(item: tuple[str, Path]) -> Row:
            row = grade_one(*item, targets=targets, timeout=timeout, extra_args=list(extra_args))
            with lock:
                writer.writerow(row.as_csv(cols))
                f.flush()
                rows.append(row)
                if on_row:
                    on_row(row)
            return row

        with ThreadPoolExecutor(max_workers=max(1, jobs or os.cpu_count() or 1)) as pool:
            list(pool.map(work, todo))
    order = {n: i for i, (n, _) in enumerate(todo)}
    return sorted(rows, key=lambda r: order[r.submission]), len(done)
