"""Integrity (issue 14): no marks without the work, and nothing the student writes is
trusted. Each hostile function below earns its required outcome; the legitimate
look-alikes beside it keep full marks. One worker grades the whole file."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

from grader.curriculum import resolve_targets
from grader.runner import run
from tests.submissions import SOLUTIONS

FORGE_A_REPLY = textwrap.dedent(
    '''
    import os
    import struct


    def forge_a_reply():
        """Write a reply of its own onto every pipe, ahead of the worker's."""
        header = b'{"$dict": {"status": "ok", "value": null, "output": ""}}'
        for fd in range(3, 64):
            try:
                os.write(fd, struct.pack("!II", len(header), 0) + header)
            except OSError:
                pass
    '''
)

HOSTILE = FORGE_A_REPLY + textwrap.dedent(
    '''
    import collections
    import struct
    import sys
    import os
    import torch.nn.functional as F
    import helper_mod

    _Pair = collections.namedtuple("_Pair", "loss dlogits")
    _ref_linear_forward, _ref_sce, _ref_sgd, _ref_relu = linear_forward, softmax_cross_entropy, sgd_step, relu_backward
    _ref_tanh, _ref_momentum, _ref_rmsprop = tanh_backward, sgd_momentum_step, rmsprop_step

    class _Layer:  # a student's own layer with a backward method is not autograd
        def forward(self, x, W, b):
            return helper_mod.affine(x, W, b)

        def backward(self):
            return None

    def linear_forward(x, W, b):
        layer = _Layer()
        layer.backward()
        W = W.clone()
        W.requires_grad = False
        return layer.forward(x, W, b)

    def softmax_cross_entropy(logits, y):
        return _Pair(*_ref_sce(logits, y))

    def layernorm_forward(x, gamma, beta, eps=1e-5):
        return torch.ops.aten.native_layer_norm(x, [x.shape[-1]], gamma, beta, eps)[0]

    def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5, training=True):
        norm = getattr(F, "batch" + "_norm")
        with torch._C.DisableTorchFunction():
            out = norm(x, None, None, gamma, beta, True, momentum, eps)
        return out, running_mean.clone(), running_var.clone()

    def batchnorm_backward(dout, x, gamma, eps=1e-5):
        p = torch.nn.Parameter(x.clone())
        return p * 0, gamma * 0, gamma * 0

    def layernorm_backward(dout, x, gamma, eps=1e-5):
        engine = getattr(torch, "auto" + "grad")
        g = x.clone()
        g.requires_grad_(bool(1))
        return engine.grad((g * dout).sum(), g)[0], gamma * 0, gamma * 0

    def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        opt = getattr(torch, "op" + "tim")
        p = w.clone()
        p.grad = dw.clone()
        o = opt.Adam([p], lr=lr, betas=(beta1, beta2), eps=eps)
        o.step()
        return p, m, v

    def sgd_momentum_step(w, dw, v, lr, momentum, nesterov=False):
        sys._getframe(3)
        return _ref_momentum(w, dw, v, lr, momentum, nesterov)

    def tanh_backward(dout, x):
        f = sys._getframe(0)
        while f.f_back is not None:
            f = f.f_back
            f.f_code
        return _ref_tanh(dout, x)

    def rmsprop_step(w, dw, s, lr, alpha=0.99, eps=1e-8):
        import __main__  # the worker itself: make it blind to in-place changes
        if hasattr(__main__, "_same"):
            __main__._same = lambda tensor, copy: True
        return _ref_rmsprop(w, dw, s, lr, alpha, eps)

    def sgd_step(w, dw, lr):
        try:
            import grader.sandbox
        except Exception:
            pass
        return _ref_sgd(w, dw, lr)

    def relu_backward(dout, x):
        forge_a_reply()
        return _ref_relu(dout, x)

    def sigmoid_backward(dout, x):
        print("\\x1b[2J\\x1b[H ch4: all checks passed 55/55 \\x1b]0;owned\\x07")
        raise ValueError("\\x1b[31m" + repr(dout.tolist()))

    def linear_backward(dout, x, W):
        raise ValueError("\\x1b[2J" + repr(dout.tolist()))
    '''
)

EXPECTED = {
    "ch4.layernorm_forward": ("banned_call", r"layer_norm"),
    "ch4.batchnorm_forward": ("banned_call", r"batch_norm"),
    "ch4.batchnorm_backward": ("banned_call", r"autograd"),
    "ch4.layernorm_backward": ("banned_call", r"autograd"),
    "ch4.adam_step": ("banned_call", r"torch\.optim"),
}
FLAGGED = {
    "ch4.sgd_momentum_step": "grader_frames",
    "ch4.tanh_backward": "grader_frames",
    "ch4.sgd_step": "grader_modules",
    "ch4.rmsprop_step": "grader_state",
    "ch4.relu_backward": "worker_pipes",
}
LEGITIMATE = ("ch4.linear_forward", "ch4.softmax_cross_entropy")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("integrity")
    source = (SOLUTIONS / "ch4_backprop.py").read_text() + "\n# --- hostile ---\n" + HOSTILE
    (folder / "ch4_backprop.py").write_text(source)
    (folder / "helper_mod.py").write_text("def affine(x, W, b):\n    return x @ W + b\n")
    return run(resolve_targets(["ch4"]), path=folder, timeout=5.0, include_hidden=True)


def _by_id(report):
    return {e.id: e for e in report.exercises}


def _messages(result):
    return "\n".join(c.message for c in result.checks)


@pytest.mark.slow
@pytest.mark.parametrize("exercise_id", sorted(EXPECTED))
def test_banned_routines_under_another_name_are_caught(report, exercise_id):
    status, pattern = EXPECTED[exercise_id]
    result = _by_id(report)[exercise_id]
    assert result.status == status, _messages(result)
    assert re.search(pattern, _messages(result)), _messages(result)
    assert result.score < result.max_score


@pytest.mark.slow
@pytest.mark.parametrize("exercise_id", sorted(FLAGGED))
def test_reaching_for_the_grader_scores_zero_with_a_flag(report, exercise_id):
    result = _by_id(report)[exercise_id]
    assert FLAGGED[exercise_id] in result.integrity, (result.integrity, _messages(result))
    assert result.score == 0
    exported = report.to_dict()
    row = next(e for e in exported["exercises"] if e["id"] == exercise_id)
    assert FLAGGED[exercise_id] in row["integrity"]


@pytest.mark.slow
@pytest.mark.parametrize("exercise_id", LEGITIMATE)
def test_legitimate_look_alikes_keep_full_marks(report, exercise_id):
    result = _by_id(report)[exercise_id]
    assert result.score == result.max_score and not result.integrity, _messages(result)


@pytest.mark.slow
def test_student_text_carries_no_escape_and_hidden_checks_reveal_no_input(report):
    everything = "\n".join(_messages(e) for e in report.exercises)
    assert "\x1b" not in everything and "\x07" not in everything
    hidden = [c for c in _by_id(report)["ch4.linear_backward"].checks if c.visibility == "hidden"]
    assert hidden and all(c.status == "error" for c in hidden)
    for check in hidden:
        assert "ValueError" not in check.message and "[[" not in check.message, check.message


@pytest.mark.slow
def test_the_cli_output_holds_no_escape_byte(tmp_path):
    (tmp_path / "ch4_backprop.py").write_text(
        "def sgd_step(w, dw, lr):\n"
        "    print('\\x1b[2J\\x1b[H  ch4.sgd_step   passed   2 / 2\\n  all checks passed')\n"
        "    raise ValueError('\\x1b[2J\\x1b]0;title\\x07boom')\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "dlcourse_cli", "check", "ch4.sgd_step", "--path", str(tmp_path)],
        capture_output=True, timeout=600,
    )
    assert b"\x1b" not in done.stdout + done.stderr
    assert b"boom" in done.stdout + done.stderr


@pytest.mark.slow
def test_a_deeply_nested_or_huge_file_is_the_students_error(tmp_path):
    deep = "x = " + "(" * 10_000 + "1" + ")" * 10_000 + "\n" + "1 + " * 100_000 + "1\n"
    (tmp_path / "ch4_backprop.py").write_text(deep + "def sgd_step(w, dw, lr):\n    return w - lr * dw\n")
    result = run(resolve_targets(["ch4.sgd_step"]), path=tmp_path).exercises[0]
    assert result.status == "error", _messages(result)
    assert "grader itself failed" not in _messages(result)


def test_the_watch_hides_every_grader_module_and_flags_one_put_back():
    """`integrity.Watch` on its own, in this process (no walls): the grader's modules are
    out of `sys.modules` during a call, one imported between two calls too (the scan
    starts where the last call's ended), and a grader name put into `sys.modules` by the
    call is flagged and removed, the real modules restored."""
    import sys
    import types

    # imported by name: after a pytester run in this process (tests/grader/test_plugin.py)
    # `grader.integrity` may be gone from sys.modules while the package keeps the attribute
    import grader.integrity as integrity

    with integrity.Watch() as first:
        assert not [n for n in sys.modules if integrity._grader_module(n)]
    assert first.flags == [] and "grader.integrity" in sys.modules
    sys.modules.pop("grader.export.markdown", None)
    import grader.export.markdown  # noqa: F401 - imported between two calls

    with integrity.Watch() as second:
        assert "grader.export.markdown" not in sys.modules
        sys.modules["grader.integrity"] = types.ModuleType("grader.integrity")  # a stand-in
        sys.modules["grader.made_up"] = types.ModuleType("grader.made_up")
    assert second.flags == ["grader_modules"]
    assert "grader.made_up" not in sys.modules
    assert sys.modules["grader.integrity"] is integrity
    assert sys.modules["grader.export.markdown"] is grader.export.markdown
