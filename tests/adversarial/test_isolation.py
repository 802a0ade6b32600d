"""The operating system's boundary (issue 13): attacks that get past Python's own walls
must still be contained by bubblewrap and by the unprivileged-user mode.

Each attack is written the way the issue found it working against the in-process walls:
calls that raise no audit event (`torch.from_file`, `os.open(..., dir_fd=...)`,
`_posixsubprocess.fork_exec`, `signal.pidfd_send_signal`). The probe returns what it
managed; the test asserts the effect did not happen, whatever the reply's status.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from grader import isolation
from grader.student import Worker

pytestmark = pytest.mark.slow

GRADER = Path(isolation.__file__).resolve().parent
SECRETS = [GRADER / "checks" / "ch1_ml_basics.py", GRADER / "locales" / "en" / "core.json"]
_refs = isolation._spec_folder("solutions")
if _refs is not None:
    SECRETS.append(_refs / "ch1_ml_basics.py")

PROBE = textwrap.dedent(
    '''
    import os, signal

    def _read(path):
        try:
            import torch
            data = torch.from_file(path, shared=False, size=64, dtype=torch.uint8)
            return "READ:" + bytes(data.tolist()).decode("latin-1")
        except Exception as exc:
            pass
        try:  # a path relative to a folder descriptor: the walls resolve it against the cwd
            fd = os.open(path.lstrip("/"), os.O_RDONLY, dir_fd=os.open("/", os.O_RDONLY))
            return "READ:" + os.read(fd, 64).decode("latin-1")
        except Exception as exc:
            return "blocked:" + type(exc).__name__

    def _write(path):
        try:
            fd = os.open(path.lstrip("/"), os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=os.open("/", os.O_RDONLY))
            os.write(fd, b"import os; os.environ['PWNED'] = '1'\\n")
            os.close(fd)
            return "WROTE"
        except Exception as exc:
            return "blocked:" + type(exc).__name__

    def probe(secrets, writes, victim, marker):
        out = {}
        for i, path in enumerate(secrets):
            out[f"read{i}"] = _read(path)
        for i, path in enumerate(writes):
            out[f"write{i}"] = _write(path)
        try:
            fd = os.open(f"{victim}/environ", os.O_RDONLY, dir_fd=os.open("/proc", os.O_RDONLY))
            out["environ"] = "READ:" + os.read(fd, 64).decode("latin-1")
        except Exception as exc:
            out["environ"] = "blocked:" + type(exc).__name__
        try:
            fd = os.pidfd_open(victim)
            signal.pidfd_send_signal(fd, signal.SIGKILL)
            out["kill"] = "KILLED"
        except Exception as exc:
            out["kill"] = "blocked:" + type(exc).__name__
        try:  # a process in a session of its own that would outlive the worker
            import _posixsubprocess, sys
            args = [sys.executable, "-c", "import time; time.sleep(120)", marker]
            r, w = os.pipe()
            head = (args, [os.fsencode(sys.executable)], True, (w,), None, None, -1, -1, -1, -1, -1, -1, r, w,
                    True, True, -1, None, None, None, -1, None)
            try:
                _posixsubprocess.fork_exec(*head, True)  # 3.11, 3.12: allow_vfork last
            except TypeError:
                _posixsubprocess.fork_exec(*head)
            out["spawn"] = "SPAWNED"
        except Exception as exc:
            out["spawn"] = "blocked:" + type(exc).__name__
        return out
    '''
)


def _modes() -> list:
    params = []
    for mode in ("bwrap", "user"):
        reason = isolation.why_not(mode)
        params.append(pytest.param(mode, marks=pytest.mark.skipif(bool(reason), reason=f"{mode} isolation unavailable here: {reason}")))
    return params


def _alive_with(marker: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            pass
    return found


@pytest.mark.parametrize("mode", _modes())
def test_attacks_past_the_python_walls_are_contained(mode, tmp_path):
    (tmp_path / "attack.py").write_text(PROBE)
    site = Path(os.__file__).resolve().parent / "site-packages"
    writes = [str(GRADER / "pwned.py"), str(site / "zz_dlcourse_pwned.pth")]
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env={"SECRET_TOKEN": "hunter2"})
    marker = f"dlcourse-escape-{os.getpid()}-{mode}"
    worker = Worker(tmp_path, requested_isolation=mode, timeout=30)
    try:
        worker.start()
        reply = worker.request(
            {"op": "call", "modules": ["attack"], "func": "probe",
             "args": [[str(p) for p in SECRETS], writes, victim.pid, marker],
             "kwargs": {}, "device": "cpu", "banned": [], "autograd": False},
            timeout=60,
        )
        assert worker.isolation == mode
        spawned_inside = _alive_with(marker)
    finally:
        worker.stop()
    try:
        value = reply.get("value") if reply.get("status") == "ok" else {}
        assert reply.get("status") == "ok", reply  # nothing was refused in Python: the OS stopped it
        for key, outcome in value.items():
            assert not outcome.startswith(("READ", "WROTE", "KILLED", "CONNECTED")), (mode, key, outcome)
        for path in writes:
            assert not Path(path).exists(), path
        assert victim.poll() is None, "the worker killed a process outside its sandbox"
        # whatever it started, in a session of its own or not, died with the worker
        time.sleep(0.5)
        assert _alive_with(marker) == [], f"processes outlived the worker (seen while it ran: {spawned_inside})"
    finally:
        victim.kill()
        victim.wait()
        for path in writes:
            Path(path).unlink(missing_ok=True)


@pytest.mark.parametrize("mode", _modes())
def test_a_correct_submission_scores_the_same_under_every_isolation(mode):
    from grader.curriculum import resolve_targets
    from grader.runner import run

    solutions = Path(isolation.__file__).resolve().parent.parent / "solutions"
    if not solutions.is_dir():
        solutions = isolation._spec_folder("solutions")
    exercises = resolve_targets(["ch2"])
    isolated = run(exercises, path=solutions, isolation=mode, require_isolation=True)
    walls = run(exercises, path=solutions, isolation="python")
    assert isolated.isolation == mode and walls.isolation == "python"
    assert isolated.score == walls.score == isolated.max_score


def test_require_isolation_refuses_a_mode_that_cannot_run(monkeypatch):
    from grader.runner import GraderError, isolation_to_run

    monkeypatch.setattr(isolation, "why_not", lambda mode: "" if mode == "python" else "not here")
    with pytest.raises(GraderError, match="not here"):
        isolation_to_run("bwrap", required=True)
    with pytest.raises(GraderError):
        isolation_to_run("auto", required=True)
    assert isolation_to_run("bwrap", required=False) == "auto"  # falls back, and the report says which ran
    assert isolation_to_run("auto", required=False) == "python"


def test_the_seccomp_program_is_well_formed():
    program = isolation.seccomp_program()
    if program is None:
        pytest.skip("no seccomp filter is defined for this processor")
    assert len(program) % 8 == 0 and len(program) // 8 < 4096


def test_grade_reports_the_isolation_and_exits_3_when_it_is_required_but_missing(tmp_path):
    env = dict(os.environ, PATH=str(Path(sys.executable).parent))  # no bwrap on this PATH
    done = subprocess.run(
        [sys.executable, "-m", "dlcourse_cli", "grade", "ch2.sigmoid", "--submission", str(tmp_path),
         "--isolation", "bwrap", "--require-isolation", "--quiet"],
        env=env, capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert done.returncode == 3, done.stderr
    assert "bubblewrap" in done.stderr


@pytest.mark.skipif(bool(isolation.why_not("user")), reason=f"user isolation unavailable here: {isolation.why_not('user')}")
def test_user_mode_workers_of_two_submissions_cannot_read_each_other(tmp_path, monkeypatch):
    uids = iter([isolation.USER_UID_BASE + 4_000_001, isolation.USER_UID_BASE + 4_000_002])
    monkeypatch.setattr(isolation, "worker_uid", lambda pid: next(uids))
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    alice.mkdir()
    bob.mkdir()
    (alice / "secret.py").write_text("ANSWER = 'alice-solution-42'\n")
    (bob / "peek.py").write_text(textwrap.dedent(
        '''
        import os
        def peek():
            found = []
            for name in os.listdir("/tmp"):
                if name.startswith("dlcourse-user-"):
                    try:
                        with open(f"/tmp/{name}/alice/secret.py") as f:
                            found.append(f.read())
                    except OSError as exc:
                        found.append("blocked:" + type(exc).__name__)
            return found
        '''
    ))
    first, second = Worker(alice, requested_isolation="user"), Worker(bob, requested_isolation="user")
    try:
        first.start()
        second.start()
        reply = second.request({"op": "call", "modules": ["peek"], "func": "peek", "args": [], "kwargs": {},
                                "device": "cpu", "banned": [], "autograd": False}, timeout=60)
    finally:
        first.stop()
        second.stop()
    assert reply.get("status") == "ok", reply
    assert reply["value"], "alice's copy was not found at all: the probe tested nothing"
    assert not any("alice-solution-42" in v for v in reply["value"]), reply["value"]


def test_auto_never_picks_bubblewrap_for_cuda():
    """A bubblewrap worker did not start with CUDA on the GPU machine it was tried on: auto
    takes the next mode there, and the report says which."""
    assert isolation.choose("auto", "cuda") in isolation.AUTO_ON_CUDA
    assert isolation.choose("auto", "cuda:0") != "bwrap"
