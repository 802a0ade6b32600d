"""Submissions shared by the instructor tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.submissions import SOLUTIONS, write_submission

# ch4.linear_backward with db averaged over the batch: fails its public check and its
# hidden one (larger layers)
DB_MEAN = '''

def linear_backward(dout, x, W):
    return dout @ W.T, x.T @ dout, dout.mean(0)
'''


@pytest.fixture(scope="session")
def db_mean_submission(tmp_path_factory) -> Path:
    folder = write_submission(tmp_path_factory.mktemp("db_mean") / "exercises", base=SOLUTIONS)
    with open(folder / "ch4_backprop.py", "a", encoding="utf-8") as f:
        f.write(DB_MEAN)
    return folder
