"""The grader's optimiser truth (torch.optim's functional kernels) equals the optimiser
classes step by step, states included."""

from __future__ import annotations

import pytest
import torch

from grader.optimizers import trajectory

CASES = [
    ("sgd", torch.optim.SGD, dict(), ["momentum_buffer"]),
    ("sgd", torch.optim.SGD, dict(momentum=0.9), ["momentum_buffer"]),
    ("sgd", torch.optim.SGD, dict(momentum=0.5, nesterov=True), ["momentum_buffer"]),
    ("rmsprop", torch.optim.RMSprop, dict(alpha=0.9, eps=1e-3), ["square_avg"]),
    ("adam", torch.optim.Adam, dict(betas=(0.5, 0.9), eps=1e-2, weight_decay=0.1), ["exp_avg", "exp_avg_sq"]),
    ("adamw", torch.optim.AdamW, dict(weight_decay=0.05), ["exp_avg", "exp_avg_sq"]),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind, cls, hyper, keys", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_trajectory_equals_the_optimiser_class(kind, cls, hyper, keys, dtype):
    g = torch.Generator().manual_seed(0)
    w0 = torch.randn(2, 3, generator=g, dtype=torch.float64)
    grads = [torch.randn(2, 3, generator=g, dtype=torch.float64) for _ in range(5)]
    p = torch.nn.Parameter(w0.clone())
    opt = cls([p], lr=0.1, **hyper)
    ours = trajectory(kind, w0.to(dtype), [x.to(dtype) for x in grads], lr=0.1, **hyper)
    for step, grad in enumerate(grads):
        p.grad = grad.clone()
        opt.step()
        state = opt.state[p]
        expected = (p.detach(), *[state[k] if k in state else grad for k in keys])
        for got, want in zip(ours[step], expected):
            assert got.dtype == dtype
            torch.testing.assert_close(got.double(), want, rtol=1e-5 if dtype == torch.float32 else 1e-12, atol=1e-6 if dtype == torch.float32 else 1e-12)
