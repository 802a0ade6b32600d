"""Hostile submissions against the worker's walls (grader/sandbox.py): each one costs only
its own exercise, gets the outcome listed here, and changes nothing outside the worker's
scratch directory. Each hostile function takes the place of one ch4 function; the rest
of the file is the reference, which must keep full marks."""

from __future__ import annotations

import hashlib
import os
import re
import textwrap
from pathlib import Path

import pytest

from grader.curriculum import resolve_targets
from grader.runner import run
from tests.submissions import ROOT, SOLUTIONS

# Two submissions, each a set of hostile ch4 functions: {function: source}. A correct
# answer is returned after the hostile act wherever possible, so only the wall can fail it.
CORRECT = {
    "sgd_step": "return w - lr * dw",
    "linear_forward": "return x @ W + b",
}

FIRST = {
    "linear_forward": """
        path = {solutions!r} + "/ch4_backprop.py"
        return open(path).read()  # reading a reference file by its path
    """,
    "sgd_step": """
        from solutions.ch4_backprop import sgd_step as reference
        return reference(w, dw, lr)
    """,
    "relu_backward": """
        import grader.checks.ch4_backprop as checks  # the checks' source, hidden ones included
        return dout * (x > 0)
    """,
    "sigmoid_backward": """
        import gc
        for obj in gc.get_objects():
            pass
        s = 1 / (1 + torch.exp(-x))
        return dout * s * (1 - s)
    """,
    "tanh_backward": """
        import sys
        frame = sys._getframe()
        while frame is not None:  # look for the expected answer in any caller's locals
            for value in frame.f_locals.values():
                if isinstance(value, dict) and "expected" in value:
                    return value["expected"]
            frame = frame.f_back
        return dout * 0
    """,
    "linear_backward": """
        import os
        if os.fork() == 0:
            os._exit(0)
        return dout @ W.T, x.T @ dout, dout.sum(0)
    """,
    "softmax_cross_entropy": """
        import subprocess
        subprocess.run(["sh", "-c", "echo pwned"])
    """,
    "mlp_loss_and_grads": """
        import socket
        socket.socket().connect(("127.0.0.1", 9))
    """,
    "numerical_gradient": """
        with open({outside!r}, "w") as f:  # overwrite a file the grader owns (the report)
            f.write("score 100/100")
        return x
    """,
    "sgd_momentum_step": """
        import os
        os.remove({victim!r})  # delete a file in the student's own workspace
        v = momentum * v + dw
        return w - lr * v, v
    """,
    "rmsprop_step": """
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        libc.printf(b"hello")
        s = alpha * s + (1 - alpha) * dw * dw
        return w - lr * dw / (s.sqrt() + eps), s
    """,
    "adam_step": """
        import os, signal
        os.kill(os.getppid(), signal.SIGKILL)  # kill the grader
    """,
}

SECOND = {
    "linear_forward": """
        import os
        return open(f"/proc/{{os.getppid()}}/environ", "rb").read()  # the grader's environment
    """,
    "sgd_step": """
        import os
        # the grader's environment never reaches the worker
        return w - lr * dw + len(os.environ.get("DLCOURSE_TEST_SECRET", ""))
    """,
    "relu_backward": """
        import threading, time
        threading.Thread(target=lambda: time.sleep(30), daemon=True).start()
        return dout * (x > 0)
    """,
    "sigmoid_backward": """
        import atexit
        atexit.register(lambda: print("ch4 100/100"))
        s = 1 / (1 + torch.exp(-x))
        return dout * s * (1 - s)
    """,
    "tanh_backward": """
        import signal
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        while True:
            pass
    """,
    "linear_backward": """
        class Liar(torch.Tensor):
            def __eq__(self, other):
                return True
            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                return super().__torch_function__(func, types, args, kwargs or {{}})
        wrong = torch.zeros_like(x).as_subclass(Liar)
        x2, d2 = x.reshape(-1, x.shape[-1]), dout.reshape(-1, dout.shape[-1])  # any leading dims
        return wrong, (x2.T @ d2).as_subclass(Liar), d2.sum(0).as_subclass(Liar)
    """,
    "softmax_cross_entropy": """
        return torch.zeros(80_000_000), logits  # 320 MB back to the grader
    """,
    "mlp_loss_and_grads": """
        import sys
        sys.addaudithook(lambda event, args: None)
    """,
    "numerical_gradient": """
        chunks = [torch.zeros(1) for _ in range(10**6)]  # a million tiny allocations
        grad = torch.empty_like(x).reshape(-1)
        flat = x.reshape(-1)
        for i in range(flat.numel()):
            plus, minus = flat.clone(), flat.clone()
            plus[i] += h
            minus[i] -= h
            grad[i] = (f(plus.reshape(x.shape)) - f(minus.reshape(x.shape))) / (2 * h)
        return grad.reshape(x.shape)
    """,
    "sgd_momentum_step": """
        import os
        os.environ["PATH"] = ""
        open("scratch-note.txt", "w").write("allowed: inside the scratch directory")
        v = momentum * v + dw
        return w - lr * (dw + momentum * v if nesterov else v), v
    """,
}

# function -> (status, message pattern)
FIRST_EXPECTED = {
    "linear_forward": ("error", r"reading the grader's files"),
    "sgd_step": ("error", r"grader's files|No module named 'solutions'"),
    "relu_backward": ("error", r"reading the grader's files|No module named 'grader|grader_modules"),
    "sigmoid_backward": ("error", r"walking the interpreter's objects"),
    "tanh_backward": ("failed", r"wrong|zeros"),
    "linear_backward": ("error", r"forking the process"),
    "softmax_cross_entropy": ("error", r"starting a process"),
    "mlp_loss_and_grads": ("error", r"network socket"),
    "numerical_gradient": ("error", r"writing files outside the scratch directory"),
    "sgd_momentum_step": ("error", r"changing files outside the scratch directory"),
    "rmsprop_step": ("error", r"native library|ctypes"),
    "adam_step": ("error", r"signalling another process"),
}
SECOND_EXPECTED = {
    "linear_forward": ("error", r"another process's information"),
    "sgd_step": ("passed", r""),
    "relu_backward": ("error", r"leaving a thread running"),
    "sigmoid_backward": ("passed", r""),
    "tanh_backward": ("timeout", r"did not return within"),
    "linear_backward": ("failed", r"dx"),
    "softmax_cross_entropy": ("failed", r"cannot read|larger than"),
    "mlp_loss_and_grads": ("error", r"safeguards"),
    "numerical_gradient": ("passed|timeout", r""),
    "sgd_momentum_step": ("passed", r""),
}


def _function(name: str, body: str, **fmt: str) -> str:
    from solutions import ch4_backprop
    import inspect

    params = inspect.signature(getattr(ch4_backprop, name)).parameters.values()
    signature = ", ".join(p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}" for p in params)
    return f"def {name}({signature}):\n" + textwrap.indent(textwrap.dedent(body.format(**fmt)).strip(), "    ") + "\n"


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts  # the grader process's own bytecode
    }


def _grade(tmp_path: Path, functions: dict[str, str]) -> tuple[dict, Path, dict, dict]:
    workspace = tmp_path / "workspace"
    folder = workspace / "exercises"
    folder.mkdir(parents=True)
    outside = tmp_path / "report.json"
    outside.write_text('{"score": 0}')
    victim = folder / "notes.txt"
    victim.write_text("my notes")
    fmt = {"solutions": str(SOLUTIONS), "outside": str(outside), "victim": str(victim)}
    source = (SOLUTIONS / "ch4_backprop.py").read_text() + "\n\n# --- hostile ---\n"
    source += "\n\n".join(_function(name, body, **fmt) for name, body in functions.items())
    (folder / "ch4_backprop.py").write_text(source)
    before_workspace, before_repo = _tree(workspace), _tree(ROOT / "solutions") | _tree(ROOT / "grader")
    report = run(resolve_targets(["ch4"]), path=folder, timeout=3.0, isolation="python")  # the in-process walls themselves
    after = {"workspace": _tree(workspace), "repo": _tree(ROOT / "solutions") | _tree(ROOT / "grader"), "outside": outside.read_text()}
    results = {e.id.split(".", 1)[1]: e for e in report.exercises}
    return results, folder, {"workspace": before_workspace, "repo": before_repo}, after


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    return _grade(tmp_path_factory.mktemp("walls1"), FIRST)


@pytest.fixture(scope="module")
def second(tmp_path_factory):
    os.environ["DLCOURSE_TEST_SECRET"] = "the grader's token"
    try:
        return _grade(tmp_path_factory.mktemp("walls2"), SECOND)
    finally:
        del os.environ["DLCOURSE_TEST_SECRET"]


def _check(results, name, status, pattern):
    result = results[name]
    messages = "\n".join(c.message for c in result.checks)
    assert re.fullmatch(status, result.status), f"{name}: {result.status}\n{messages}"
    if status == "passed":
        assert result.score == result.max_score
    else:
        assert result.score < result.max_score
        assert re.search(pattern, messages), messages


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FIRST_EXPECTED))
def test_first_set_of_hostile_functions(first, name):
    _check(first[0], name, *FIRST_EXPECTED[name])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SECOND_EXPECTED))
def test_second_set_of_hostile_functions(second, name):
    _check(second[0], name, *SECOND_EXPECTED[name])


@pytest.mark.slow
@pytest.mark.parametrize("which", ["first", "second"])
def test_reference_functions_beside_hostile_ones_keep_full_marks(which, request):
    results = request.getfixturevalue(which)[0]
    hostile = FIRST if which == "first" else SECOND
    for name, result in results.items():
        if name not in hostile:
            assert result.score == result.max_score, (name, [c.message for c in result.checks])


@pytest.mark.slow
@pytest.mark.parametrize("which", ["first", "second"])
def test_nothing_outside_the_scratch_directory_changes(which, request):
    _, _, before, after = request.getfixturevalue(which)
    assert after["workspace"] == before["workspace"]
    assert after["repo"] == before["repo"]
    assert after["outside"] == '{"score": 0}'


LEFT_RUNNING = '''
import _thread, builtins, time, torch


def _mark():
    time.sleep(0.3)
    builtins.dlcourse_leaked = True  # between calls, where no watch looks


def relu_backward(dout, x):
    _thread.start_new_thread(_mark, ())  # not a threading.Thread: threading never counts it
    return dout * (x > 0)


def sigmoid_backward(dout, x):
    _thread.start_new_thread(_mark, ())
    raise ValueError("a mistake, after starting a thread")


def tanh_backward(dout, x):
    time.sleep(0.6)
    return torch.tensor(float(getattr(builtins, "dlcourse_leaked", False)))
'''


@pytest.mark.slow
@pytest.mark.parametrize("isolation", ["python", "auto"])
def test_a_thread_left_running_is_refused_and_its_worker_ended(tmp_path, isolation):
    """A raw `_thread` thread outlives the call's watch: the call is refused (on the
    exception path too) and the worker ended, so the next call runs where it never ran."""
    import torch

    from grader.curriculum import find
    from grader.student import Refused, StudentProxy, Worker

    (tmp_path / "ch4_backprop.py").write_text(LEFT_RUNNING)
    worker = Worker(tmp_path, requested_isolation=isolation)
    poisoned: dict = {}
    x = torch.randn(3, 4)
    try:
        for func in ("relu_backward", "sigmoid_backward"):
            worker.start()
            pid = worker._proc.pid
            with pytest.raises(Refused, match="thread running"):
                getattr(StudentProxy(worker, find(f"ch4.{func}"), poisoned), func)(x, x)
            assert not worker.alive(), f"{func}: the worker that ran the thread is still running ({pid})"
        leaked = StudentProxy(worker, find("ch4.tanh_backward"), poisoned).tanh_backward(x, x)
        assert float(leaked) == 0.0, "the thread of an earlier call ran on in the worker that made this call"
    finally:
        worker.stop()


def test_the_walls_protect_every_copy_of_the_references_found_as_the_path_changes(tmp_path, monkeypatch):
    """The worker drops a checkout from `sys.path` after the walls go up: a copy of
    `solutions` found only then (installed elsewhere) is protected too."""
    import sys

    from grader.sandbox import Walls

    copies = [tmp_path / "checkout", tmp_path / "site"]
    for folder in copies:
        (folder / "solutions").mkdir(parents=True)
        (folder / "solutions" / "__init__.py").write_text("")
    monkeypatch.setattr(sys, "path", [str(copies[0]), str(copies[1]), *sys.path])
    walls = Walls(tmp_path / "scratch", [], [], None)
    walls.protect("solutions")
    assert str((copies[0] / "solutions").resolve()) in walls.protected
    assert str((copies[1] / "solutions").resolve()) not in walls.protected  # hidden behind the first
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(copies[0])])
    walls.protect("solutions")
    assert {str((c / "solutions").resolve()) for c in copies} <= set(walls.protected)
