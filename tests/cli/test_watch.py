"""`dlcourse watch`: a real process that checks, sees a file edited, checks again, and
stops cleanly on SIGINT (Ctrl-C) with exit code 0."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlcourse_cli import history
from dlcourse_cli.commands.watch import snapshot
from dlcourse_cli.main import app
from tests.submissions import write_submission

ROOT = Path(__file__).resolve().parents[2]
BROKEN_SGD = "\n\ndef sgd_step(w, dw, lr):\n    return w + lr * dw\n"


def read_until(lines: queue.Queue, seen: list[str], needle: str, timeout: float = 60) -> None:
    """Read output lines into `seen` until one of the new ones contains `needle`."""
    start, deadline = len(seen), time.monotonic() + timeout
    while not any(needle in line for line in seen[start:]):
        try:
            seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
        except queue.Empty:
            pytest.fail(f"no {needle!r} within {timeout} s; output so far:\n" + "".join(seen))
        if seen[-1] is None:
            pytest.fail("watch ended early:\n" + "".join(seen[:-1]))


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_watch_reruns_on_a_change_and_stops_on_ctrl_c(tmp_path):
    path = write_submission(tmp_path / "exercises")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from dlcourse_cli.main import run; run()", "watch", "ch4.sgd_step", "--path", str(path), "--interval", "0.2"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=os.environ | {"COLUMNS": "100", "DLCOURSE_LANG": "en"},
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout] + [lines.put(None)], daemon=True).start()
    seen: list[str] = []
    try:
        read_until(lines, seen, "Watching")
        assert any("Run 1 at" in line for line in seen) and any("2/2" in line for line in seen)
        with open(path / "ch4_backprop.py", "a", encoding="utf-8") as f:
            f.write(BROKEN_SGD)
        read_until(lines, seen, "Run 2 at")
        second = len(seen)
        read_until(lines, seen, "Watching")
        assert any("0/2" in line for line in seen[second:])  # the second run saw the broken version
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    read_until(lines, seen, "Stopped watching after 2")
    assert [a.status for a in history.attempts(path)] == ["passed", "failed"]  # both runs recorded


@pytest.mark.slow
def test_max_runs_exits_with_the_last_runs_code(tmp_path):
    path = write_submission(tmp_path / "exercises")
    result = CliRunner().invoke(app, ["watch", "ch4.sgd_step", "--path", str(path), "--max-runs", "1"], catch_exceptions=False)
    assert result.exit_code == 0 and "Run 1 at" in result.stdout


def test_watch_with_an_unknown_target_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(app, ["watch", "ch4.nope", "--path", str(tmp_path)])
    assert result.exit_code == 2


def test_snapshot_sees_edits_and_ignores_caches(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "__pycache__").mkdir()
    before = snapshot(tmp_path)
    (tmp_path / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / ".hidden").write_text("")
    assert snapshot(tmp_path) == before
    (tmp_path / "a.py").write_text("x = 22\n")
    assert snapshot(tmp_path) != before


def test_fingerprints_change_only_for_the_exercises_whose_code_changed(tmp_path):
    from dlcourse_cli.commands.watch import fingerprints
    from grader.curriculum import resolve_targets

    path = write_submission(tmp_path / "exercises")
    chapter = resolve_targets(["ch4"])
    file = path / "ch4_backprop.py"
    before = fingerprints(path, chapter)
    file.write_text(file.read_text(encoding="utf-8") + "\n# a comment and a blank line change nothing\n\n", encoding="utf-8")
    assert fingerprints(path, chapter) == before
    file.write_text(file.read_text(encoding="utf-8") + BROKEN_SGD, encoding="utf-8")
    after = fingerprints(path, chapter)
    assert [e for e in before if after[e] != before[e]] == ["ch4.sgd_step"]
    file.write_text(file.read_text(encoding="utf-8") + "\n\ndef helper():\n    return 1\n", encoding="utf-8")
    assert all(fingerprints(path, chapter)[e] != after[e] for e in after)  # a helper may be used anywhere
