"""The one walk over nested values: tensors inside lists, tuples (named ones too) and dicts,
as exercise functions take and return them.

    tree.map_tensors(value, lambda t: t.to("cpu"))        # the same structure, tensors mapped
    tree.any_tensor(value, lambda t: t.requires_grad)      # does some tensor satisfy it?
    for path, t in tree.tensors(value): ...                # ("W", 0) for value["W"][0]

Values may come from student code, so the walk is bounded: containers nested deeper than
`MAX_DEPTH` are left as they are (not entered), and a container that holds itself ends
the walk there instead of recursing forever.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

MAX_DEPTH = 64


def _is_namedtuple(value: object) -> bool:
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


def map_tensors(value: object, fn: Callable[[torch.Tensor], object]) -> object:
    """`value` rebuilt with `fn(t)` in place of every tensor `t` (lists, tuples, named
    tuples and dicts keep their types; anything else is kept as it is)."""

    def walk(v: object, depth: int, seen: frozenset[int]) -> object:
        if isinstance(v, torch.Tensor):
            return fn(v)
        if depth >= MAX_DEPTH or id(v) in seen or not isinstance(v, (list, tuple, dict)):
            return v
        inner = seen | {id(v)}
        if isinstance(v, dict):
            return {k: walk(x, depth + 1, inner) for k, x in v.items()}
        items = [walk(x, depth + 1, inner) for x in v]
        if _is_namedtuple(v):
            return type(v)(*items)
        return type(v)(items) if type(v) in (list, tuple) else items if isinstance(v, list) else tuple(items)

    return walk(value, 0, frozenset())


def tensors(value: object) -> Iterator[tuple[tuple, torch.Tensor]]:
    """Every tensor in `value` with its path (list/tuple indices, dict keys), depth first."""

    def walk(v: object, path: tuple, depth: int, seen: frozenset[int]) -> Iterator[tuple[tuple, torch.Tensor]]:
        if isinstance(v, torch.Tensor):
            yield path, v
            return
        if depth >= MAX_DEPTH or id(v) in seen or not isinstance(v, (list, tuple, dict)):
            return
        inner = seen | {id(v)}
        pairs = v.items() if isinstance(v, dict) else enumerate(v)
        for k, x in pairs:
            yield from walk(x, path + (k,), depth + 1, inner)

    return walk(value, (), 0, frozenset())


def any_tensor(value: object, predicate: Callable[[torch.Tensor], bool] = lambda t: True) -> bool:
    """Whether some tensor in `value` satisfies `predicate` (by default: is there any tensor)."""
    return any(predicate(t) for _, t in tensors(value))
