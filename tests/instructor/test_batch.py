"""`dlcourse grade-batch`: submissions graded in parallel into a CSV gradebook, a hanging
and a crashing submission included, resuming, a relative folder, misplaced modules, the
shard recipe of templates/shards/, a SIGTERM mid-batch, and safe zip extraction."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlcourse_cli.main import app
from grader import batch, gradebook
from grader.memory import descendants
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
def test_batch_grades_every_submission_and_survives_hanging_and_crashing_ones(tmp_path, monkeypatch):
    # this batch's temporary folders, and so its workers' command lines, under a folder of
    # its own: a batch of another test running beside this one is not counted
    own = tmp_path / "tmp"
    own.mkdir()
    monkeypatch.setenv("TMPDIR", str(own))
    monkeypatch.setattr(tempfile, "tempdir", str(own))
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
    assert rows["erin"]["status"] == "unsafe" and "zip" in rows["erin"]["detail"] and rows["erin"]["total"] == ""
    assert "timeout" in result.stdout and "alice" in result.stdout
    assert not _busy_workers(own), "a timed-out submission left a worker running"

    # re-running resumes: nothing left to grade, rows kept
    again = runner.invoke(app, args, catch_exceptions=False)
    assert again.exit_code == 0
    with open(out, newline="") as f:
        assert [r["submission"] for r in csv.DictReader(f)] == list(rows)
    assert "5 submissions already in" in " ".join(again.stdout.split())


def _busy_workers(own: Path, wait: float = 10.0) -> list[int]:
    """Worker processes of the batch whose temporary folders are under `own`, still alive
    `wait` seconds after the batch ended (a kill takes a moment on a loaded machine)."""
    deadline = time.monotonic() + wait
    while True:
        found = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                parts = cmdline.read_bytes().split(b"\0")
            except OSError:
                continue
            if b"grader.worker" in parts and any(str(own).encode() in p for p in parts):
                found.append(int(cmdline.parent.name))
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


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
    write_submission(tmp_path / "subs" / "alice")
    row = batch.grade_one("alice", tmp_path / "subs" / "alice", [TARGET], timeout=5)
    assert row.status == "error" and "3" in row.detail
    assert seen["env"]["DLCOURSE_THREADS"] == "1" and seen["env"]["OMP_NUM_THREADS"] == "1"
    # the engine's own entry point, never the CLI; its temporary files under the batch's folder
    assert seen["cmd"][1:4] == ["-m", "grader", "grade"] and "dlcourse_cli" not in " ".join(seen["cmd"])
    assert "dlcourse-batch-" in seen["env"]["TMPDIR"]


# --- relative folder, misplaced modules, the shard recipe --------------------------------

SHARDS = Path(__file__).resolve().parents[2] / "templates" / "shards"


def _misplaced(subs: Path) -> None:
    """Submissions as students hand them in: nowhere where `grade` would look."""
    module = (SOLUTIONS / "ch4_backprop.py").read_text(encoding="utf-8")
    (subs / "alice" / "hw" / "exercises (1)").mkdir(parents=True)
    (subs / "alice" / "hw" / "exercises (1)" / "ch4_backprop.py").write_text(module)
    (subs / "bob").mkdir()
    (subs / "bob" / "doebob_1234_ch4_backprop.py").write_text(module)  # an LMS download
    (subs / "carol" / "notes").mkdir(parents=True)  # nothing to grade
    for n in ("dave", "erin"):  # each name lands in some shard; these cost no grading
        (subs / n).mkdir()


def _without_seconds(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]


def _real_isolation() -> bool:
    from grader import isolation

    return not isolation.why_not("bwrap") or not isolation.why_not("user")


@pytest.mark.slow
def test_a_relative_folder_of_misplaced_submissions_is_graded_and_the_shard_recipe_agrees(tmp_path, monkeypatch):
    if not _real_isolation():
        pytest.skip("the shard recipe requires isolation: bubblewrap (apt-get install bubblewrap) or root for the user mode")
    if not shutil.which("dlcourse"):
        pytest.skip("the dlcourse console script is not on PATH (pip install -e .)")
    monkeypatch.chdir(tmp_path)
    _misplaced(Path("submissions"))
    args = ["grade-batch", "submissions", "--out", "one/grades.csv", "--target", TARGET, "--jobs", "2", "--timeout", "60"]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = {r["submission"]: r for r in _without_seconds(tmp_path / "one" / "grades.csv")}
    assert list(rows) == ["alice", "bob", "carol", "dave", "erin"]  # sorted when complete
    for n in ("alice", "bob"):
        assert rows[n]["status"] == "ok" and float(rows[n]["total"]) == float(rows[n]["max_total"]) > 0, rows[n]
        assert rows[n]["isolation"] in ("bwrap", "user") and rows[n]["integrity"] == ""
        assert (tmp_path / "one" / "grades-reports" / f"{n}.json").is_file()
        assert (tmp_path / "one" / "grades-reports" / f"{n}.md").read_text().startswith("## ")
    assert "exercises (1)" in rows["alice"]["detail"]
    assert rows["carol"]["status"] == "no_files" and rows["carol"]["total"] == rows["carol"][TARGET] == ""
    again = runner.invoke(app, args, catch_exceptions=False)  # nothing left: all skipped
    assert again.exit_code == 0 and "5 submissions already in" in " ".join(again.stdout.split())

    # the recipe of templates/shards/, its commands run here as plain shell loops
    env = dict(os.environ, TARGETS=TARGET, JOBS="2", GRADEBOOKS="sharded", DLCOURSE_SHARDS_DIR=str(SHARDS))
    loop = ("for i in 1 2; do SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_COUNT=2 bash " + str(SHARDS / "grade-class.sbatch")
            + " || exit 1; done && bash " + str(SHARDS / "merge-shards.sh"))
    done = subprocess.run(["bash", "-c", loop], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _without_seconds(tmp_path / "sharded" / "grades.csv") == list(rows.values())
    shard_rows = [_without_seconds(p) for p in sorted((tmp_path / "sharded" / "shards").glob("grades-*-of-2.csv"))]
    assert len(shard_rows) == 2 and all(shard_rows)  # both shards hold submissions
    assert sorted((tmp_path / "sharded" / "grades-reports").iterdir()) == sorted(
        tmp_path / "sharded" / "grades-reports" / p.name for p in (tmp_path / "one" / "grades-reports").iterdir())
    # the class's mistakes: counted by the merge over every shard, as by the one batch
    assert list((tmp_path / "sharded" / "shards").glob("*mistakes*")) == []
    for f in ("grades-mistakes.csv", "grades-mistakes.md"):
        assert (tmp_path / "sharded" / f).read_text(encoding="utf-8") == (tmp_path / "one" / f).read_text(encoding="utf-8")


def test_the_actions_matrix_runs_the_same_shard_scripts():
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (pip install -e '.[test]')")
    workflow = yaml.safe_load((SHARDS / "grade-sharded.yml").read_text(encoding="utf-8"))
    runs = {job: " ".join(s.get("run", "") for s in spec["steps"]) for job, spec in workflow["jobs"].items()}
    assert "shards/grade-shard.sh \"$SHARD\" \"$SHARDS\"" in runs["grade"]
    assert "shards/merge-shards.sh" in runs["merge"]
    assert len(workflow["jobs"]["grade"]["strategy"]["matrix"]["shard"]) == int(workflow["env"]["SHARDS"])
    for spec in workflow["jobs"].values():
        for step in spec["steps"]:
            if "uses" in step:  # pinned by commit
                assert len(step["uses"].split("@")[1]) == 40, step["uses"]


# --- interrupting a batch --------------------------------------------------------------------


def _descendants(pid: int) -> set[int]:
    return set(descendants(pid))


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.slow
def test_sigterm_mid_batch_kills_every_grader_and_worker_and_leaks_no_temporary_folder(tmp_path):
    subs = tmp_path / "subs"
    for n in ("ann", "ben", "cat"):
        write_submission(subs / n)
        with open(subs / n / "ch4_backprop.py", "a", encoding="utf-8") as f:
            f.write(HANG)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    out = tmp_path / "book.csv"
    cmd = [sys.executable, "-m", "dlcourse_cli", "grade-batch", str(subs), "--out", str(out), "--target", TARGET,
           "--jobs", "2", "--timeout", "300", "--timeout-per-submission", "300"]
    proc = subprocess.Popen(cmd, env=dict(os.environ, TMPDIR=str(scratch)), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until both graders have started their workers
            seen |= _descendants(proc.pid)
            workers = [p for p in seen if b"grader.worker" in _cmdline(p)]
            if len(workers) >= 2:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"no two workers started within 120 s: {sorted(seen)}")
        time.sleep(1)
        seen |= _descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM
    time.sleep(1)
    assert [p for p in seen if _alive(p)] == []
    assert list(scratch.iterdir()) == []
    book = gradebook.read(out)
    assert book is not None and book.torn == 0 and book.rows == []  # killed ones are graded on resume


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.slow
def test_grade_batch_writes_a_similarity_report_beside_the_gradebook(tmp_path):
    pytest.importorskip("copydetect", reason="copydetect (the instructor extra) is not installed")
    subs = tmp_path / "subs"
    for student in ("ann", "ben"):
        (subs / student).mkdir(parents=True)
        shutil.copy(SOLUTIONS / "ch2_linear_models.py", subs / student)
    (subs / "cho").mkdir()  # the untouched stub: the boilerplate every submission shares
    shutil.copy(SOLUTIONS.parent / "exercises" / "ch2_linear_models.py", subs / "cho")
    html = tmp_path / "out" / "similar.html"
    result = CliRunner().invoke(app, ["grade-batch", str(subs), "-o", str(tmp_path / "out" / "g.csv"), "-t", "ch2.softmax_regression_grad",
                                      "--similarity", str(html)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(html.with_suffix(".csv"), encoding="utf-8")))
    pairs = {frozenset((r["submission_a"], r["submission_b"])) for r in rows}
    assert frozenset(("ann", "ben")) in pairs, rows
    assert all("cho" not in p for p in pairs), rows
    assert "ann" in html.read_text(encoding="utf-8")
