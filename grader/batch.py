"""Batch grading: every submission in a folder, graded in parallel, into one CSV gradebook.

Each submission (a folder, or a .zip extracted safely) goes through
`grader.submission.prepare`, which finds its chapter modules wherever they sit and copies
them into a clean folder; that folder is graded by its own process,
`python -m grader grade --json FILE` (the engine's entry point, never the CLI), started in
a new session with its own temporary folder. A time limit per submission kills the
grader, its worker and everything they started; so does an interrupt of the batch
(SIGTERM, or Ctrl-C pressed three times), which also removes every temporary folder.

Each finished submission is appended to the CSV at once (`grader.gradebook`), so an
interrupted batch resumes where it stopped: submissions already in the gradebook are
skipped, a torn last row is graded again, and `retry_errors` grades `error` and `timeout`
rows again. When the batch completes, the gradebook is rewritten sorted by submission.
Each graded submission's full report (`<submission>.json` and the Markdown feedback
`<submission>.md`) is kept in `<gradebook stem>-reports/`; from those of every `ok` row, a
completed batch rebuilds what the class got wrong (`grader.class_mistakes`:
`<gradebook stem>-mistakes.csv` and `.md`; for a shard, `gradebook merge` does).

    outcome = grade_batch(Path("submissions"), Path("gradebook.csv"), resolve_targets(["ch4"]), ["ch4"], jobs=4)

`shard=(i, n)` grades only the submissions whose name hashes to shard i of n (1-based): a
stable split, whatever the listing order, so shards never overlap and together cover all.
"""

from __future__ import annotations

import hashlib
import json
import math
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

from grader import class_mistakes, gradebook
from grader.memory import descendants
from grader.curriculum import Exercise
from grader.gradebook import RETRIED, Row, Status
from grader.messages import text
from grader.sanitize import csv_cell
from grader.submission import prepare

__all__ = ["Row", "Status", "UnsafeZip", "Interrupted", "Outcome", "grade_batch", "grade_one", "discover", "extract_zip", "parse_shard", "in_shard"]

# limits on a submitted zip file (a student's exercises are a few small .py files)
MAX_ZIP_BYTES = 50 << 20
MAX_ZIP_FILES = 2000
MAX_ZIP_RATIO = 200
DEFAULT_TIMEOUT = 900.0


class UnsafeZip(ValueError):
    """A zip file with an absolute or `..` path, a link, too many files or too many bytes."""


class Interrupted(Exception):
    """The batch was stopped by a signal; every grader was killed, rows written so far stay."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass
class Entry:
    """One submission of the folder."""

    name: str
    path: Path
    note: str = ""
    """Said in the row's detail (a zip left aside for a folder of the same name)."""


@dataclass
class Outcome:
    """What one `grade_batch` call did."""

    rows: list[Row] = field(default_factory=list)
    """Rows graded by this call, in submission order."""
    skipped: int = 0
    """Submissions already in the gradebook."""
    torn: int = 0
    """Torn rows found in the gradebook, dropped and graded again."""
    retried: int = 0
    """error/timeout rows graded again (`retry_errors`)."""
    not_on_roster: list[str] = field(default_factory=list)
    """Submissions graded that the roster does not name."""
    without_submission: list[str] = field(default_factory=list)
    """Roster entries with no submission in the folder (this shard's share unknown: all)."""
    mistakes: tuple[Path, Path] | None = None
    """The class table rebuilt from every graded row when the batch completed
    (`<stem>-mistakes.csv` and `.md`, see `grader.class_mistakes`); None for a shard,
    whose table `gradebook merge` writes for the whole class."""


def parse_shard(value: str) -> tuple[int, int]:
    """`"2/4"` -> (2, 4): shard 2 of 4, 1-based. ValueError unless 1 <= i <= n."""
    try:
        i, n = (int(x) for x in value.split("/"))
    except ValueError:
        raise ValueError(text("batch.bad_shard", shard=value)) from None
    if not 1 <= i <= n:
        raise ValueError(text("batch.bad_shard", shard=value))
    return i, n


def check_isolation(isolation: str, required: bool) -> None:
    """Raise `grader.runner.GraderError` now, before any submission is graded, when the
    isolation asked for is unknown, or required and unable to run here."""
    from grader import runner

    runner.isolation_to_run(isolation, required)


def in_shard(name: str, shard: tuple[int, int] | None) -> bool:
    """Whether submission `name` belongs to `shard` (a hash of the name, not its position)."""
    if shard is None:
        return True
    i, n = shard
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % n == i - 1


def discover(folder: Path, exclude: tuple[Path, ...] = ()) -> list[Entry]:
    """Every submission: sub-folders and .zip files, by name. A folder and a zip with one
    stem are one submission: the folder, with the zip named in the note."""
    found: dict[str, Entry] = {}
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or p in exclude:
            continue
        if p.is_dir() and not p.is_symlink():
            zipped = found.get(p.name)
            note = text("batch.zip_and_folder", zip=zipped.path.name, folder=p.name) if zipped else ""
            found[p.name] = Entry(p.name, p, note)
        elif p.is_file() and not p.is_symlink() and p.suffix.lower() == ".zip":
            if p.stem in found:
                if found[p.stem].path.is_dir():
                    found[p.stem].note = text("batch.zip_and_folder", zip=p.name, folder=p.stem)
                continue
            found[p.stem] = Entry(p.stem, p)
    return sorted(found.values(), key=lambda e: e.name)


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


class Children:
    """The grader processes of a batch: started unless the batch is stopping, and all
    killed at once (with every descendant) when it is interrupted."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.procs: set[subprocess.Popen] = set()
        self.no_new = threading.Event()
        """Set by a first Ctrl-C: running submissions finish, no new one starts."""
        self.killed = threading.Event()

    def start(self, cmd: list[str], **kwargs) -> subprocess.Popen | None:
        with self.lock:
            if self.no_new.is_set():
                return None
            proc = subprocess.Popen(cmd, **kwargs)
            self.procs.add(proc)
            return proc

    def finished(self, proc: subprocess.Popen) -> None:
        with self.lock:
            self.procs.discard(proc)

    def kill_all(self) -> None:
        self.no_new.set()
        self.killed.set()
        with self.lock:
            procs = list(self.procs)
        for proc in procs:
            _kill_tree(proc)


def grade_one(
    name: str,
    path: Path,
    targets: list[str],
    timeout: float,
    extra_args: list[str] = (),
    reports: Path | None = None,
    children: Children | None = None,
    note: str = "",
) -> Row | None:
    """Grade one submission in its own session; never raises. None when the batch was
    interrupted meanwhile (the submission is graded again on resume)."""
    children = children or Children()
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="dlcourse-batch-"))

    def row(status: Status, detail: str = "", **kwargs) -> Row:
        detail = "; ".join(d for d in (detail, note) if d)
        return Row(name, status, seconds=time.perf_counter() - started, detail=detail, **kwargs)

    try:
        os.chmod(work, 0o711)  # the `user` isolation's uid must pass through to its folders
        root = Path(path)
        if root.is_file():
            root = work / "unzipped"
            try:
                extract_zip(path, root)
            except UnsafeZip as exc:
                return row(Status.UNSAFE, text("batch.unsafe_zip", detail=str(exc)))
        prepared = prepare(root, work / "submission")
        if prepared.status is not Status.OK:
            return row(prepared.status, prepared.detail())
        found = prepared.detail()
        scratch = work / "tmp"  # the grader's and its worker's temporary folders go here
        scratch.mkdir(mode=0o711)
        report_file, markdown_file = work / "report.json", work / "report.md"
        cmd = [sys.executable, "-m", "grader", "grade", *targets, "--submission", str(prepared.folder),
               "--json", str(report_file), "--markdown", str(markdown_file), *extra_args]
        env = dict(os.environ, DLCOURSE_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TMPDIR=str(scratch))
        proc = children.start(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        if proc is None:
            return None
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_tree(proc)
            proc.wait()
            return None if children.killed.is_set() else row(Status.TIMEOUT, text("batch.timeout", seconds=timeout))
        finally:
            _kill_tree(proc)  # the worker, should the grader have left it behind
            proc.wait()
            children.finished(proc)
        if children.killed.is_set() and proc.returncode != 0:
            return None
        if proc.returncode != 0 or not report_file.is_file():
            last = err.decode("utf-8", "replace").strip().splitlines()[-1:] if err else []
            return row(Status.ERROR, text("batch.grader_failed", code=proc.returncode, detail=" ".join(last)[:300]))
        report_text = report_file.read_text(encoding="utf-8")
        try:
            graded = _graded(json.loads(report_text))
        except (ValueError, TypeError, KeyError) as exc:
            return row(Status.ERROR, text("batch.bad_report", detail=str(exc)[:200]))
        if reports is not None:
            _keep(reports, name, report_text, markdown_file)
        return row(Status.OK, found, **graded)
    except Exception as exc:  # noqa: BLE001 - one submission never stops the batch
        return row(Status.ERROR, f"{type(exc).__name__}: {exc}"[:300])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _graded(report: dict) -> dict:
    """The Row fields of a grader's JSON report, checked: numbers are finite numbers."""

    def number(value) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"not a number: {value!r}"[:80])
        return float(value)

    scores: dict[str, float] = {}
    for e in report["exercises"]:
        scores[str(e["id"])] = number(e["score"])
        scores[str(e["chapter"])] = scores.get(str(e["chapter"]), 0.0) + number(e["score"])
    integrity = {str(k): [str(f) for f in v] for k, v in dict(report.get("integrity") or {}).items()}
    return dict(total=number(report["score"]), max_total=number(report["max_score"]), scores=scores,
                isolation=str(report.get("isolation", "")), integrity=integrity)


def _keep(reports: Path, name: str, report_text: str, markdown_file: Path) -> None:
    """Copy a submission's JSON and Markdown reports beside the gradebook, atomically."""
    reports.mkdir(parents=True, exist_ok=True)
    for suffix, content in ((".json", report_text), (".md", markdown_file.read_text(encoding="utf-8") if markdown_file.is_file() else None)):
        if content is None:
            continue
        target = reports / f"{name}{suffix}"
        tmp = reports / f".{name}{suffix}.{threading.get_ident()}.tmp"
        tmp.write_text(content, encoding="utf-8")
        os.replace(tmp, target)



def _kill_tree(proc: subprocess.Popen) -> None:
    """Kill the grading process, its group, and every descendant's group: the worker runs
    in a session of its own and would outlive the grader otherwise. Does not wait."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGSTOP)  # no new worker while we look
        except (ProcessLookupError, PermissionError):
            pass
        for child in descendants(proc.pid):
            try:
                os.killpg(os.getpgid(child), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                os.kill(child, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    # under the user isolation, a process that left the tree (setsid, then its parent
    # died) still has the worker's own uid
    from grader import isolation

    isolation.kill_uid(isolation.worker_uid(proc.pid))


class _Signals:
    """While a batch runs in the main thread: SIGTERM kills every grader at once; Ctrl-C
    stops new submissions, and pressed a third time kills the running ones too."""

    PRESSES = 3

    def __init__(self, children: Children, on_interrupt: Callable[[int], None] | None):
        self.children, self.on_interrupt, self.presses, self.saved = children, on_interrupt, 0, {}

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            for signum, handler in ((signal.SIGTERM, self.term), (signal.SIGINT, self.int)):
                self.saved[signum] = signal.signal(signum, handler)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self.saved.items():
            signal.signal(signum, handler)

    def term(self, signum, frame) -> None:
        self.children.kill_all()
        raise Interrupted(signum)

    def int(self, signum, frame) -> None:
        self.presses += 1
        self.children.no_new.set()
        if self.presses >= self.PRESSES:
            self.children.kill_all()
            raise Interrupted(signum)
        if self.on_interrupt:
            self.on_interrupt(self.PRESSES - self.presses)


def grade_batch(
    folder: Path,
    out: Path,
    exercises: list[Exercise],
    targets: list[str],
    jobs: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    extra_args: list[str] = (),
    on_row: Callable[[Row], None] | None = None,
    *,
    shard: tuple[int, int] | None = None,
    roster: dict[str, tuple[str, str]] | None = None,
    bom: bool = False,
    retry_errors: bool = False,
    on_interrupt: Callable[[int], None] | None = None,
) -> Outcome:
    """Grade every submission of `folder` (in `shard`) not yet in `out`.

    Raises ValueError when `out` has other columns, Interrupted when stopped by a signal
    (rows written so far stay; a re-run resumes)."""
    folder, out = Path(folder).resolve(), Path(out).resolve()
    chapters = list(dict.fromkeys(e.chapter for e in exercises))
    cols = gradebook.columns(chapters, [e.id for e in exercises], roster=roster is not None)
    outcome = Outcome()
    book = gradebook.read(out)
    if book is not None and book.header != cols:
        raise ValueError(text("batch.other_columns", out=out))
    kept = list(book.rows) if book else []
    if retry_errors:
        kept = [r for r in kept if r["status"] not in RETRIED]
        outcome.retried = len(book.rows) - len(kept) if book else 0
    bom = book.bom if book else bom
    if book is None or book.torn or outcome.retried:
        outcome.torn = book.torn if book else 0
        gradebook.write(out, cols, kept, bom=bom)  # atomically: the header, the good rows
    done = {r["submission"] for r in kept}
    reports = gradebook.reports_dir(out)
    entries = [e for e in discover(folder, exclude=(out, reports)) if in_shard(e.name, shard)]
    todo = [e for e in entries if csv_cell(e.name) not in done]
    outcome.skipped = len(entries) - len(todo)
    if roster is not None:
        names = {e.name for e in discover(folder, exclude=(out, reports))}
        outcome.not_on_roster = sorted(e.name for e in entries if e.name not in roster)
        outcome.without_submission = sorted(k for k in roster if k not in names and in_shard(k, shard))

    children, lock = Children(), threading.Lock()
    appender = gradebook.Appender(out)

    def work(entry: Entry) -> None:
        if children.no_new.is_set():
            return
        row = grade_one(entry.name, entry.path, targets, timeout, list(extra_args), reports, children, entry.note)
        if row is None:
            return
        if roster is not None:
            row.student_id, row.name = roster.get(entry.name, ("", ""))
        with lock:
            appender.append(row.cells(cols))
            outcome.rows.append(row)
            if on_row:
                on_row(row)

    try:
        with _Signals(children, on_interrupt):
            pool = ThreadPoolExecutor(max_workers=max(1, jobs or os.cpu_count() or 1))
            try:
                for future in [pool.submit(work, e) for e in todo]:
                    future.result()
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
    finally:
        appender.close()
    if children.no_new.is_set():  # a Ctrl-C or two: the running ones finished
        raise Interrupted(signal.SIGINT)
    final = gradebook.read(out)
    if final is not None:
        gradebook.write(out, cols, sorted(final.rows, key=lambda r: r["submission"]), bom=final.bom)
        if shard is None:  # a shard's share is not the class: `gradebook merge` counts the whole
            # from every ok row and its kept report, not only this call's: right after a resume
            outcome.mistakes = class_mistakes.write(out, bom=final.bom)
    order = {e.name: i for i, e in enumerate(todo)}
    outcome.rows.sort(key=lambda r: order[r.submission])
    return outcome
