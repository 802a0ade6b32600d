"""The grader's side of the worker: start it, send calls, enforce the time limit, decode
replies safely, and turn what went wrong into a `StudentError` the report can explain.

    worker = Worker(path="exercises", device="cpu")
    proxy = StudentProxy(worker, exercise)
    dx, dW, db = proxy.linear_backward(dout, x, W)   # runs in the worker
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader import calls, sanitize, wire
from grader.messages import text
from grader.curriculum import Chapter, Exercise
from grader.curriculum import chapter as chapter_of
from grader.guard_names import AUTOGRAD
from grader.reply import MalformedReply, Reply, ReplyStatus

DEFAULT_TIMEOUT = 5.0
STARTUP_TIMEOUT = 120.0
DEFAULT_MEMORY_MB = 4096
MAX_REPLY_BYTES = 256 << 20


# --- what can go wrong in student code -------------------------------------------------


class StudentError(Exception):
    """Student code did not produce a value. `status` is the exercise status it implies,
    `key` and `params` the catalogue message that explains it."""

    status = "error"
    key = "student.exception"

    def __init__(self, **params: object):
        super().__init__(params)
        self.params = params


class NotStarted(StudentError):
    status, key = "not_started", "student.not_started"


class Raised(StudentError):
    status, key = "error", "student.exception"


class ImportFailed(StudentError):
    status, key = "error", "student.import_error"


class Missing(StudentError):
    status, key = "error", "student.missing"


class Exited(StudentError):
    status, key = "error", "student.exit"


class Crashed(StudentError):
    status, key = "error", "student.crashed"


class TimedOut(StudentError):
    status, key = "timeout", "student.timeout"


class TrainingTimedOut(TimedOut):
    status, key = "timeout", "student.timeout_training"


class Banned(StudentError):
    status, key = "banned_call", "student.banned"


class UsedAutograd(StudentError):
    status, key = "banned_call", "student.autograd"


class Refused(StudentError):
    status, key = "error", "student.refused"


class BadValue(StudentError):
    status, key = "failed", "student.bad_value"


class WrongDevice(StudentError):
    status, key = "failed", "student.wrong_device"


class MutatedInput(StudentError):
    status, key = "failed", "student.mutated_input"


class Integrity(StudentError):
    """The code reached for the grader's machinery (`flags`, see `grader.integrity`): the
    exercise scores 0 and the flags reach every report."""

    status, key = "integrity", "student.integrity"

    def __init__(self, flags: list[str], **params: object):
        super().__init__(flags=", ".join(flags), **params)
        self.flags = list(flags)


class Unreadable(StudentError):
    status, key = "error", "student.unreadable"


def _frame(f: object) -> dict:
    f = f if isinstance(f, dict) else {}
    line = f.get("line", 0)
    return {
        "file": sanitize.name(f.get("file", "?"), 200),
        "line": line if isinstance(line, int) and not isinstance(line, bool) else 0,
        "func": sanitize.name(f.get("func", ""), 120),
        "code": sanitize.name(f.get("code", ""), 300),
    }


def _where(reply: Reply) -> dict:
    """The student's exception as text fit to show: every field the worker sent is the
    student's to choose, so each is bounded and stripped of escapes here."""
    raw = reply.get("frames")
    frames = [_frame(f) for f in (raw if isinstance(raw, list) else [])[-12:]]
    last = frames[-1] if frames else {"file": "?", "line": 0, "code": "", "func": ""}
    trace = "\n".join(f'  {f["file"]}:{f["line"]} in {f["func"]}\n    {f["code"]}' for f in frames)
    where = text("detail.location", file=last["file"], line=last["line"], code=last["code"]) if frames else ""
    return {
        "type": sanitize.name(reply.get("type", ""), 200),
        "message": sanitize.clean(reply.get("message", ""), 2000),
        "file": last["file"],
        "line": last["line"],
        "code": last["code"],
        "where": where,
        "trace": trace,
        "output": _output(reply),
    }


def _output(reply: Reply) -> str:
    return sanitize.clean(reply.get("output", ""), 4000)


_REMEMBERED = frozenset({ReplyStatus.INTEGRITY, ReplyStatus.NOT_IMPLEMENTED, ReplyStatus.IMPORT_ERROR, ReplyStatus.MISSING, ReplyStatus.UNREADABLE})
"""Replies that say the same of every input: the exercise's later calls fail at once."""


def _error(reply: Reply, func: str, chapter: Chapter, exercise: str) -> StudentError:
    """The StudentError a reply other than OK stands for, every student-chosen field
    bounded and sanitised."""
    status = reply.status
    if status is ReplyStatus.INTEGRITY:
        flags = reply.get("flags") if isinstance(reply.get("flags"), list) else []
        return Integrity([sanitize.name(re.sub(r"[^a-z_]", "", str(f)), 40) for f in flags][:8] or ["unknown"], exercise=exercise)
    if status is ReplyStatus.NOT_IMPLEMENTED:
        return NotStarted(**_where(reply))
    if status is ReplyStatus.IMPORT_ERROR:
        return ImportFailed(**(_where(reply) | {"module": sanitize.name(reply.get("module", ""), 120)}))
    if status is ReplyStatus.MISSING:
        return Missing(func=func, module=", ".join(f"{m}.py" for m in chapter.modules))
    if status is ReplyStatus.UNREADABLE:
        return Unreadable(reason=sanitize.name(reply.get("reason", ""), 60), output=_output(reply))
    if status is ReplyStatus.BANNED:
        banned = sanitize.name(reply.get("call", ""), 200)
        if banned in AUTOGRAD or "requires_grad" in banned:
            return UsedAutograd(call=banned, exercise=exercise, output=_output(reply))
        return Banned(call=banned, exercise=exercise, output=_output(reply))
    if status is ReplyStatus.MUTATED:
        names = reply.get("arguments") if isinstance(reply.get("arguments"), list) else []
        return MutatedInput(arguments=sanitize.name(", ".join(map(str, names[:20])), 300))
    if status is ReplyStatus.REFUSED:
        slug = re.sub(r"[^a-z_]", "", str(reply.get("what", "")))[:40]
        return Refused(what=text(f"refused.{slug}", detail=sanitize.name(reply.get("detail", ""), 200)), exercise=exercise)
    if status is ReplyStatus.EXIT:
        return Exited(**_where(reply))
    if status is ReplyStatus.BAD_VALUE:
        return BadValue(detail=sanitize.clean(reply.get("message", ""), 500))
    if status is ReplyStatus.EXCEPTION:
        return Raised(**_where(reply))
    return BadValue(detail=f"an unexpected reply ({status.value}) to a call")


def again(error: StudentError) -> StudentError:
    """A fresh copy of a remembered error (its message and the call that caused it,
    `error.call`), without the notes, traceback or cause the original has collected."""
    fresh = type(error).__new__(type(error))
    fresh.args = error.args
    fresh.__dict__.update({k: v for k, v in error.__dict__.items() if k != "__notes__"})
    return fresh


# --- the worker process -----------------------------------------------------------------


@dataclass
class Worker:
    """One worker process for one submission folder, restarted after a timeout or crash."""

    path: Path
    device: str = "cpu"
    timeout: float = DEFAULT_TIMEOUT
    memory_mb: int = DEFAULT_MEMORY_MB
    threads: int = 1
    calls: int = 0
    _proc: subprocess.Popen | None = field(default=None, repr=False)
    _fds: tuple[int, int] = (-1, -1)
    requested_isolation: str = "auto"
    """"auto", "bwrap", "user" or "python" (see `grader.isolation`)."""
    isolation: str = ""
    """The mode the worker runs under, once started."""
    _ready: bool = False
    _launch: object | None = None
    _unsettled: tuple[str, str] | None = None
    """A sync sent ahead (`sync_ahead`) whose echo is not read yet: (nonce, exercise)."""
    failures: dict[str, StudentError] = field(default_factory=dict)
    """Per exercise id, what `settle` found wrong with a sync sent ahead."""

    def start(self) -> None:
        """Start the process without waiting for it (it imports torch meanwhile)."""
        if self._proc is not None:
            return
        from grader import isolation

        self.isolation = isolation.choose(self.requested_isolation, self.device)
        launch = isolation.plan(self.isolation, Path(self.path), self.device)
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        # a scrubbed environment: nothing of the grader's (tokens, paths) reaches student code
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "CUDA_VISIBLE_DEVICES")}
        env.update(HOME=launch.home, TMPDIR=launch.home, OMP_NUM_THREADS=str(self.threads), MKL_NUM_THREADS=str(self.threads), PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
        path = isolation.python_path()
        if path:
            env["PYTHONPATH"] = path
        cmd = [
            *launch.argv, sys.executable, "-m", "grader.worker",
            "--fd-in", str(to_child_r), "--fd-out", str(from_child_w),
            "--path", str(launch.submission), "--threads", str(self.threads),
            "--memory-mb", str(0 if self.device.startswith("cuda") else self.memory_mb),
            "--device", self.device, "--isolation", self.isolation,
        ]
        if path:
            cmd += ["--drop-path", path]
        try:
            self._proc = subprocess.Popen(
                cmd,
                pass_fds=(to_child_r, from_child_w, *launch.pass_fds),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                # DLCOURSE_DEBUG_WORKER=1 shows why a worker could not start
                stderr=None if os.environ.get("DLCOURSE_DEBUG_WORKER") else subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                **launch.popen_kwargs(),
            )
        except BaseException:
            launch.cleanup()
            for fd in (to_child_r, to_child_w, from_child_r, from_child_w):
                os.close(fd)
            raise
        os.close(to_child_r)
        os.close(from_child_w)
        self._launch = launch
        for fd in launch.pass_fds:  # the launcher has read what it needed at exec
            os.close(fd)
        launch.pass_fds = ()
        self._fds = (to_child_w, from_child_r)
        self._ready = False

    def stop(self) -> None:
        if self._proc is not None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            uid = getattr(self._launch, "uid", None)
            if uid is not None:  # every process of the worker's own uid, setsid or not
                from grader.isolation import kill_uid

                kill_uid(uid)
            self._proc.wait()
            for fd in self._fds:
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._proc, self._fds, self._ready = None, (-1, -1), False
        if self._unsettled is not None:  # its echo can no longer be read: the reply stays unverified
            exercise, self._unsettled = self._unsettled[1], None
            self.failures.setdefault(exercise, Crashed(detail="the worker stopped before its last reply could be verified"))
        if self._launch is not None:
            self._launch.cleanup()
            self._launch = None

    def alive(self) -> bool:
        """Started and still running."""
        return self._proc is not None and self._proc.poll() is None

    def memory_mib(self, wait: bool = False) -> float:
        """Resident memory of the worker's processes (bubblewrap's and the worker's), in
        MiB; 0 when not running. With `wait`, first wait until it is ready (raises Crashed
        when it cannot start): a fresh worker's size."""
        from grader import memory

        if wait:
            self.start()
            self._wait_ready()
        return memory.tree_rss_mib(self._proc.pid) if self.alive() else 0.0

    def _wait_ready(self) -> None:
        if self._ready:
            return
        try:
            wire.receive(self._fds[1], time.monotonic() + STARTUP_TIMEOUT, max_bytes=1 << 16)
        except (wire.Closed, wire.Timeout, wire.WireError):
            code = self._proc.poll() if self._proc else None
            self.stop()
            raise Crashed(detail=f"the worker could not start (exit code {code})") from None
        self._ready = True

    def request(self, message: dict, timeout: float | None = None) -> Reply:
        """Send one request and return the worker's reply, or raise TimedOut/Crashed."""
        self.settle()  # may stop a worker that forged a reply: the request gets a fresh one
        self.start()
        self._wait_ready()
        self.calls += 1
        limit = timeout or self.timeout
        try:
            wire.send(self._fds[0], message)
            reply = wire.receive(self._fds[1], time.monotonic() + limit, max_bytes=MAX_REPLY_BYTES)
        except wire.Timeout:
            self.stop()
            raise TimedOut(seconds=limit) from None
        except (wire.Closed, BrokenPipeError):
            code = self._proc.wait() if self._proc else None
            self.stop()
            raise Crashed(detail=_exit_detail(code)) from None
        except wire.WireError as exc:
            self.stop()
            raise BadValue(detail=str(exc)) from None
        try:
            return Reply.decode(reply.value, reply.devices)
        except MalformedReply as exc:
            raise BadValue(detail=str(exc)) from None

    def sync_ahead(self, nonce: str, exercise: str) -> None:
        """Ask the worker to echo `nonce` and read the echo later (`settle`): the echo
        arrives while this process computes the expected answer, instead of costing a
        round trip per call. Nothing is lost by waiting: a reply forged ahead of the
        worker's own is still found before any other request, and before the check that
        received it is scored (`grader.plugin` settles at the end of every check)."""
        self.settle()
        try:
            wire.send(self._fds[0], {"op": "sync", "nonce": nonce})
        except OSError:  # the worker is gone: its reply cannot be verified
            code = self._proc.wait() if self._proc else None
            self.stop()
            self.failures.setdefault(exercise, Crashed(detail=_exit_detail(code)))
            return
        self._unsettled = (nonce, exercise)

    def settle(self) -> None:
        """Read the echo of a sync sent ahead. When it is not the nonce sent (a reply was
        written ahead of the worker's), the exercise is flagged `worker_pipes`; when none
        comes (the worker died or hangs), the exercise's reply stays unverified, as a
        crash or a timeout. Either goes into `failures` and the worker is stopped."""
        if self._unsettled is None:
            return
        (nonce, exercise), self._unsettled = self._unsettled, None
        error: StudentError | None = None
        try:
            echo = wire.receive(self._fds[1], time.monotonic() + self.timeout, max_bytes=MAX_REPLY_BYTES)
            reply = Reply.decode(echo.value, echo.devices)
            if reply.status is not ReplyStatus.SYNC or reply.get("nonce") != nonce:
                error = Integrity(["worker_pipes"], exercise=exercise)
        except wire.Timeout:
            error = TimedOut(seconds=self.timeout)
        except (wire.Closed, OSError):
            error = Crashed(detail=_exit_detail(self._proc.wait() if self._proc else None))
        except (wire.WireError, MalformedReply):
            error = Integrity(["worker_pipes"], exercise=exercise)
        if error is not None:
            self.stop()
            self.failures.setdefault(exercise, error)

    def __enter__(self) -> "Worker":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _has_tensor(value: object) -> bool:
    from grader import tree

    return tree.any_tensor(value)


def _left_a_thread(reply: Reply) -> bool:
    return reply.status is ReplyStatus.REFUSED and reply.get("what") == "thread"


def _exit_detail(code: int | None) -> str:
    if code is None:
        return "unknown"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"killed by {name}" + (" (out of memory?)" if name == "SIGKILL" else "")
    return f"exit code {code}"


# --- the proxy a check calls ----------------------------------------------------------------


class StudentProxy:
    """Calls the student's functions of one exercise's chapter in the worker.

    A timeout, crash or import failure is remembered for the rest of the run: later calls
    of the same exercise fail at once with a copy of the same error, so Hypothesis'
    shrinking and the exercise's other checks do not wait out the time limit again. Every
    error raised here carries the call that caused it (`error.call`, a `calls.Call`).
    """

    def __init__(self, worker: Worker, exercise: Exercise, poisoned: dict[str, StudentError]):
        self._worker = worker
        self._exercise = exercise
        self._chapter: Chapter = chapter_of(exercise.chapter)
        self._poisoned = poisoned

    def __getattr__(self, func: str):
        if func.startswith("_"):
            raise AttributeError(func)

        def call(*args: object, **kwargs: object) -> object:
            return self._call(func, args, kwargs)

        return call

    def _call(self, func: str, args: tuple, kwargs: dict) -> object:
        key = self._exercise.id
        self.settled()
        if key in self._poisoned:
            # a fresh exception each time: Hypothesis writes each check's example onto the
            # exception it reports, and one shared object would carry them to the next check
            raise again(self._poisoned[key])
        call = calls.record(calls.Call(key, func, args, dict(kwargs)))
        try:
            return self._send(call)
        except StudentError as exc:
            if getattr(exc, "call", None) is None:
                exc.call = call  # the input that failed, not a shrunk one that would not
            if self._poisoned.get(key) is exc:
                self._poisoned[key] = again(exc)  # kept clean of the notes `exc` will get
            raise

    def settled(self) -> None:
        """Read the echo of the last call's sync, if it is still on its way: what it found
        wrong is remembered like any error of this exercise and raised (a `StudentError`
        whose `call` is the call whose reply could not be verified)."""
        settle = getattr(self._worker, "settle", None)
        if settle is None:
            return
        settle()
        key = self._exercise.id
        error = self._worker.failures.pop(key, None)
        if error is not None:
            error.call = calls.last()
            self._poisoned[key] = error
            raise again(error)

    def _send(self, call: calls.Call) -> object:
        key, func, args, kwargs = self._exercise.id, call.func, call.args, call.kwargs
        # a function of another exercise of the same chapter is banned/limited like this one
        request = {
            "op": "call",
            "modules": list(self._chapter.modules),
            "func": func,
            "args": list(args),
            "kwargs": dict(kwargs),
            "device": self._worker.device,
            "banned": list(self._exercise.banned),
            "autograd": self._exercise.autograd,
        }
        try:
            self._prepare()
            reply = self._worker.request(request, timeout=self._exercise.timeout)
            if reply.status is ReplyStatus.INTEGRITY or _left_a_thread(reply):
                self._worker.stop()  # what the code touched or left running dies with this worker
            else:
                self._sync()
        except TimedOut as exc:
            if self._exercise.autograd:  # a "train" exercise: the advice is not about loops
                exc = TrainingTimedOut(**exc.params)
            self._poisoned[key] = exc
            raise exc from None
        except (Crashed, Integrity) as exc:
            self._poisoned[key] = exc
            raise
        except BadValue as exc:  # a reply that is not wire data: the worker was restarted
            self._poisoned[key] = exc
            raise
        call.printed = _output(reply)
        if reply.status is ReplyStatus.OK:
            value = reply.get("value")
            expected_device = self._worker.device
            wrong = {d for d in reply.devices if d.split(":")[0] != expected_device.split(":")[0]}
            # a function given no tensor (kfold_indices(n, k), a schedule) has no device to follow
            if wrong and _has_tensor((args, kwargs)):
                raise WrongDevice(got=sanitize.name(", ".join(sorted(wrong)), 200), device=expected_device)
            call.output = value
            return value
        error = _error(reply, func, self._chapter, key)
        if reply.status in _REMEMBERED:  # every later call of this exercise fails alike
            self._poisoned[key] = error
        raise error

    def _prepare(self) -> None:
        """Once per worker process and banned list: let the worker trace the banned
        routines (`grader.guard.kernels`) before the first timed call."""
        banned = tuple(self._exercise.banned)
        if not banned:
            return
        self._worker.start()
        proc = getattr(self._worker, "_proc", None)
        key = (getattr(proc, "pid", None), banned, self._worker.device)
        prepared = self._worker.__dict__.setdefault("_guard_prepared", set())
        if key not in prepared:
            self._worker.request({"op": "prepare", "banned": list(banned), "device": self._worker.device}, timeout=STARTUP_TIMEOUT)
            prepared.add(key)

    def _sync(self) -> None:
        """Ask the worker to echo a fresh random nonce: if student code wrote a reply of
        its own onto the pipe, the worker's real reply arrives instead, and the
        exercise is flagged (`worker_pipes`). The nonce is drawn after the call ended, so
        the student's code could not have known it. A worker process reads the echo later
        (`Worker.sync_ahead`); `settled` raises what it found."""
        import secrets

        nonce = secrets.token_hex(16)
        ahead = getattr(self._worker, "sync_ahead", None)
        if ahead is not None:
            ahead(nonce, self._exercise.id)
            return
        try:
            echo = self._worker.request({"op": "sync", "nonce": nonce})
        except BadValue:
            echo = {}
        if echo.get("status") is not ReplyStatus.SYNC or echo.get("nonce") != nonce:
            self._worker.stop()
            raise Integrity(["worker_pipes"], exercise=self._exercise.id)
