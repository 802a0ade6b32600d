"""Legitimate code that looks like the tricks the integrity checks catch (issue 14) keeps
full marks: `requires_grad = False`, results as OrderedDict / namedtuple / numpy ints where
the contract asks for dicts, tuples and ints, `from exercises.chN_x import f` reaching the
student's own file (never the installed stubs), and a `DataLoader(num_workers=0)` in a
train exercise. One worker grades the workspace."""

from __future__ import annotations

import shutil

import pytest

from grader.curriculum import resolve_targets
from grader.runner import run
from tests.submissions import SOLUTIONS

pytestmark = pytest.mark.slow

CH4_EXTRA = '''

# --- look-alikes -----------------------------------------------------------------------
import collections as _collections


def relu_backward(dout, x):
    mask = (x > 0).to(dout.dtype)
    mask.requires_grad = False  # saying so is not using autograd
    return dout * mask.requires_grad_(False)


_reference_mlp = mlp_loss_and_grads


def mlp_loss_and_grads(params, X, y):
    loss, grads = _reference_mlp(params, X, y)
    return loss, _collections.OrderedDict(sorted(grads.items()))


def sgd_momentum_step(w, dw, v, lr, momentum, nesterov=False):
    from exercises.ch4_backprop import sgd_step  # the student's own, not the stub

    v = momentum * v + dw
    return sgd_step(w, dw + momentum * v if nesterov else v, lr), v
'''

CH6_EXTRA = '''

# --- look-alikes -----------------------------------------------------------------------
import collections as _collections

import numpy as _np

_Fold = _collections.namedtuple("Fold", "train val")
_reference_kfold, _reference_stopping = kfold_indices, early_stopping


def kfold_indices(n, k):
    return [_Fold(*pair) for pair in _reference_kfold(n, k)]


def early_stopping(val_losses, patience, min_delta=0.0):
    best, stop = _reference_stopping(val_losses, patience, min_delta)
    return _np.int64(best), None if stop is None else _np.int64(stop)
'''

CH5_EXTRA = '''

# --- look-alikes -----------------------------------------------------------------------
def digits_train_predict(X_train, y_train, X_test, seed):
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    data = TensorDataset(X_train.float(), y_train.long())
    loader = DataLoader(data, batch_size=64, shuffle=True, num_workers=0, generator=torch.Generator().manual_seed(seed))
    for _ in range(30):
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        return model(X_test.float()).argmax(dim=1)
'''

TARGETS = ["ch4.relu_backward", "ch4.mlp_loss_and_grads", "ch4.sgd_momentum_step", "ch5.digits_train_predict",
           "ch6.kfold_indices", "ch6.early_stopping"]


def test_legitimate_look_alikes_keep_full_marks(tmp_path):
    folder = tmp_path / "workspace" / "exercises"
    folder.mkdir(parents=True)
    for module, extra in (("ch4_backprop", CH4_EXTRA), ("ch5_cnn", CH5_EXTRA), ("ch6_regularisation", CH6_EXTRA)):
        shutil.copy(SOLUTIONS / f"{module}.py", folder / f"{module}.py")
        with open(folder / f"{module}.py", "a", encoding="utf-8") as f:
            f.write(extra)
    report = run(resolve_targets(TARGETS), path=folder, timeout=10.0)
    short = {e.id: (e.score, e.max_score, e.integrity, e.reason[:300]) for e in report.exercises if e.score < e.max_score}
    assert not short, short
    assert {e.id for e in report.exercises} == set(TARGETS)
