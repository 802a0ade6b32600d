"""`grader.strategies`: shapes and dtypes within their bounds, tensors reproducible from
their draw, and two tensors of one example different even when every seed is 0."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.strategies import FLOAT_DTYPES, labels, shapes, tensors


@settings(max_examples=40, deadline=None)
@given(shape=shapes(3, 2, 4), x=tensors(shapes(2), dtype=st.sampled_from(FLOAT_DTYPES), edges=(0.0, 1e6)), y=labels(5, 3))
def test_drawn_values_keep_their_bounds(shape, x, y):
    assert len(shape) == 3 and all(2 <= s <= 4 for s in shape)
    assert x.dtype in FLOAT_DTYPES and x.dim() == 2 and all(1 <= s <= 5 for s in x.shape)
    assert y.dtype == torch.int64 and y.shape == (5,) and bool(((y >= 0) & (y < 3)).all())


def test_two_tensors_of_one_example_differ_even_with_minimal_seeds():
    @settings(max_examples=1, deadline=None, phases=[__import__("hypothesis").Phase.generate])
    @given(a=tensors((3,)), b=tensors((3,)))
    def draw(a, b):
        assert not torch.equal(a, b)

    draw()  # the first example Hypothesis generates is its simplest: every seed 0


def test_uniform_tensors_stay_in_their_interval():
    @settings(max_examples=20, deadline=None)
    @given(x=tensors((50,), low=-2.0, high=3.0))
    def draw(x):
        assert bool(((x >= -2.0) & (x < 3.0)).all())

    draw()


def test_edge_values_keep_their_sign_whatever_was_drawn_before():
    """A check's inputs do not depend on the checks run before it: edges (0.0,) drawn after
    edges (-0.0,) (equal, and hashed alike) are +0.0 (a cache once handed out the first)."""
    import math

    signs = []

    @settings(max_examples=30, deadline=None, database=None)
    @given(x=tensors((2,), edges=(-0.0,)), y=tensors((2,), edges=(0.0,)))
    def draw(x, y):
        signs.extend(("x", math.copysign(1.0, v)) for v in x.tolist() if v == 0)
        signs.extend(("y", math.copysign(1.0, v)) for v in y.tolist() if v == 0)

    draw()
    assert ("x", -1.0) in signs and ("y", 1.0) in signs  # both edges were drawn
    assert ("y", -1.0) not in signs
