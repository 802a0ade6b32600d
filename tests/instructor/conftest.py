"""Submissions shared by the instructor tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.submissions import SOLUTIONS, write_submission

# ch4.linear_backward with db averaged over the batch: fails its public check and its
# hidden one (larger layers)
DB_MEAN = '''

def linear_backward(dout, x, W):
    x2, d2 = x.reshape(-1, x.shape[-1]), dout.reshape(-1, dout.shape[-1])  # any leading dims
    return dout @ W.T, x2.T @ d2, d2.mean(0)
'''


@pytest.fixture(scope="session")
def db_mean_submission(tmp_path_factory) -> Path:
    folder = write_submission(tmp_path_factory.mktemp("db_mean") / "exercises", base=SOLUTIONS)
    with open(folder / "ch4_backprop.py", "a", encoding="utf-8") as f:
        f.write(DB_MEAN)
    return folder
