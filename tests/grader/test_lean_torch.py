"""grader.lean_torch (issue 17): an optimiser built and stepped in the grader or the worker
imports no torch._dynamo (70 MiB, 1.2 s per process), computes what torch computes, and a
compiled training step still works. Each case runs in a fresh interpreter: the test
process may have loaded torch._dynamo already."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

TRAIN = """
import json, sys
import torch
if sys.argv[1] == "lean":
    from grader.lean_torch import skip_dynamo_until_compiling
    assert skip_dynamo_until_compiling() > 0
torch.manual_seed(0)
x, y = torch.randn(16, 3), torch.randn(16, 2)
out = {}
for name, make in [
    ("sgd", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True)),
    ("adam", lambda p: torch.optim.Adam(p, lr=0.05)),
    ("adamw", lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=0.1)),
    ("rmsprop", lambda p: torch.optim.RMSprop(p, lr=0.01)),
    ("lbfgs", lambda p: torch.optim.LBFGS(p, lr=0.5)),
]:
    torch.manual_seed(1)
    model = torch.nn.Linear(3, 2)
    opt = make(model.parameters())
    schedule = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    def closure():
        opt.zero_grad()
        loss = (model(x) - y).pow(2).mean()
        loss.backward()
        return loss
    for _ in range(4):
        opt.step(closure)
        schedule.step()
    opt.load_state_dict(opt.state_dict())
    opt.step(closure)
    out[name] = [v.item() for v in model.weight.detach().flatten()]
print(json.dumps({"weights": out, "dynamo": "torch._dynamo" in sys.modules}))
"""

COMPILED = """
import torch
from grader.lean_torch import skip_dynamo_until_compiling
skip_dynamo_until_compiling()
import torch._dynamo  # what torch.compile loads: torch's own paths from here on
def run(compiled):
    torch.manual_seed(1)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    def step(x):
        opt.zero_grad()
        model(x).pow(2).sum().backward()
        opt.step()
    step = torch.compile(step, backend="eager") if compiled else step
    for _ in range(3):
        step(torch.ones(4, 3))
    return model.weight.detach()
assert torch.allclose(run(True), run(False), atol=1e-6)
"""


def _run(code: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_optimisers_compute_what_torch_computes_without_loading_dynamo():
    lean, plain = (json.loads(_run(TRAIN, mode).splitlines()[-1]) for mode in ("lean", "plain"))
    assert plain["dynamo"], "torch itself no longer loads torch._dynamo for an optimiser: grader.lean_torch is moot"
    assert not lean["dynamo"], "an optimiser loaded torch._dynamo after skip_dynamo_until_compiling()"
    assert lean["weights"] == plain["weights"]


@pytest.mark.slow
def test_a_compiled_training_step_still_works_once_dynamo_is_loaded():
    _run(COMPILED)


STUDENT = '''
import sys, torch


def train_linear_svm(X, y, C, seed):
    w = torch.zeros(X.shape[1], requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        (w - 1).pow(2).sum().backward()
        opt.step()
    return torch.full_like(w, float("torch._dynamo" in sys.modules)).detach(), torch.tensor(0.0)
'''


def test_the_worker_trains_without_loading_dynamo(tmp_path):
    import torch

    from grader.curriculum import find
    from grader.student import StudentProxy, Worker

    (tmp_path / "ch3_svm.py").write_text(STUDENT)
    worker = Worker(tmp_path, requested_isolation="python")
    try:
        worker.start()
        w, _ = StudentProxy(worker, find("ch3.train_linear_svm"), {}).train_linear_svm(torch.ones(4, 3), torch.ones(4), 1.0, 0)
    finally:
        worker.stop()
    assert w.tolist() == [0.0, 0.0, 0.0], "the worker loaded torch._dynamo for a student's optimiser"
