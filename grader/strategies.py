"""Hypothesis strategies for the checks, built in layers: sizes, then dtypes, then tensors.

Tensor data comes from a drawn seed (fast to generate, and it shrinks to small shapes
and seed 0), optionally with edge values written over a few entries (exact zeros,
large magnitudes), so checks reach the cases where real solutions break.

    @given(x=tensors(shapes(2), dtype=float_dtypes()))
"""

from __future__ import annotations

import functools
import itertools

import torch
from hypothesis import strategies as st

FLOAT_DTYPES = (torch.float64, torch.float32)


def sizes(min_value: int = 1, max_value: int = 5) -> st.SearchStrategy[int]:
    return st.integers(min_value, max_value)


def shapes(ndim: int, min_side: int = 1, max_side: int = 5) -> st.SearchStrategy[tuple[int, ...]]:
    return st.tuples(*[sizes(min_side, max_side)] * ndim)


def float_dtypes() -> st.SearchStrategy[torch.dtype]:
    return st.sampled_from(FLOAT_DTYPES)


_SEEDS = st.integers(0, 2**31 - 1)
_POSITION = st.shared(st.builds(itertools.count), key="dlcourse-draw-position")
"""Built once: a strategy made anew at every draw is validated anew (a third of a draw)."""


def seeds() -> st.SearchStrategy[int]:
    return _SEEDS


@functools.lru_cache(maxsize=4096)
def _integers(low: int, high: int) -> st.SearchStrategy[int]:
    return st.integers(low, high)


_SAMPLED: dict[tuple, st.SearchStrategy] = {}


def _sampled(values: tuple) -> st.SearchStrategy:
    """`st.sampled_from(values)`, built once per values. Not an `lru_cache`: its key takes
    -0.0 for 0.0 (they are equal and hash alike), so edges (0.0,) drawn after edges
    (-0.0,) came out negative, and a check's inputs depended on the checks run before it
    (a release recorded chapter by chapter missed them)."""
    key = tuple((type(v), repr(v)) for v in values)
    strategy = _SAMPLED.get(key)
    if strategy is None:
        if len(_SAMPLED) >= 256:
            _SAMPLED.clear()
        strategy = _SAMPLED[key] = st.sampled_from(values)
    return strategy


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _salted(draw, seed: int) -> int:
    """The seed mixed with this draw's position in the example, so that two tensors of one
    example differ even when Hypothesis has shrunk both seeds to 0 (identical inputs would
    blur which mistake a wrong answer shows). Deterministic: a counter shared by the draws
    of one example (`st.shared` gives each example its own), so replaying an example gives
    the same positions."""
    position = next(draw(_POSITION))
    return (seed * 1_000_003 + position) % (2**63 - 1)


def _value(v, draw):
    return draw(v) if isinstance(v, st.SearchStrategy) else v


@st.composite
def tensors(
    draw,
    shape,
    dtype=torch.float64,
    scale: float = 1.0,
    low: float | None = None,
    high: float | None = None,
    edges: tuple[float, ...] = (),
) -> torch.Tensor:
    """A float tensor of `shape` (a tuple or a strategy), standard normal times `scale`
    (or uniform in [low, high)); up to three entries may be replaced by `edges` values."""
    shape = tuple(_value(shape, draw))
    dtype = _value(dtype, draw)
    g = generator(_salted(draw, draw(seeds())))
    if low is not None and high is not None:
        x = torch.rand(shape, generator=g, dtype=torch.float64) * (high - low) + low
    else:
        x = torch.randn(shape, generator=g, dtype=torch.float64) * scale
    if edges and x.numel():
        flat = x.view(-1)
        for _ in range(draw(_integers(0, min(3, x.numel())))):
            flat[draw(_integers(0, x.numel() - 1))] = draw(_sampled(tuple(edges)))
    return x.to(dtype)


@st.composite
def labels(draw, n, classes) -> torch.Tensor:
    """int64 class labels in [0, classes) of shape (n,)."""
    n, classes = _value(n, draw), _value(classes, draw)
    return torch.randint(0, classes, (n,), generator=generator(_salted(draw, draw(seeds()))))


@st.composite
def positive_tensors(draw, shape, dtype=torch.float64, low: float = 0.1, high: float = 2.0) -> torch.Tensor:
    return draw(tensors(shape, dtype, low=low, high=high))


def learning_rates() -> st.SearchStrategy[float]:
    return st.sampled_from([1e-3, 1e-2, 0.1, 0.5])
