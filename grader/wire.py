"""The wire format between the grader and the worker that runs student code.

A message is a JSON header plus raw tensor buffers, framed with lengths. Only plain data
crosses: None, bool, int, float, str, list, tuple, dict with str keys, tensors of a fixed
set of dtypes, and `Probe` (a named test function, see `grader.probes`). Decoding never
unpickles and never runs code: a tensor is rebuilt from bytes with numpy after its dtype,
shape and byte count are checked, so a reply from hostile student code is only data.
Sizes are capped as well as bytes (MAX_DEPTH, MAX_SCALARS, MAX_STRING, MAX_HEADER): a
250 MiB list of small floats would become gigabytes of Python objects.

    frame  = !I header length, !I buffer count, header, then per buffer !Q length + bytes
"""

from __future__ import annotations

import collections
import json
import math
import os
import select
import struct
import time
from dataclasses import dataclass
from functools import lru_cache

# torch and numpy are imported at the first message, not with this module: the grader
# starts its worker first, so that both import torch side by side (`grader.runner`)
DTYPE_LIST = ("float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool")
"""The tensor dtypes the wire carries, by their torch names."""


@lru_cache(maxsize=1)
def _dtypes() -> tuple[dict, dict]:
    """({name: torch dtype}, {torch dtype: name})."""
    import torch

    by_name = {name: getattr(torch, name) for name in DTYPE_LIST}
    return by_name, {v: k for k, v in by_name.items()}


@lru_cache(maxsize=1)
def _numpy_dtypes() -> dict:
    """{name: numpy dtype a buffer of that torch dtype is read as} (bool as uint8)."""
    import numpy as np
    import torch

    return {name: np.dtype(np.uint8 if dtype == torch.bool else torch.empty((), dtype=dtype).numpy().dtype)
            for name, dtype in _dtypes()[0].items()}


MAX_DEPTH = 32
"""Containers nest at most this deep."""
MAX_SCALARS = 2_000_000
"""Plain values (numbers, strings, None, bools) in one message; tensors count by bytes."""
MAX_STRING = 1_000_000
"""Characters in one string (a dict key included)."""
MAX_HEADER = 64 << 20
"""Bytes of a message's JSON header."""


class WireError(ValueError):
    """A message that is not valid wire data (wrong type, size, dtype, nesting)."""


class Closed(EOFError):
    """The other side closed its pipe (the worker died)."""


class Timeout(TimeoutError):
    """No complete message arrived before the deadline."""


@dataclass(frozen=True)
class Probe:
    """A function passed to an exercise by name (`numerical_gradient(f, x)`); both sides
    rebuild it from `grader.probes`."""

    name: str
    params: tuple = ()


@dataclass(frozen=True)
class Unsupported:
    """A value of a type the wire does not carry, as reported by the worker (its type name)."""

    type_name: str


@dataclass
class Decoded:
    """A decoded value plus the devices its tensors came from (to catch CPU-only code)."""

    value: object
    devices: set[str]


def encode(value: object) -> tuple[bytes, list[bytes]]:
    """Encode `value` into a JSON header and tensor buffers.

    Values the wire does not carry become `Unsupported(type name)` rather than an error,
    so the worker can tell the grader what a student returned ("a generator").
    """
    import numpy as np
    import torch

    dtype_names = _dtypes()[1]
    buffers: list[bytes] = []
    count = [0]

    def enc(v: object, depth: int) -> object:
        if depth > MAX_DEPTH:
            return {"$unsupported": "structure nested too deeply"}
        count[0] += 1
        if count[0] > MAX_SCALARS:
            raise WireError(f"more than {MAX_SCALARS} values (return tensors, not long lists)")
        if isinstance(v, str) and len(v) > MAX_STRING:
            raise WireError(f"a string longer than {MAX_STRING} characters")
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int):
            return v if -(2**63) <= v < 2**63 else {"$unsupported": "int too large"}
        if isinstance(v, float):
            return {"$float": repr(v)} if v != v or v in (float("inf"), float("-inf")) else v
        if isinstance(v, torch.Tensor):
            t = torch.Tensor.as_subclass(v, torch.Tensor).detach()
            name = dtype_names.get(t.dtype)
            if name is None:
                return {"$unsupported": f"tensor of dtype {t.dtype}"}
            device = str(t.device)
            t = t.cpu().contiguous()
            buffers.append(t.numpy().tobytes() if t.dtype != torch.bool else t.to(torch.uint8).numpy().tobytes())
            return {"$tensor": len(buffers) - 1, "dtype": name, "shape": list(t.shape), "device": device}
        if isinstance(v, Probe):
            return {"$probe": v.name, "params": [enc(p, depth + 1) for p in v.params]}
        if isinstance(v, Unsupported):
            return {"$unsupported": v.type_name}
        # a namedtuple is a tuple, an OrderedDict a dict, numpy's own scalars numbers; the
        # base types' own iterators are used, never a subclass's
        if isinstance(v, tuple) and (type(v) is tuple or hasattr(type(v), "_fields")):
            return {"$tuple": [enc(x, depth + 1) for x in tuple.__iter__(v)]}
        if isinstance(v, list) and type(v) is list:
            return [enc(x, depth + 1) for x in v]
        if isinstance(v, dict) and type(v) in (dict, collections.OrderedDict, collections.defaultdict):
            items = list(dict.items(v))
            if all(type(k) is str for k, _ in items):
                return {"$dict": {k: enc(x, depth + 1) for k, x in items}}
        if type(v).__module__ == "numpy" and isinstance(v, (np.integer, np.floating, np.bool_)):
            return enc(v.item(), depth)
        return {"$unsupported": type(v).__name__}

    header = json.dumps(enc(value, 0), allow_nan=False).encode()
    return header, buffers


def decode(header: bytes, buffers: list[bytes]) -> Decoded:
    """Decode a message from `encode`, validating every tensor and every cap; raises
    WireError for anything else, whatever the bytes."""
    try:
        return _decode(header, buffers)
    except WireError:
        raise
    except (Exception, RecursionError) as exc:  # noqa: BLE001 - hostile bytes: never the grader's error
        raise WireError(f"malformed message ({type(exc).__name__})") from None


def _decode(header: bytes, buffers: list[bytes]) -> Decoded:
    import numpy as np
    import torch

    dtypes, np_dtypes = _dtypes()[0], _numpy_dtypes()
    if len(header) > MAX_HEADER:
        raise WireError(f"header larger than {MAX_HEADER} bytes")
    # every value but the first follows a comma or a colon: an upper bound, checked in C
    # before json builds a single object
    if header.count(b",") > MAX_SCALARS:
        raise WireError(f"more than {MAX_SCALARS} values")
    if header.count(b"[") + header.count(b"{") > MAX_SCALARS:
        raise WireError(f"more than {MAX_SCALARS} containers")
    try:
        tree = json.loads(header)
    except (ValueError, RecursionError) as exc:
        raise WireError(f"header is not JSON: {type(exc).__name__}") from None
    devices: set[str] = set()
    count = [0]

    def dec(v: object, depth: int) -> object:
        if depth > 2 * MAX_DEPTH + 2:  # a tuple or dict is two JSON levels
            raise WireError("nested too deeply")
        count[0] += 1
        if count[0] > MAX_SCALARS:
            raise WireError(f"more than {MAX_SCALARS} values")
        if isinstance(v, str):
            if len(v) > MAX_STRING:
                raise WireError(f"a string longer than {MAX_STRING} characters")
            return v
        if v is None or isinstance(v, (bool, int, float)):
            return v
        if isinstance(v, list):
            return [dec(x, depth + 1) for x in v]
        if not isinstance(v, dict) or len(v) == 0:
            raise WireError(f"unexpected {type(v).__name__}")
        if "$tensor" in v:
            return tensor(v)
        if "$tuple" in v:
            return tuple(dec(x, depth + 1) for x in _list(v["$tuple"]))
        if "$dict" in v:
            inner = v["$dict"]
            if not isinstance(inner, dict):
                raise WireError("bad dict")
            return {dec(str(k), depth + 1): dec(x, depth + 1) for k, x in inner.items()}
        if "$float" in v:
            if v["$float"] not in ("nan", "inf", "-inf"):
                raise WireError("bad float")
            return float(v["$float"])
        if "$probe" in v:
            return Probe(str(v["$probe"]), tuple(dec(x, depth + 1) for x in _list(v.get("params", []))))
        if "$unsupported" in v:
            return Unsupported(str(v["$unsupported"])[:200])
        raise WireError("unknown object")

    def tensor(spec: dict) -> "torch.Tensor":
        index, name, shape = spec.get("$tensor"), spec.get("dtype"), spec.get("shape")
        if type(index) is not int or not 0 <= index < len(buffers):
            raise WireError("bad buffer index")
        if name not in dtypes:
            raise WireError(f"dtype {name!r} not allowed")
        if not isinstance(shape, list) or len(shape) > 16 or not all(type(s) is int and 0 <= s < 2**40 for s in shape):
            raise WireError("bad shape")
        dtype, np_dtype = dtypes[name], np_dtypes[name]
        buf = buffers[index]
        if math.prod(shape) * np_dtype.itemsize != len(buf):  # Python ints: no overflow
            raise WireError("buffer size does not match shape")
        array = np.frombuffer(buf, dtype=np_dtype).reshape(shape).copy()
        out = torch.from_numpy(array)
        devices.add(str(spec.get("device", "cpu"))[:40])
        return out.bool() if dtype == torch.bool else out

    return Decoded(dec(tree, 0), devices)


def _list(v: object) -> list:
    if not isinstance(v, list):
        raise WireError("expected a list")
    return v


# --- framing over pipes -------------------------------------------------------------


def send(fd: int, value: object) -> None:
    header, buffers = encode(value)
    parts = [struct.pack("!II", len(header), len(buffers)), header]
    for b in buffers:
        parts += [struct.pack("!Q", len(b)), b]
    data = b"".join(parts)
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def receive(fd: int, deadline: float | None = None, max_bytes: int = 1 << 30) -> Decoded:
    """Read one message; raises Timeout past `deadline` (a time.monotonic value), Closed on
    EOF, WireError on a malformed or oversized message."""
    budget = [max_bytes]

    def read(n: int) -> bytes:
        if n > budget[0]:
            raise WireError(f"message larger than {max_bytes} bytes")
        budget[0] -= n
        return _read_exact(fd, n, deadline)

    n_header, n_buffers = struct.unpack("!II", read(8))
    if n_buffers > 100_000:
        raise WireError("too many buffers")
    header = read(n_header)
    buffers = []
    for _ in range(n_buffers):
        (size,) = struct.unpack("!Q", read(8))
        buffers.append(read(size))
    return decode(header, buffers)


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks = []
    remaining = n
    while remaining:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout()
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                raise Timeout()
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise Closed()
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
