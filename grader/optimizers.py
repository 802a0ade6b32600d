"""The truth for optimiser exercises: PyTorch's own update rules, run in float64.

These call torch.optim's functional kernels (`torch.optim.adam.adam`, ...), the code that
`torch.optim.Adam.step()` itself runs, without the optimiser classes, whose first
`step()` imports TorchDynamo (about a second on a student's every `check`).
`tests/grader/test_optimizers.py` proves they equal the classes step by step.

    trajectory("adam", w0, [g1, g2, g3], lr=0.1)  -> [(w1, m1, v1), (w2, m2, v2), ...]
"""

from __future__ import annotations

import torch
from torch.optim.adam import adam
from torch.optim.adamw import adamw
from torch.optim.rmsprop import rmsprop
from torch.optim.sgd import sgd

from grader.precision import truth

DEFAULTS = {
    "sgd": dict(momentum=0.0, nesterov=False),
    "rmsprop": dict(alpha=0.99, eps=1e-8),
    "adam": dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0),
    "adamw": dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01),
}


def trajectory(kind: str, w0: torch.Tensor, grads: list[torch.Tensor], lr: float, **hyper) -> list[tuple[torch.Tensor, ...]]:
    """The parameter and the optimiser state after each step, in w0's dtype:
    sgd -> (w, velocity) (the gradient itself without momentum), rmsprop -> (w, square_avg),
    adam / adamw -> (w, exp_avg, exp_avg_sq)."""
    h = DEFAULTS[kind] | hyper

    def run(w0, grads):
        w = w0.clone()
        buffers: list = [None]
        m, v = torch.zeros_like(w), torch.zeros_like(w)
        step = torch.tensor(0.0, dtype=torch.float64)
        out = []
        for g in grads:
            if kind == "sgd":
                sgd([w], [g.clone()], buffers, foreach=False, weight_decay=0.0, momentum=h["momentum"], lr=lr,
                    dampening=0.0, nesterov=h["nesterov"], maximize=False)
                out.append((w.clone(), g.clone() if buffers[0] is None else buffers[0].clone()))
            elif kind == "rmsprop":
                rmsprop([w], [g.clone()], [v], [], [], [step], foreach=False, lr=lr, alpha=h["alpha"], eps=h["eps"],
                        weight_decay=0.0, momentum=0.0, centered=False)
                out.append((w.clone(), v.clone()))
            else:
                step_fn = adam if kind == "adam" else adamw
                b1, b2 = h["betas"]
                step_fn([w], [g.clone()], [m], [v], [], [step], foreach=False, amsgrad=False, beta1=b1, beta2=b2, lr=lr,
                        weight_decay=h["weight_decay"], eps=h["eps"], maximize=False)
                out.append((w.clone(), m.clone(), v.clone()))
        return out

    return truth(run, w0, grads)
