"""Recorded reference outputs, for the student release (which ships no `solutions/`).

At release time the public checks run against the references with a `Recorder`: every
call `ref.f(*args)` stores (chapter, f, inputs) -> output. The release carries those
outputs as data in the wire format (`grader/wire.py`: JSON plus raw tensor bytes, never
pickle) under `grader/recorded/`, and its `ref` fixture looks outputs up by a hash of the
encoded inputs. The same seed, profile and Hypothesis version draw the same inputs, so
every lookup of a passing run hits; an input that was never recorded (Hypothesis
shrinking a failure) is discarded with `hypothesis.assume(False)`, and Hypothesis then
reports the failing example it found first.

    recorder = Recorder()
    runner.run(exercises, path=solutions_dir, recorder=recorder)
    recorder.save(release / "grader" / "recorded")

The outputs of the known mistakes (`solutions/mistakes/`, see `grader.known`) are
recorded the same way, eagerly: for each student call a check compares, the table
{catalogue key: output} of its exercise function's mistakes, under `mistakes:<function>`
(`recorded` answers None, not a discarded example, for inputs that were not recorded).
`grader.release` also grades each known mistake as a submission with the same recorder,
so the inputs Hypothesis shrinks a known mistake's failures to are recorded as well.

What this leaves out: only `ref.*` calls and known mistakes are recorded; truths a check
computes with torch itself are computed in the release as usual.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import torch

from grader import wire

RECORDED = Path(__file__).parent / "recorded"
DATA_FILE, META_FILE = "references.wire", "meta.json"
MAGIC = b"DLREPLAY2\n"


KNOWN_TAG = "$known"
"""How a `grader.compare.Known` (several forms of one mistake) is stored: {"$known": [...], "params": {...}}."""


class ReplayError(RuntimeError):
    """A reference call that cannot be recorded (an argument or result the wire does not carry)."""


def _normalised(value: object) -> object:
    """`value` with probe functions named (`Probe("sum_of_squares")`) and tensors on the CPU,
    so the same inputs give the same key on every device."""
    from grader import probes

    from grader.compare import Known

    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, Known) and not callable(value.params):
        # a mistake with several forms or message parameters, as tagged plain data
        return {KNOWN_TAG: [_normalised(v) for v in value.outputs], "params": _normalised(value.params)}
    if isinstance(value, (list, tuple)):
        return type(value)(_normalised(v) for v in value)
    if isinstance(value, dict):
        return {k: _normalised(v) for k, v in value.items()}
    if callable(value) and not isinstance(value, wire.Probe):
        for name, func in probes.FUNCTIONS.items():
            if func is value:
                return wire.Probe(name)
        raise ReplayError(f"cannot record a call with the function argument {value!r}")
    return value


def key(chapter: str, function: str, args: tuple, kwargs: dict) -> str:
    """sha256 of the chapter, the function name and the wire encoding of the inputs."""
    header, buffers = wire.encode((_normalised(tuple(args)), _normalised(dict(kwargs))))
    if b'"$unsupported"' in header:
        raise ReplayError(f"cannot record the inputs of {chapter}.{function}: {header[:200]!r}")
    digest = hashlib.sha256(f"{chapter}\0{function}\0".encode())
    digest.update(struct.pack("!Q", len(header)) + header)
    for b in buffers:
        digest.update(struct.pack("!Q", len(b)) + b)
    return digest.hexdigest()


# --- the data file: one wire message, {key: output} ----------------------------------------


def carried(value: object) -> bool:
    """Whether the wire format carries `value` whole (no `$unsupported` part)."""
    try:
        header, _ = wire.encode(_normalised(value))
    except ReplayError:
        return False
    return b'"$unsupported"' not in header


def _frame(value: object) -> bytes:
    header, buffers = wire.encode(value)
    if b'"$unsupported"' in header:
        raise ReplayError("a recorded output holds a value the wire format does not carry")
    parts = [struct.pack("!QI", len(header), len(buffers)), header]
    for b in buffers:
        parts += [struct.pack("!Q", len(b)), b]
    return b"".join(parts)


def _unframe(view: memoryview) -> object:
    n_header, n_buffers = struct.unpack_from("!QI", view, 0)
    at = 12
    header = bytes(view[at : at + n_header])
    at += n_header
    if len(header) != n_header or n_buffers > len(view):
        raise wire.WireError("truncated replay entry")
    buffers = []
    for _ in range(n_buffers):
        (size,) = struct.unpack_from("!Q", view, at)
        at += 8
        buffers.append(view[at : at + size])
        if len(buffers[-1]) != size:
            raise wire.WireError("truncated replay entry")
        at += size
    return wire.decode(header, buffers).value


def dumps(table: dict[str, object]) -> bytes:
    """The data file of a {key: output} table: an index {key: [offset, length]} (JSON),
    then each output as a wire message of its own, so a release decodes only the outputs
    its checks look up (a whole course's table took 1.4 s to decode: most of a release's
    `check chN`, for other chapters' outputs)."""
    index, entries, at = {}, [], 0
    for k, value in table.items():
        entry = _frame(value)
        index[str(k)] = [at, len(entry)]
        entries.append(entry)
        at += len(entry)
    head = json.dumps(index, separators=(",", ":")).encode()
    return b"".join([MAGIC, struct.pack("!Q", len(head)), head, *entries])


class Table:
    """A data file's {key: output} table, each output decoded when it is looked up (a
    fresh value each time)."""

    def __init__(self, data: bytes):
        if not data.startswith(MAGIC):
            raise wire.WireError("not a dlcourse replay file")
        view, at = memoryview(data), len(MAGIC) + 8
        try:
            (n_head,) = struct.unpack_from("!Q", view, len(MAGIC))
            index = json.loads(bytes(view[at : at + n_head]))
        except (struct.error, ValueError, RecursionError):
            raise wire.WireError("the replay index is not JSON") from None
        body = view[at + n_head :]
        if not isinstance(index, dict) or not all(
            isinstance(v, list) and len(v) == 2 and all(type(n) is int and n >= 0 for n in v) and v[0] + v[1] <= len(body) for v in index.values()
        ):
            raise wire.WireError("bad replay index")
        self._index, self._body = index, body

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def get(self, key: str, default: object = None) -> object:
        where = self._index.get(key)
        if where is None:
            return default
        try:
            return _unframe(self._body[where[0] : where[0] + where[1]])
        except struct.error:
            raise wire.WireError("truncated replay entry") from None

    def decoded(self) -> dict[str, object]:
        """Every output, decoded."""
        return {k: self.get(k) for k in self._index}


def loads(data: bytes) -> dict[str, object]:
    """The whole table of a data file, decoded."""
    return Table(data).decoded()


@dataclass
class Recorder:
    """Collects reference outputs during a recording run."""

    outputs: dict[str, object] = field(default_factory=dict)

    def record(self, chapter: str, function: str, args: tuple, kwargs: dict, output: object) -> None:
        """Store `output` under the key of the inputs; ReplayError (naming the function)
        when the wire does not carry the inputs or the output, so a release never saves
        a table it cannot load."""
        value = _normalised(output)
        if not carried(value):
            raise ReplayError(f"the output of {chapter}.{function} holds a value the wire format does not carry")
        self.outputs[key(chapter, function, args, kwargs)] = value

    def save(self, folder: Path, seed: int, profile: str, hidden: dict[str, int] | None = None) -> None:
        """Write the table and its meta data; `hidden` counts each exercise's hidden checks
        (not shipped), so the release's `check` can say how many it did not run."""
        import hypothesis

        folder.mkdir(parents=True, exist_ok=True)
        # in key order: the same table makes the same file, however its parts were recorded
        (folder / DATA_FILE).write_bytes(dumps(dict(sorted(self.outputs.items()))))
        meta = {"seed": seed, "profile": profile, "hypothesis": hypothesis.__version__, "entries": len(self.outputs), "hidden": hidden or {}}
        (folder / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


# --- the release's side ---------------------------------------------------------------------


def active() -> bool:
    """True in a student release (recorded outputs are shipped instead of the references)."""
    return (RECORDED / META_FILE).is_file()


@lru_cache(maxsize=1)
def meta() -> dict:
    return json.loads((RECORDED / META_FILE).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _outputs() -> Table:
    return Table((RECORDED / DATA_FILE).read_bytes())


def load_table(folder: Path) -> dict:
    """The {key: output} table a `Recorder` saved in `folder`, decoded."""
    return loads((folder / DATA_FILE).read_bytes())


def lookup(chapter: str, function: str, args: tuple, kwargs: dict) -> object:
    """The recorded output, a fresh copy; a miss discards the example (`assume(False)`)."""
    from hypothesis import assume

    try:
        found = _outputs().get(key(chapter, function, args, kwargs), _MISSING)
    except ReplayError:
        found = _MISSING
    assume(found is not _MISSING)
    return _copy(found)


def recorded(chapter: str, function: str, args: tuple, kwargs: dict) -> object | None:
    """The recorded output (a fresh copy), or None when there is none: for what is only
    known when it was recorded (the outputs of known mistakes), where a miss means "no
    known output", never a discarded example."""
    try:
        found = _outputs().get(key(chapter, function, args, kwargs), _MISSING)
    except ReplayError:
        return None
    return None if found is _MISSING else _copy(found)


_MISSING = object()


def _copy(value: object) -> object:
    """A fresh copy of a recorded value, tagged `Known`s made `Known` again."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, (list, tuple)):
        return type(value)(_copy(v) for v in value)
    if isinstance(value, dict):
        if KNOWN_TAG in value:
            from grader.compare import Known

            return Known(*_copy(value[KNOWN_TAG]), **_copy(value.get("params") or {}))
        return {k: _copy(v) for k, v in value.items()}
    return value


@contextmanager
def fixed_generation() -> Iterator[None]:
    """Draw inputs from the seed alone: switch off Hypothesis' "local constants" (literals
    it collects from whatever non-installed modules happen to be imported), which differ
    between a checkout, an installed wheel and a student release, so that each of them,
    and the release's recording, draws the same examples for a seed (every run uses it). Private API, guarded: the release
    pins the Hypothesis version it was recorded with."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - another Hypothesis layout
        yield
        return
    original = getattr(providers, "_get_local_constants", None)
    if original is None or not hasattr(providers, "Constants"):  # pragma: no cover
        yield
        return
    empty = providers.Constants()
    providers._get_local_constants = lambda: empty
    providers.CONSTANTS_CACHE.cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = original
        providers.CONSTANTS_CACHE.cache.clear()
