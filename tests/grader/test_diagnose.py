"""`grader.diagnose`: the pattern behind a wrong value, judged from the maths (each
pattern is built from a truth, and a near miss of the pattern is not named by it)."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.diagnose import exact_mistake, shape_mistake, value_mistake
from grader.precision import close, tolerance

TOL = tolerance(torch.float64)


def _named(got, expected, batch=None, known=None) -> str:
    bad = ~close(got, expected, *TOL)
    return value_mistake(got, expected, bad, batch, known or {}, TOL)[0]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 5), m=st.integers(2, 5))
def test_each_generic_pattern_is_named_from_the_truth(seed, n, m):
    g = torch.Generator().manual_seed(seed)
    expected = torch.randn(n, m, generator=g, dtype=torch.float64) + 0.1
    assert _named(-expected, expected) == "mistake.sign"
    assert _named(torch.zeros_like(expected), expected) == "mistake.zeros"
    assert _named(expected * n, expected, batch=n) == "mistake.factor_batch"
    assert _named(expected / n, expected, batch=n) == "mistake.factor_inverse_batch"
    nonfinite = expected.clone()
    nonfinite[0, 0] = float("nan")
    assert _named(nonfinite, expected) == "mistake.nonfinite"
    square = torch.randn(n, n, generator=g, dtype=torch.float64)
    if not torch.allclose(square, square.T):
        assert _named(square.T.contiguous(), square) == "mistake.transposed"


def test_a_wrong_value_that_is_no_pattern_is_a_plain_mismatch():
    expected = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    got = expected.clone()
    got[1, 0] = 3.5  # one entry off: not a sign, a factor or a transpose
    assert _named(got, expected) == "compare.mismatch_some"


def test_a_known_mistake_comes_before_any_pattern_and_the_closest_wins():
    expected = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    known = {"mistake.x.far": [(expected * 2.5, {})], "mistake.x.near": [(expected * 2, {})]}
    assert _named(expected * 2, expected, known=known) == "mistake.x.near"


def test_shape_patterns():
    assert shape_mistake(torch.zeros(3, 2), torch.zeros(2, 3))[0] == "mistake.transposed_shape"
    assert shape_mistake(torch.zeros(1), torch.zeros(()))[0] == "mistake.not_scalar"
    assert shape_mistake(torch.zeros(3, 1), torch.zeros(3))[0] == "mistake.extra_dim"
    assert shape_mistake(torch.zeros(6), torch.zeros(2, 3))[0] == "mistake.reshaped"
    assert shape_mistake(torch.zeros(5), torch.zeros(2, 3))[0] == "compare.shape"


def test_exact_mistakes_match_only_equal_values_of_the_same_type():
    known = {"mistake.ids": [([1, 2], {"n": 1})], "mistake.t": [(torch.tensor([3]), {})]}
    assert exact_mistake([1, 2], known) == ("mistake.ids", {"n": 1})
    assert exact_mistake((1, 2), known) is None
    assert exact_mistake(torch.tensor([3]), known) == ("mistake.t", {})
    assert exact_mistake(torch.tensor([3, 3]), known) is None
