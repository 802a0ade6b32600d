"""The wire decoder: a round trip of every carried type, and every cap on what a hostile
worker may send (bytes, values, nesting, string length, malformed frames)."""

from __future__ import annotations

import collections
import os
import struct

import numpy as np
import pytest
import torch

from grader import wire


def test_round_trip_of_every_carried_type():
    P = collections.namedtuple("P", "a b")
    value = {"t": torch.arange(6, dtype=torch.int32).reshape(2, 3), "b": torch.tensor([True, False]), "n": (1, 2.5, None, "s", True),
             "inf": float("inf"), "nt": P(1, 2), "od": collections.OrderedDict(k=np.int64(3)), "probe": wire.Probe("sum_of_squares")}
    out = wire.decode(*wire.encode(value)).value
    assert torch.equal(out["t"], value["t"]) and out["t"].dtype == torch.int32 and out["b"].dtype == torch.bool
    assert out["n"] == (1, 2.5, None, "s", True) and out["inf"] == float("inf")
    assert out["nt"] == (1, 2) and out["od"] == {"k": 3} and out["probe"] == wire.Probe("sum_of_squares")


def test_many_small_values_are_refused_before_json_builds_them():
    header = b"[" + b"0.5," * (wire.MAX_SCALARS + 10) + b"0]"
    with pytest.raises(wire.WireError, match="values"):
        wire.decode(header, [])
    with pytest.raises(wire.WireError):
        wire.encode([0.5] * (wire.MAX_SCALARS + 1))


def test_nesting_and_string_caps():
    deep: list = []
    for _ in range(3 * wire.MAX_DEPTH):
        deep = [deep]
    with pytest.raises(wire.WireError):
        wire.decode(str(deep).encode(), [])
    with pytest.raises(wire.WireError, match="string"):
        wire.decode(b'"' + b"x" * (wire.MAX_STRING + 1) + b'"', [])
    with pytest.raises(wire.WireError, match="string"):
        wire.decode(b'{"$dict": {"' + b"k" * (wire.MAX_STRING + 1) + b'": 1}}', [])


@pytest.mark.parametrize(
    "header, buffers",
    [
        (b"[[[", []),
        (b"\xff\xfe\x00", []),
        (b'{"$tensor": 0, "dtype": "float32", "shape": [1000000000000]}', [b"1234"]),
        (b'{"$tensor": 0, "dtype": "float32", "shape": [2]}', [b"123"]),
        # 2**78 elements: 0 in 64-bit arithmetic, which an empty buffer would match
        (b'{"$tensor": 0, "dtype": "float32", "shape": [549755813888, 549755813888]}', [b""]),
        (b'{"$tensor": true, "dtype": "float32", "shape": [1]}', [b"1234"]),
        (b'{"$tensor": 0, "dtype": "complex64", "shape": [1]}', [b"12345678"]),
        (b'{"$float": "1e400"}', []),
        (b'{"$what": 1}', []),
        (b"[" * 200_000 + b"]" * 200_000, []),
    ],
)
def test_garbage_is_a_wire_error_never_another_exception(header, buffers):
    with pytest.raises(wire.WireError):
        wire.decode(header, buffers)


def test_truncated_and_oversized_frames():
    r, w = os.pipe()
    try:
        os.write(w, struct.pack("!II", 100, 0) + b"[1, 2")
        os.close(w)
        w = -1
        with pytest.raises(wire.Closed):
            wire.receive(r)
    finally:
        os.close(r)
        if w != -1:
            os.close(w)
    r, w = os.pipe()
    try:
        os.write(w, struct.pack("!II", 1 << 20, 0))
        with pytest.raises(wire.WireError, match="larger"):
            wire.receive(r, max_bytes=1024)
    finally:
        os.close(r)
        os.close(w)
