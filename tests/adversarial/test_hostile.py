"""Hostile and broken submissions cost only their own exercise: the run completes, the
grader's process is untouched, output stays capped, and the messages say what happened."""

from __future__ import annotations

import textwrap

import pytest

from grader.curriculum import resolve_targets
from grader.runner import run
from tests.submissions import SOLUTIONS

HOSTILE = textwrap.dedent(
    '''
    import os, sys

    def linear_forward(x, W, b):
        while True:
            pass

    def linear_backward(dout, x, W):
        os._exit(3)

    def relu_backward(dout, x):
        return torch.zeros(10**11)

    def sigmoid_backward(dout, x):
        print("x" * 5_000_000)
        print("ch4: all checks passed, score 55/55")
        s = 1 / (1 + torch.exp(-x))
        return dout * s * (1 - s)

    def tanh_backward(dout, x):
        return tanh_backward(dout, x)

    def softmax_cross_entropy(logits, y):
        return None

    def mlp_loss_and_grads(params, X, y):
        return [1, 2, 3]

    def sgd_step(w, dw, lr):
        return w * float("nan")

    def numerical_gradient(f, x, h=1e-6):
        return (v for v in x)

    def sgd_momentum_step(w, dw, v, lr, momentum, nesterov=False):
        torch.allclose = lambda *a, **k: True
        torch.testing.assert_close = lambda *a, **k: None
        return w, v

    def rmsprop_step(w, dw, s, lr, alpha=0.99, eps=1e-8):
        sys.exit(0)

    def layernorm_forward(x, gamma, beta, eps=1e-5):
        return torch.nn.functional.layer_norm(x, x.shape[-1:], gamma, beta, eps)

    def batchnorm_backward(dout, x, gamma, eps=1e-5):
        d = torch.zeros_like(dout)
        d.requires_grad_(True)
        return d, gamma, gamma
    '''
)


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    source = (SOLUTIONS / "ch4_backprop.py").read_text() + "\n# --- hostile ---\n" + HOSTILE
    (folder / "ch4_backprop.py").write_text(source)
    report = run(resolve_targets(["ch4"]), path=folder, timeout=2.0)
    return {e.id: e for e in report.exercises}


def _messages(result):
    return "\n".join(c.message for c in result.checks)


EXPECTED = {
    "ch4.linear_forward": ("timeout", r"did not return within 2 s"),
    "ch4.linear_backward": ("error", r"process running it die.*exit code 3"),
    "ch4.relu_backward": ("error", r"RuntimeError"),
    "ch4.tanh_backward": ("error", r"RecursionError"),
    "ch4.softmax_cross_entropy": ("failed", r"return 2 values \(loss, dlogits\), but it returned None"),
    "ch4.mlp_loss_and_grads": ("failed", r"return 2 values \(loss, grads\), but it returned a list of 3"),
    "ch4.sgd_step": ("failed", r"NaN"),
    "ch4.numerical_gradient": ("failed", r"generator"),
    "ch4.sgd_momentum_step": ("failed", r"wrong|differ"),
    "ch4.rmsprop_step": ("error", r"tried to end the program"),
    "ch4.layernorm_forward": ("banned_call", r"called torch\.nn\.functional\.layer_norm"),
    "ch4.batchnorm_backward": ("banned_call", r"used autograd .*requires_grad"),
}


@pytest.mark.slow
@pytest.mark.parametrize("exercise_id", sorted(EXPECTED))
def test_hostile_function_costs_only_its_exercise(hostile_report, exercise_id):
    import re

    status, pattern = EXPECTED[exercise_id]
    result = hostile_report[exercise_id]
    assert result.status == status, _messages(result)
    assert result.score < result.max_score
    assert re.search(pattern, _messages(result), re.DOTALL), _messages(result)


@pytest.mark.slow
def test_correct_functions_beside_hostile_ones_keep_full_marks(hostile_report):
    for exercise_id in ("ch4.sigmoid_backward", "ch4.adam_step", "ch4.batchnorm_forward", "ch4.layernorm_backward"):
        result = hostile_report[exercise_id]
        assert result.score == result.max_score, _messages(result)


@pytest.mark.slow
def test_printing_is_captured_and_never_reaches_the_report(hostile_report):
    everything = "\n".join(_messages(r) for r in hostile_report.values())
    assert "score 55/55" not in everything
    assert len(everything) < 200_000


@pytest.mark.slow
def test_exit_at_import_fails_the_chapter_and_the_run_completes(tmp_path):
    (tmp_path / "ch4_backprop.py").write_text("import sys\nsys.exit('bye')\n")
    report = run(resolve_targets(["ch4.sgd_step", "ch4.linear_forward"]), path=tmp_path)
    for e in report.exercises:
        assert e.status == "error"
        assert "could not be imported" in _messages(e)
        assert "bye" in _messages(e)


@pytest.mark.slow
def test_syntax_error_points_at_the_students_line(tmp_path):
    (tmp_path / "ch4_backprop.py").write_text("import torch\n\ndef sgd_step(w, dw, lr):\n    return w -* lr\n")
    report = run(resolve_targets(["ch4.sgd_step"]), path=tmp_path)
    message = _messages(report.exercises[0])
    assert "SyntaxError" in message and "line 4" in message


@pytest.mark.slow
def test_missing_module_and_function_are_explained(tmp_path):
    report = run(resolve_targets(["ch4.sgd_step"]), path=tmp_path)
    assert "No function sgd_step" in _messages(report.exercises[0])


@pytest.mark.slow
def test_student_exception_shows_only_the_students_frames(tmp_path):
    (tmp_path / "ch4_backprop.py").write_text(
        "import torch\n\ndef _helper(w):\n    return w[100]\n\ndef sgd_step(w, dw, lr):\n    return _helper(w)\n"
    )
    report = run(resolve_targets(["ch4.sgd_step"]), path=tmp_path)
    message = _messages(report.exercises[0])
    assert "IndexError" in message
    assert "line 4" in message and "return w[100]" in message
    assert "grader/" not in message and "site-packages" not in message


@pytest.mark.slow
def test_in_place_change_of_an_input_is_reported(tmp_path):
    (tmp_path / "ch4_backprop.py").write_text(
        "import torch\n\ndef relu_backward(dout, x):\n    dout[x <= 0] = 0\n    return dout\n"
    )
    report = run(resolve_targets(["ch4.relu_backward"]), path=tmp_path)
    assert "changed its input(s) in place: dout" in _messages(report.exercises[0])


@pytest.mark.slow
def test_a_killed_grader_leaves_no_worker_behind(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    (tmp_path / "ch4_backprop.py").write_text("def sgd_step(w, dw, lr):\n    while True:\n        pass\n")
    code = f"from grader.runner import run; from grader.curriculum import resolve_targets; run(resolve_targets(['ch4.sgd_step']), path={str(tmp_path)!r}, timeout=120)"
    grader = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)

    def workers():
        found = subprocess.run(["pgrep", "-f", "--", f"--path {tmp_path}"], capture_output=True, text=True).stdout.split()
        return [pid for pid in found if int(pid) != grader.pid]

    try:
        deadline = time.monotonic() + 60
        while not workers() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert workers(), "the worker never started"
        time.sleep(1.0)  # the student's function is now spinning
    finally:
        os.kill(grader.pid, signal.SIGKILL)
        grader.wait()
    deadline = time.monotonic() + 10
    while workers() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not workers()
