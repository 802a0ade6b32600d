"""`grader.inprocess.InProcessWorker`: the worker the project's own tests grade their
mutants with. It answers each student call with one request: a worker process's sync
echo (`grader.student.Worker.sync_ahead`) guards the pipe between a call and its reply,
and here there is none, so answering it was half of this worker's requests."""

from __future__ import annotations

import torch

from grader.curriculum import find
from grader.inprocess import InProcessWorker
from grader.student import StudentProxy
from tests.submissions import SOLUTIONS


def test_each_student_call_is_one_request_and_gets_its_answer():
    worker = InProcessWorker(SOLUTIONS)
    proxy = StudentProxy(worker, find("ch4.linear_forward"), {})
    x, W, b = torch.randn(4, 3, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64), torch.randn(2, dtype=torch.float64)
    try:
        outs = [proxy.linear_forward(x, W, b) for _ in range(3)]
        proxy.settled()  # nothing left unverified
    finally:
        worker.stop()
    assert worker.calls == 3
    for out in outs:
        torch.testing.assert_close(out, torch.nn.functional.linear(x, W.T, b))
