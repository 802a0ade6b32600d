"""`dlcourse grade-batch`: submissions graded in parallel into a CSV gradebook, a hanging
and a crashing submission included, resuming, and safe zip extraction."""

from __future__ import annotations

import csv
import os
import stat
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlcourse_cli.main import app
from grader import batch
from tests.submissions import SOLUTIONS, write_submission

runner = CliRunner()
TARGET = "ch4.linear_forward"

HANG = '''

def linear_forward(x, W, b):
    while True:
        pass
'''
CRASH = '''
import os
os._exit(3)
'''


def _submissions(root: Path) -> Path:
    subs = root / "submissions"
    write_submission(subs / "alice" / "exercises")  # a workspace holding exercises/
    write_submission(subs / "bob")  # the modules directly
    with open(subs / "bob" / "ch4_backprop.py", "a", encoding="utf-8") as f:
        f.write(HANG)
    write_submission(subs / "carol")
    (subs / "carol" / "ch4_backprop.py").write_text(CRASH, encoding="utf-8")
    with zipfile.ZipFile(subs / "dave.zip", "w") as zf:  # dave.zip holding dave/...
        for p in SOLUTIONS.glob("ch*.py"):
            zf.write(p, f"dave/{p.name}")
    (subs / "erin.zip").write_bytes(b"this is not a zip file")
    return subs


@pytest.mark.slow
def test_batch_grades_every_submission_and_survives_hanging_and_crashing_ones(tmp_path):
    subs = _submissions(tmp_path)
    out = tmp_path / "gradebook.csv"
    args = ["grade-batch", str(subs), "--out", str(out), "--target", TARGET, "--jobs", "2",
            "--timeout-per-submission", "25", "--timeout", "120"]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with open(out, newline="") as f:
        reader = csv.DictReader(f)
        rows = {r["submission"]: r for r in reader}
        header = reader.fieldnames
    assert header[:4] == ["submission", "status", "total", "max_total"]
    assert "ch4" in header and TARGET in header
    assert set(rows) == {"alice", "bob", "carol", "dave", "erin"}
    assert rows["alice"]["status"] == rows["dave"]["status"] == "ok"
    assert float(rows["alice"]["total"]) == float(rows["alice"]["max_total"]) == float(rows["alice"][TARGET]) > 0
    assert rows["bob"]["status"] == "timeout"  # killed with its worker after 25 s
    assert rows["carol"]["status"] == "ok" and float(rows["carol"]["total"]) == 0  # graded: its code crashed
    assert rows["erin"]["status"] == "error" and "zip" in rows["erin"]["detail"]
    assert "timeout" in result.stdout and "alice" in result.stdout
    assert not _busy_workers(), "a timed-out submission left a worker running"

    # re-running resumes: nothing left to grade, rows kept
    again = runner.invoke(app, args, catch_exceptions=False)
    assert again.exit_code == 0
    with open(out, newline="") as f:
        assert [r["submission"] for r in csv.DictReader(f)] == list(rows)
    assert "5 submissions already in" in " ".join(again.stdout.split())


def _busy_workers() -> list[int]:
    """Worker processes still spinning in bob's infinite loop (children of nobody we know)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            parts = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"grader.worker" in parts and any(b"dlcourse-batch-" in p or b"/bob" in p for p in parts):
            found.append(int(cmdline.parent.name))
    return found


def test_resume_refuses_a_gradebook_with_other_columns(tmp_path):
    (tmp_path / "subs").mkdir()
    out = tmp_path / "book.csv"
    out.write_text("submission,status,total\nalice,ok,1\n")
    result = runner.invoke(app, ["grade-batch", str(tmp_path / "subs"), "--out", str(out), "--target", TARGET])
    assert result.exit_code == 2


def test_missing_folder_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["grade-batch", str(tmp_path / "nowhere"), "--out", str(tmp_path / "b.csv")])
    assert result.exit_code == 2


# --- zip safety -------------------------------------------------------------------------------


def _zip(path: Path, entries: dict[str, bytes], link: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return path


@pytest.mark.parametrize("name", ["../evil.py", "/abs/evil.py", "a/../../evil.py", "C:/evil.py"])
def test_zip_with_a_path_outside_the_folder_is_refused(tmp_path, name):
    archive = _zip(tmp_path / "s.zip", {name: b"x = 1"})
    with pytest.raises(batch.UnsafeZip):
        batch.extract_zip(archive, tmp_path / "out")
    assert not (tmp_path / "evil.py").exists()


def test_zip_with_a_symbolic_link_is_refused(tmp_path):
    archive = _zip(tmp_path / "s.zip", {"ok.py": b"x = 1"}, link="link.py")
    with pytest.raises(batch.UnsafeZip, match="link"):
        batch.extract_zip(archive, tmp_path / "out")


def test_zip_bombs_are_refused_by_ratio_and_by_total_size(tmp_path):
    archive = _zip(tmp_path / "bomb.zip", {"zeros.py": b"\0" * (8 << 20)})
    with pytest.raises(batch.UnsafeZip, match="ratio"):
        batch.extract_zip(archive, tmp_path / "out")
    with pytest.raises(batch.UnsafeZip, match="bytes"):
        batch.extract_zip(archive, tmp_path / "out2", max_bytes=1 << 20, max_ratio=10**9)
    many = _zip(tmp_path / "many.zip", {f"f{i}.py": b"" for i in range(30)})
    with pytest.raises(batch.UnsafeZip, match="files"):
        batch.extract_zip(many, tmp_path / "out3", max_files=20)


def test_a_safe_zip_is_extracted(tmp_path):
    archive = _zip(tmp_path / "s.zip", {"alice/ch4_backprop.py": b"x = 1", "alice/sub/": b""})
    batch.extract_zip(archive, tmp_path / "out")
    assert (tmp_path / "out" / "alice" / "ch4_backprop.py").read_text() == "x = 1"


def test_jobs_default_to_the_cores_and_each_job_uses_one_thread(monkeypatch, tmp_path):
    seen = {}

    class FakePopen:
        def __init__(self, cmd, env, **kwargs):
            seen["env"], seen["cmd"] = env, cmd
            self.pid, self.returncode = os.getpid(), 3

        def communicate(self, timeout):
            return b"", b"boom"

        def poll(self):
            return self.returncode

        def wait(self):
            return self.returncode

    monkeypatch.setattr(batch.subprocess, "Popen", FakePopen)
    monkeypatch.setattr(batch.os, "killpg", lambda *a: None)
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    row = batch.grade_one("alice", tmp_path / "subs" / "alice", [TARGET], timeout=5)
    assert row.status == "error" and "3" in row.detail
    assert seen["env"]["DLCOURSE_THREADS"] == "1" and seen["env"]["OMP_NUM_THREADS"] == "1"
    assert seen["cmd"][1:4] == ["-m", "dlcourse_cli", "grade"]
