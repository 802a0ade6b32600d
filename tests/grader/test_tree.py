"""`grader.tree`, the one walk over nested values (tensors in lists, tuples, named tuples
and dicts), bounded for values that come from student code."""

from __future__ import annotations

import collections

import torch

from grader import tree
from grader.guard import uses_autograd

Pair = collections.namedtuple("Pair", "w v")


def test_map_keeps_every_container_type_and_leaves_non_tensors_alone():
    value = {"a": [torch.ones(2), (torch.zeros(1), Pair(torch.ones(1), 3))], "n": "text"}
    out = tree.map_tensors(value, lambda t: t + 1)
    assert isinstance(out["a"], list) and isinstance(out["a"][1], tuple) and isinstance(out["a"][1][1], Pair)
    assert torch.equal(out["a"][0], torch.full((2,), 2.0)) and out["a"][1][1].v == 3 and out["n"] == "text"
    assert torch.equal(value["a"][0], torch.ones(2))  # the input is not changed


def test_tensors_come_with_their_paths_in_order():
    value = {"W": [torch.ones(1), torch.zeros(1)], "b": Pair(torch.ones(1), None)}
    assert [path for path, _ in tree.tensors(value)] == [("W", 0), ("W", 1), ("b", 0)]


def test_a_container_that_holds_itself_or_nests_too_deep_ends_the_walk():
    loop: list = [torch.ones(1)]
    loop.append(loop)
    assert len(list(tree.tensors(loop))) == 1
    deep: object = torch.ones(1)
    for _ in range(tree.MAX_DEPTH + 5):
        deep = [deep]
    assert not tree.any_tensor(deep)  # beyond the bound: not entered, never a RecursionError


def test_autograd_state_is_found_anywhere_in_a_result():
    w = torch.ones(2, requires_grad=True)
    assert uses_autograd({"out": Pair(torch.zeros(1), [w * 2])})
    assert not uses_autograd({"out": Pair(torch.zeros(1), [w.detach() * 2])})
