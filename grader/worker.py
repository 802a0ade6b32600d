"""The worker process: the only place student code runs.

Started by `grader.student.Worker` as `python -m grader.worker`, it imports the student's
chapter modules from the submission folder on demand and answers call requests over two
pipes (its stdin/stdout are not used, so nothing a student prints can forge a reply).
Each reply says what happened in the student's own terms: the value, or the exception
with only the student's frames, or the banned call, or NotImplementedError (not started).

Limits the parent cannot enforce from outside are set here before student code runs:
address space (memory), core dumps, torch threads. Time is enforced by the parent,
which kills the whole process group.
"""

from __future__ import annotations

import _thread
import argparse
import importlib.util
import io
import linecache
import os
import resource
import signal
import sys
import threading
import time
import traceback
import warnings
from pathlib import Path

from grader.reply import ReplyStatus, reply

OUTPUT_LIMIT = 8_000
FILE_LIMIT = 64 << 20


class BoundedText(io.TextIOBase):
    """A text stream that keeps the first OUTPUT_LIMIT characters and counts the rest."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.kept = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        s = str(s)
        room = OUTPUT_LIMIT - self.kept
        if room > 0:
            self.parts.append(s[:room])
            self.kept += min(room, len(s))
        self.dropped += max(0, len(s) - max(room, 0))
        return len(s)

    def take(self) -> str:
        out = "".join(self.parts)
        if self.dropped:
            out += f"\n... [{self.dropped} more characters]"
        self.parts, self.kept, self.dropped = [], 0, 0
        return out


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings go to the captured output without looking up the source line."""
    sys.stderr.write(f"{category.__name__}: {message}\n")


def die_with_parent(isolation: str = "python") -> None:
    """Ask Linux to SIGKILL this process when the grader that started it dies, so a
    worker spinning in student code never outlives a killed `grade` (no-op elsewhere).
    Runs before the walls go up: it needs ctypes."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    # the parent died before the request took effect (inside bubblewrap's pid namespace
    # the parent is its init, pid 1, and bubblewrap's --die-with-parent does this job)
    if os.getppid() == 1 and isolation != "bwrap":
        os._exit(1)


CPU_SECONDS = 3600
"""CPU time of one worker: far above a whole `grade all`, a stop to a spinning orphan."""
USER_MAX_PROCESSES = 256


def set_limits(memory_mb: int, isolation: str = "python") -> None:
    """Limits on what student code may use: no core dumps, a cap on open files, on the
    size of files written (the scratch directory), on CPU time and on memory (address
    space); under the `user` isolation, whose uid is the worker's alone, on processes."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS + 5))
    if isolation == "user":
        resource.setrlimit(resource.RLIMIT_NPROC, (USER_MAX_PROCESSES, USER_MAX_PROCESSES))
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails, it does not kill
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class Submission:
    """The student's chapter modules, imported from `root` on first use."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self.modules: dict[str, object] = {}
        self.failures: dict[str, dict] = {}
        # appended, not prepended: a student file named like a library never shadows it
        sys.path.append(str(self.root))
        # `from exercises.ch4_backprop import f` in a student's file means their own file,
        # never the installed stubs: the package name points at the submission
        import types

        package = types.ModuleType("exercises", "The student's own exercise modules.")
        package.__path__ = [str(self.root)]
        sys.modules["exercises"] = package

    def module_name(self, name: str) -> str:
        """The name `name.py` is imported under: its own here, in a process of its own
        (`grader.inprocess` gives each submission unique names)."""
        return name

    def load(self, name: str) -> object | None:
        """The module, None when its file does not exist; raises ImportFailed."""
        if name in self.modules:
            return self.modules[name]
        if name in self.failures:
            raise ImportFailed(self.failures[name])
        path = self.root / f"{name}.py"
        if not path.is_file():
            return None
        qualified = self.module_name(name)
        spec = importlib.util.spec_from_file_location(qualified, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        try:
            spec.loader.exec_module(module)
        except BaseException as exc:  # noqa: BLE001 - student code may raise anything, SystemExit included
            sys.modules.pop(qualified, None)
            self.failures[name] = reply(ReplyStatus.IMPORT_ERROR, module=name, **describe(exc, self.root))
            raise ImportFailed(self.failures[name]) from None
        self.modules[name] = module
        return module


class ImportFailed(Exception):
    def __init__(self, reply: dict):
        super().__init__(reply.get("message", ""))
        self.reply = reply


def describe(exc: BaseException, root: Path) -> dict:
    """An exception as the student should see it: type, message and their frames only."""
    frames = []
    # lookup_lines=False: only the student's own files are read (the grader's are walled off)
    for frame in traceback.StackSummary.extract(traceback.walk_tb(exc.__traceback__), lookup_lines=False):
        try:
            inside = Path(frame.filename).resolve().is_relative_to(root)
        except (OSError, ValueError):
            inside = False
        if inside:
            frames.append(
                {
                    "file": f"{root.name}/{Path(frame.filename).resolve().relative_to(root)}",
                    "line": frame.lineno or 0,
                    "func": frame.name,
                    "code": linecache.getline(frame.filename, frame.lineno or 0).strip()[:300],
                }
            )
    if isinstance(exc, SyntaxError) and exc.filename:
        try:
            rel = Path(exc.filename).resolve().relative_to(root)
            frames.append({"file": f"{root.name}/{rel}", "line": exc.lineno or 0, "func": "", "code": (exc.text or "").strip()[:300]})
        except (OSError, ValueError):
            pass
    try:
        message = str(exc) if not isinstance(exc, SystemExit) else f"exit code {exc.code!r}"
    except BaseException:  # noqa: BLE001 - a student exception whose __str__ fails
        message = "(the exception's message could not be shown)"
    return {"type": str(type(exc).__name__)[:200], "message": str(message)[:2000], "frames": frames[-12:]}


def handle(request: dict, submission: Submission, stdout: BoundedText, walls) -> dict:
    """One request's reply. Without `walls` (trusted code graded in the grader's own
    process, `grader.inprocess`) there is no audit hook and no integrity tripwire."""
    if request.get("op") == "sync":  # the grader's check that no reply was forged ahead
        return reply(ReplyStatus.SYNC, nonce=str(request.get("nonce", "")))
    if request.get("op") == "prepare":  # the guard's one-off tracing, outside any call's time
        from grader import guard

        guard.prepare(tuple(request.get("banned", [])), str(request.get("device", "cpu")))
        return reply(ReplyStatus.PREPARED)
    flags: list[str] = []
    answer = _handle(request, submission, stdout, walls, flags)
    refused = walls.take() if walls is not None else None
    if flags:
        return reply(ReplyStatus.INTEGRITY, flags=flags, output=answer.get("output", ""))
    if refused:
        return reply(ReplyStatus.REFUSED, what=refused[0], detail=refused[1], output=answer.get("output", ""))
    return answer


def _handle(request: dict, submission: Submission, stdout: BoundedText, walls=None, flags: list | None = None) -> dict:
    import torch

    from grader import guard, integrity, probes, tree

    flags = [] if flags is None else flags
    names = request["modules"]
    func_name = request["func"]
    func = None
    try:
        for name in names:
            module = submission.load(name)
            if module is not None and callable(getattr(module, func_name, None)):
                func = getattr(module, func_name)
                break
    except ImportFailed as failed:
        return failed.reply | {"output": stdout.take()}
    if func is None:
        present = [n for n in names if (submission.root / f"{n}.py").is_file()]
        return reply(ReplyStatus.MISSING, func=func_name, modules=names, present=present)

    try:
        found = _scan(func, request)
    except guard.Unreadable as exc:
        return reply(ReplyStatus.UNREADABLE, reason=str(exc), output=stdout.take())
    if found:
        return reply(ReplyStatus.BANNED, call=f"{found[0]} (line {found[1]})", output=stdout.take())
    device = request.get("device", "cpu")

    args = tree.map_tensors(probes.resolve(request.get("args", [])), lambda t: t.to(device))
    kwargs = tree.map_tensors(probes.resolve(request.get("kwargs", {})), lambda t: t.to(device))
    watcher = guard.Guard(request.get("banned", []), request.get("autograd", False), device)
    before = snapshot(func, args, kwargs)
    threads = _threads()
    _seed(torch, device)
    watch = integrity.Watch(walls, watcher) if walls is not None else _Unwatched()
    try:
        with watch, watcher:
            value = func(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - report whatever student code raised
        flags.extend(watch.flags)
        if _thread_left(threads):
            return reply(ReplyStatus.REFUSED, what="thread", detail="", output=stdout.take())
        if watcher.violation:
            return reply(ReplyStatus.BANNED, call=watcher.violation, output=stdout.take())
        status = ReplyStatus.NOT_IMPLEMENTED if isinstance(exc, NotImplementedError) else ReplyStatus.EXCEPTION
        if isinstance(exc, SystemExit):
            status = ReplyStatus.EXIT
        return reply(status, output=stdout.take(), **describe(exc, submission.root))
    flags.extend(watch.flags)
    if watcher.violation:
        return reply(ReplyStatus.BANNED, call=watcher.violation, output=stdout.take())
    if _thread_left(threads):
        return reply(ReplyStatus.REFUSED, what="thread", detail="", output=stdout.take())
    if not request.get("autograd", False) and guard.uses_autograd(value):
        return reply(ReplyStatus.BANNED, call="requires_grad", output=stdout.take())
    changed = [name for name, (tensor, copy) in before.items() if not _same(tensor, copy)]
    if changed:
        return reply(ReplyStatus.MUTATED, arguments=changed, output=stdout.take())
    return reply(ReplyStatus.OK, value=value, output=stdout.take())


# bound here, not looked up on their modules after a call: student code can replace a
# module's attribute, not this module's (its namespace is fingerprinted, `grader.integrity`)
_active_count, _count, _listdir, _sleep = threading.active_count, _thread._count, os.listdir, time.sleep


def _threads() -> tuple[int, int, int]:
    """Threads now: threading's, every Python thread (one started with `_thread` directly
    too, once it has run) and the process's tasks (the operating system's count)."""
    try:
        tasks = len(_listdir("/proc/self/task"))
    except OSError:  # no /proc: only Python's counts
        tasks = -1
    return _active_count(), _count(), tasks


def _thread_left(before: tuple[int, int, int]) -> bool:
    """Whether the call left a Python thread running (the grader then ends this worker:
    such a thread would outlive the call's watch). A thread started with `_thread` is
    counted only once it has run: when the process has more tasks than before (torch may
    also start its own), this thread sleeps so that a new one gets to run first."""
    now = _threads()
    if now[1] <= before[1] and (now[2] > before[2] >= 0 or before[2] < 0):
        _sleep(0.01 if before[2] >= 0 else 0)
        now = _threads()
    return now[0] > before[0] or now[1] > before[1]


def _seed(torch, device: str) -> None:
    """Every call starts from seed 0. `torch.manual_seed` would also queue a lazy CUDA
    seeding with a formatted stack on a machine that never initialises CUDA: that took
    two thirds of a call's time and grew a list on every call."""
    torch.default_generator.manual_seed(0)
    if str(device).startswith("cuda"):
        torch.cuda.manual_seed_all(0)  # CUDA is initialised before the walls go up


class _Unwatched:
    """In place of `integrity.Watch` where there are no walls."""

    flags: tuple[str, ...] = ()

    def __enter__(self) -> "_Unwatched":
        return self

    def __exit__(self, *exc: object) -> None:
        pass


_SCANS: dict = {}


def _scan(func, request: dict):
    """The source scan of `grader.guard` for this function, once per run; raises
    `guard.Unreadable` when the student's file is too large or nested to read."""
    from grader import guard

    key = (getattr(func, "__module__", None), getattr(func, "__name__", None), tuple(request.get("banned", [])), bool(request.get("autograd")))
    if key not in _SCANS:
        module = sys.modules.get(key[0]) if isinstance(key[0], str) else None
        try:
            source = Path(module.__file__).read_text(encoding="utf-8", errors="replace")
        except (AttributeError, OSError, TypeError, ValueError):
            source = ""
        except MemoryError:
            raise guard.Unreadable("MemoryError") from None
        _SCANS[key] = guard.scan(source, str(key[1]), key[2], key[3])
    return _SCANS[key]


def snapshot(func, args: list, kwargs: dict) -> dict:
    """Copies of the tensor arguments by parameter name, to detect in-place changes."""
    import inspect

    from grader import tree

    try:
        named = dict(inspect.signature(func).bind_partial(*args, **kwargs).arguments)
    except (TypeError, ValueError):
        named = {f"argument {i + 1}": v for i, v in enumerate(args)} | dict(kwargs)
    out: dict = {}
    for name, value in named.items():
        for path, tensor in tree.tensors(value):
            label = name + "".join(f"[{k}]" if isinstance(k, int) else f"[{k!r}]" for k in path)
            out[label] = (tensor, tensor.clone())
    return out


def _same(tensor, copy) -> bool:
    import torch

    return tensor.shape == copy.shape and bool(torch.equal(tensor, copy) or (tensor.isnan() == copy.isnan()).all() and torch.equal(tensor.nan_to_num(), copy.nan_to_num()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="grader.worker")
    parser.add_argument("--fd-in", type=int, required=True)
    parser.add_argument("--fd-out", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--memory-mb", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--isolation", default="python", choices=("bwrap", "user", "python"))
    parser.add_argument("--drop-path", action="append", default=[], help="a sys.path entry only the grader needs (a checkout)")
    opts = parser.parse_args(argv)

    die_with_parent(opts.isolation)
    set_limits(opts.memory_mb, opts.isolation)
    sys.dont_write_bytecode = True  # importing student files writes nothing beside them
    stdout = BoundedText()
    sys.stdout = sys.stderr = stdout
    warnings.showwarning = _show_warning  # never reads source lines (the grader's are walled off)

    import torch

    # everything the worker itself needs is imported before the walls go up
    from grader import guard, lean_torch, probes, sandbox, tree, wire  # noqa: F401

    lean_torch.skip_dynamo_until_compiling()  # a training exercise needs no compiler (70 MiB, 1.2 s)
    torch.set_num_threads(opts.threads)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if opts.device.startswith("cuda"):
        torch.zeros(1, device=opts.device)  # initialise CUDA (it loads libraries) first
        # device_count() loads NVML through ctypes on its first call after initialisation
        # (torch.manual_seed calls it): do it now, before the walls refuse ctypes
        torch.cuda.device_count()
    walls = sandbox.install(Path.cwd(), Path(opts.path))
    # a checkout put on PYTHONPATH for the worker leaves sys.path again (student code
    # imports only from its folder); site-packages stays, whatever it holds: packages
    # import lazily (torch.compile imports sympy on first use)
    dropped = {os.path.realpath(p) for p in opts.drop_path}
    sys.path[:] = [p for p in sys.path if p and os.path.realpath(p) not in dropped]
    walls.protect("grader", "solutions")  # wherever they are found now
    submission = Submission(Path(opts.path))
    walls.active = True
    wire.send(opts.fd_out, reply(ReplyStatus.READY))
    while True:
        try:
            request = wire.receive(opts.fd_in).value
        except wire.Closed:
            os._exit(0)
        answer = handle(request, submission, stdout, walls)
        try:
            wire.send(opts.fd_out, answer)
        except Exception as exc:  # noqa: BLE001 - a value that cannot be encoded (a hostile tensor)
            wire.send(opts.fd_out, reply(ReplyStatus.BAD_VALUE, **describe(exc, submission.root)))


if __name__ == "__main__":
    main()
