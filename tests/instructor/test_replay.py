"""The recorded reference outputs: keys, the data file, and a miss discarding the example."""

from __future__ import annotations

import struct

import pytest
import torch
from hypothesis.errors import UnsatisfiedAssumption

from grader import replay
from grader.probes import FUNCTIONS
from grader.wire import Probe, WireError


def test_key_depends_on_values_dtypes_and_the_chapter_only():
    x = torch.tensor([1.0, -0.0, 2.5])
    k = replay.key("ch4", "f", (x, 0.5), {"h": 1e-3})
    assert replay.key("ch4", "f", (x.clone(), 0.5), {"h": 1e-3}) == k
    assert replay.key("ch5", "f", (x, 0.5), {"h": 1e-3}) != k
    assert replay.key("ch4", "f", (x.double(), 0.5), {"h": 1e-3}) != k
    assert replay.key("ch4", "f", (torch.tensor([1.0, 0.0, 2.5]), 0.5), {"h": 1e-3}) != k  # -0.0 differs


def test_probe_functions_are_keyed_by_name_and_other_callables_refused():
    x = torch.ones(2, dtype=torch.float64)
    assert replay.key("ch4", "g", (FUNCTIONS["sum_of_squares"], x), {}) == replay.key("ch4", "g", (Probe("sum_of_squares"), x), {})
    with pytest.raises(replay.ReplayError):
        replay.key("ch4", "g", (lambda t: t, x), {})


def test_data_file_round_trips_without_pickle():
    table = {"a": (torch.arange(6.0).reshape(2, 3), {"W": torch.ones(2, dtype=torch.float64)}), "b": 1.5}
    back = replay.loads(replay.dumps(table))
    assert torch.equal(back["a"][0], table["a"][0]) and back["a"][1]["W"].dtype == torch.float64 and back["b"] == 1.5
    with pytest.raises(Exception):
        replay.loads(b"\x80\x04pickle")


def test_a_table_decodes_only_the_outputs_looked_up():
    """A release's `check chN` decodes its own chapter's outputs, not the whole course's:
    an entry is decoded (and found corrupt) only when it is looked up."""
    table = {"a": torch.arange(4.0), "b": (1, torch.ones(2, dtype=torch.float64)), "c": "text"}
    data = bytearray(replay.dumps(table))
    lazy = replay.Table(bytes(data))
    assert len(lazy) == 3 and "b" in lazy and "z" not in lazy and lazy.get("z", "miss") == "miss"
    assert torch.equal(lazy.get("a"), table["a"]) and lazy.get("b")[1].dtype == torch.float64
    first = lazy.get("a")
    first.zero_()  # each lookup is a fresh value
    assert torch.equal(lazy.get("a"), table["a"])
    # corrupt the last entry ("c"): the others still decode, "c" raises a WireError
    data[-3:] = b"\xff\xff\xff"
    broken = replay.Table(bytes(data))
    assert torch.equal(broken.get("a"), table["a"])
    with pytest.raises(WireError):
        broken.get("c")


def test_a_bad_index_is_refused_before_any_lookup():
    data = replay.dumps({"a": 1.0})
    old_format = b"DLREPLAY1\n" + data[len(replay.MAGIC):]
    no_index = replay.MAGIC[:-1]
    index = b'{"a":[0,999]}'
    not_json = replay.MAGIC + struct.pack("!Q", len(index) - 1) + index[:-1]
    past_the_end = replay.MAGIC + struct.pack("!Q", len(index)) + index
    for bad in (old_format, no_index, replay.MAGIC, not_json, past_the_end):
        with pytest.raises(WireError):
            replay.Table(bad)


@pytest.mark.filterwarnings("ignore:Using `assume` outside")
def test_a_miss_discards_the_example(monkeypatch, tmp_path):
    x = torch.ones(3)
    recorder = replay.Recorder()
    recorder.record("ch4", "f", (x,), {}, x * 2)
    recorder.save(tmp_path, seed=1, profile="check")
    monkeypatch.setattr(replay, "RECORDED", tmp_path)
    replay.meta.cache_clear()
    replay._outputs.cache_clear()
    try:
        assert replay.active()
        got = replay.lookup("ch4", "f", (x,), {})
        assert torch.equal(got, x * 2)
        got.zero_()  # a check that modifies the output does not change the table
        assert torch.equal(replay.lookup("ch4", "f", (x,), {}), x * 2)
        with pytest.raises(UnsatisfiedAssumption):
            replay.lookup("ch4", "f", (x + 1,), {})
    finally:
        replay.meta.cache_clear()
        replay._outputs.cache_clear()


def test_recorded_answers_none_for_a_miss_and_discards_nothing(monkeypatch, tmp_path):
    # known mistakes' outputs: a miss means "no known output", never a discarded example
    x = torch.ones(3)
    recorder = replay.Recorder()
    recorder.record("ch4", "mistakes:f", (x,), {}, {"mistake.ch4.f.double": x * 2})
    recorder.save(tmp_path, seed=1, profile="check")
    monkeypatch.setattr(replay, "RECORDED", tmp_path)
    replay.meta.cache_clear()
    replay._outputs.cache_clear()
    try:
        found = replay.recorded("ch4", "mistakes:f", (x,), {})
        assert torch.equal(found["mistake.ch4.f.double"], x * 2)
        assert replay.recorded("ch4", "mistakes:f", (x + 1,), {}) is None
        assert replay.recorded("ch4", "mistakes:f", (lambda t: t,), {}) is None  # not even keyable
    finally:
        replay.meta.cache_clear()
        replay._outputs.cache_clear()


def test_a_known_mistake_with_several_forms_round_trips_as_plain_data():
    from grader.compare import Known

    table = {"mistake.x.y": Known((torch.ones(2), torch.zeros(1)), (torch.full((2,), 2.0), torch.zeros(1)), factor=2)}
    assert replay.carried(table)
    back = replay._copy(replay.loads(replay.dumps(replay._normalised(table))))["mistake.x.y"]
    assert isinstance(back, Known) and back.params == {"factor": 2}
    assert len(back.outputs) == 2 and all(isinstance(o, tuple) for o in back.outputs)
    assert torch.equal(back.outputs[1][0], torch.full((2,), 2.0))


def test_the_recorder_refuses_an_output_the_wire_does_not_carry_and_names_it():
    recorder = replay.Recorder()
    with pytest.raises(replay.ReplayError, match=r"ch8\.f"):
        recorder.record("ch8", "f", (torch.ones(1),), {}, {"k": object()})
    assert recorder.outputs == {}
    recorder.record("ch8", "f", (torch.ones(1),), {}, {"k": torch.ones(1)})
    assert len(recorder.outputs) == 1
