"""A worker that runs trusted code in the grader's own process: the project's own tests
grade their mutants and variants (`tests/mutants`) with it, hundreds of submissions, each
without a worker process to start.

    report = run(targets, worker=InProcessWorker("solutions"), include_hidden=True)

It answers the same requests as `grader.worker` with the same per-call function
(`grader.worker.handle`: the source scan and the guard of banned calls, NotImplementedError,
mutated arguments, autograd in the result), and every request and reply crosses
`grader.wire`'s encoding as it would the pipes, so the student's function gets copies
and the checks get the same values, with the same devices, as from a worker process.

What it leaves out is the process boundary, so it is for code we wrote, never a
student's: no walls (audit hook, integrity tripwire, scrubbed environment, operating-system
isolation), no sync after each call (no pipe lies between a call and its reply), no
memory limit, and no time limit that can stop a call (one that returned after its limit
is reported as timed out, as the worker process would have been killed). Timeouts,
crashes, `os._exit` and hostile code are tested end to end with `grader.student.Worker`.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from grader import wire
from grader.reply import MalformedReply, Reply, ReplyStatus, reply
from grader.student import DEFAULT_TIMEOUT, MAX_REPLY_BYTES, BadValue, TimedOut
from grader.worker import BoundedText, Submission, _show_warning, describe, handle

_RUNS = itertools.count()


class InProcessSubmission(Submission):
    """The worker's loader (`Submission.load`) for a folder imported into this process:
    each module under a name of its own (`ch4_backprop` -> `_dlcourse_run_3.ch4_backprop`),
    and nothing process-wide changed (no `sys.path` entry, no `exercises` package)."""

    def __init__(self, root: Path):  # not Submission.__init__: it changes sys.path
        self.root = Path(root).resolve()
        self.prefix = f"_dlcourse_run_{next(_RUNS)}"
        self.modules: dict[str, object] = {}
        self.failures: dict[str, dict] = {}

    def module_name(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def unload(self) -> None:
        for name in self.modules:
            sys.modules.pop(self.module_name(name), None)
        self.modules.clear()
        self.failures.clear()


@dataclass
class InProcessWorker:
    """`grader.student.Worker`'s interface, answered in this process (see the module
    docstring). A run's modules are imported on its first call and dropped by `stop()`,
    so every run sees the submission's files afresh, as a new worker process would."""

    path: Path
    device: str = "cpu"
    timeout: float = DEFAULT_TIMEOUT
    threads: int = 1
    calls: int = 0
    requested_isolation: str = "in-process"
    isolation: str = "in-process"
    _submission: InProcessSubmission | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    def start(self) -> None:
        if self._submission is None:
            self._submission = InProcessSubmission(self.path)
            self._stdout = BoundedText()

    def stop(self) -> None:
        if self._submission is not None:
            self._submission.unload()
            self._submission = None

    def alive(self) -> bool:
        return self._submission is not None

    def request(self, message: dict, timeout: float | None = None) -> Reply:
        """Answer one request as the worker process would; raises TimedOut and BadValue
        where `grader.student.Worker.request` does."""
        self.start()
        self.calls += 1
        limit = timeout or self.timeout
        sent = wire.decode(*wire.encode(message)).value  # what the worker would receive
        started = time.monotonic()
        with _student_call(self):
            answer = handle(sent, self._submission, self._stdout, walls=None)
        if time.monotonic() - started > limit:
            self.stop()
            raise TimedOut(seconds=limit)
        try:
            header, buffers = wire.encode(answer)
        except Exception as exc:  # noqa: BLE001 - a value the wire does not carry, as in the worker
            header, buffers = wire.encode(reply(ReplyStatus.BAD_VALUE, **describe(exc, self._submission.root)))
        if len(header) + sum(len(b) for b in buffers) > MAX_REPLY_BYTES:
            self.stop()
            raise BadValue(detail=f"message larger than {MAX_REPLY_BYTES} bytes")
        try:
            decoded = wire.decode(header, buffers)
        except wire.WireError as exc:
            self.stop()
            raise BadValue(detail=str(exc)) from None
        try:
            return Reply.decode(decoded.value, decoded.devices)
        except MalformedReply as exc:
            raise BadValue(detail=str(exc)) from None

    def sync_ahead(self, nonce: str, exercise: str) -> None:
        """Nothing to verify: the worker process's sync (`grader.student.Worker.sync_ahead`)
        finds a reply student code wrote onto the pipe ahead of the worker's, and here no
        pipe lies between the call and its reply. Answering it anyway was half of this
        worker's requests."""

    def __enter__(self) -> "InProcessWorker":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def _student_call(w: InProcessWorker):
    """Around one request: what the worker process keeps to itself stays the worker's.
    Printed text and warnings go to the captured output; the random generators (the
    worker seeds torch's before each call), torch's default dtype, grad mode and thread
    count, and `sys.dont_write_bytecode` are the grader's again afterwards."""
    import numpy as np
    import torch

    devices = [torch.device(w.device).index or 0] if w.device.startswith("cuda") else []
    saved = (random.getstate(), np.random.get_state(), torch.get_default_dtype(), torch.is_grad_enabled(),
             torch.get_num_threads(), sys.dont_write_bytecode)
    sys.dont_write_bytecode = True  # importing the submission writes nothing beside it
    try:
        with torch.random.fork_rng(devices=devices), warnings.catch_warnings(), \
                contextlib.redirect_stdout(w._stdout), contextlib.redirect_stderr(w._stdout):
            warnings.showwarning = _show_warning
            torch.set_num_threads(w.threads)
            yield
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        torch.set_default_dtype(saved[2])
        torch.set_grad_enabled(saved[3])
        torch.set_num_threads(saved[4])
        sys.dont_write_bytecode = saved[5]
