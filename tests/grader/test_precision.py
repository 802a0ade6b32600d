"""`grader.precision`: the tolerance rule, truths computed in float64, and autograd truths
checked against PyTorch's own gradients."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from grader import precision
from grader.precision import autograd, close, tolerance, truth


def test_close_scales_the_absolute_tolerance_and_treats_inf_and_nan_exactly():
    rtol, atol = tolerance(torch.float64)
    e = torch.tensor([1000.0, 0.0, float("inf"), float("nan")], dtype=torch.float64)
    g = e.clone()
    g[1] = atol * 999  # within atol * max(1, max |expected|) = atol * 1000
    assert close(g, e, rtol, atol).all()
    g[1] = atol * 1001
    assert not close(g, e, rtol, atol)[1]
    assert not close(torch.tensor([-float("inf")]), torch.tensor([float("inf")]), rtol, atol).any()
    assert not close(torch.tensor([float("nan")]), torch.tensor([1.0]), rtol, atol).any()
    assert tolerance(torch.float32) > tolerance(torch.float64)


def test_truth_computes_in_float64_and_returns_the_inputs_dtype():
    x = torch.tensor([1e8, 1.0, -1e8], dtype=torch.float32)
    seen = []
    out = truth(lambda t: seen.append(t.dtype) or (t.sum(), torch.arange(3)), x)
    assert seen == [torch.float64] and out[0].dtype == torch.float32 and out[1].dtype == torch.int64
    assert float(out[0]) == 1.0  # float32 arithmetic would give 0


def test_autograd_truth_agrees_with_torch_for_a_linear_layer():
    g = torch.Generator().manual_seed(0)
    x, W, b = (torch.randn(*s, generator=g, dtype=torch.float64) for s in ((4, 3), (2, 3), (2,)))
    dout = torch.randn(4, 2, generator=g, dtype=torch.float64)
    dx, dW, db = autograd(lambda x, W, b: F.linear(x, W, b), x, W, b, dout=dout)
    assert torch.allclose(dx, dout @ W) and torch.allclose(dW, dout.T @ x) and torch.allclose(db, dout.sum(0))


def test_vjp_equals_autograd_grad_with_grad_outputs():
    torch.manual_seed(3)
    x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    with torch.enable_grad():
        outs = (x @ w, torch.tanh(x).sum(0))
        douts = (torch.randn(4, 3, dtype=torch.float64), torch.randn(5, dtype=torch.float64))
        expected = torch.autograd.grad(outs, (x, w), douts, retain_graph=True)
        got = precision.vjp(outs, (x, w), douts)
    for g, e in zip(got, expected):
        assert torch.equal(g, e)
    with pytest.raises(ValueError, match="shape"):
        precision.vjp(outs[0], (x,), torch.ones(3))


def test_an_autograd_truth_does_not_make_torch_import_sympy():
    # torch.autograd.grad with grad_outputs imports SymPy: 60 MB and a second of a check
    code = (
        "import sys, torch\n"
        "from grader.precision import autograd\n"
        "x = torch.randn(3, 4)\n"
        "W = torch.randn(4, 2)\n"
        "autograd(lambda x, W: x @ W, x, W, dout=torch.randn(3, 2))\n"
        "assert 'sympy' not in sys.modules, 'sympy imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
