"""Known mistakes as data: the registry in `solutions/mistakes/`, `grader.known`'s lookup
on a failed comparison, and the release's recorded mistake outputs."""

from __future__ import annotations

import pytest
import torch

import solutions.mistakes as registry
from grader import calls, known, reference, replay
from grader.compare import CheckFailure, PartialCredit, expect_close
from solutions.mistakes import Mistake, mistake, registered

NAMES = ("dx", "dW", "db")


def _inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    dout, x, W = (torch.randn(shape, generator=g, dtype=torch.float64) for shape in ((4, 2), (4, 3), (3, 2)))
    return dout, x, W


def _truth(dout, x, W):
    return dout @ W.T, x.T @ dout, dout.sum(0)


def _db_mean(dout, x, W):
    return dout @ W.T, x.T @ dout, dout.mean(0)


def _student_call(output, *inputs, func="linear_backward", exercise="ch4.linear_backward"):
    """What `StudentProxy` records for a call that returned `output`."""
    calls.record(calls.Call(exercise, func, inputs, {}, output))
    return output


@pytest.fixture(autouse=True)
def fresh_calls():
    calls.start()
    yield
    calls.start()


@pytest.fixture
def replayed(monkeypatch, tmp_path):
    """Make `tmp_path` the release's recorded data, after `save` wrote it."""

    def use(recorder: replay.Recorder) -> None:
        recorder.save(tmp_path, seed=1, profile="check")
        monkeypatch.setattr(replay, "RECORDED", tmp_path)
        replay.meta.cache_clear()
        replay._outputs.cache_clear()

    yield use
    replay.meta.cache_clear()
    replay._outputs.cache_clear()


# --- the registry ---------------------------------------------------------------------------


def test_a_mistake_is_registered_by_key_and_does_not_shadow_the_reference():
    table = registered("ch4.linear_backward")
    assert "ch4.linear_backward.db_mean" in table
    dout, x, W = _inputs()
    assert torch.allclose(table["ch4.linear_backward.db_mean"](dout, x, W)[2], dout.mean(0))
    # the module-level name holds a registry entry, which `ref` skips for the reference
    import solutions.mistakes.ch4_backprop as module

    assert isinstance(module.linear_backward, Mistake) and not callable(module.linear_backward)
    ref = reference.Reference("ch4.linear_backward")
    assert torch.allclose(ref.linear_backward(dout, x, W)[2], dout.sum(0))


def test_a_mistake_calls_the_chapter_functions_of_the_reference():
    # layernorm's batch_axis mistake calls batchnorm_backward: the reference's, not a mistake's
    batch_axis = registered("ch4.layernorm_backward")["ch4.layernorm_backward.batch_axis"]
    from solutions.ch4_backprop import batchnorm_backward

    dout, x, _ = _inputs()
    gamma = torch.ones(2, dtype=torch.float64)
    assert all(torch.equal(a, b) for a, b in zip(batch_axis(dout, x[:, :2], gamma), batchnorm_backward(dout, x[:, :2], gamma)))


def test_the_key_names_the_exercise_and_the_function():
    with pytest.raises(ValueError):
        mistake("ch4.linear_backward")  # no slug
    with pytest.raises(ValueError):

        @mistake("ch4.linear_backward.other")
        def linear_forward(x, W, b):  # not the exercise's function
            return x

    entry = next(e for e in registry.entries("ch4") if e.key == "ch4.linear_backward.db_mean")
    assert (entry.exercise, entry.slug) == ("ch4.linear_backward", "db_mean")
    assert registry.source(entry).startswith("def linear_backward(dout, x, W):")


# --- the lookup on a failed comparison -----------------------------------------------------------


def test_an_answer_equal_to_a_registered_mistake_fails_with_its_key():
    dout, x, W = _inputs()
    got = _student_call(_db_mean(dout, x, W), dout, x, W)
    with pytest.raises(CheckFailure) as failure:
        expect_close(got, _truth(dout, x, W), name=NAMES, batch=4)
    assert failure.value.key == "mistake.ch4.linear_backward.db_mean"
    assert failure.value.params["name"] == "db"  # the diagnosis of the wrong item is kept


def test_a_shape_failure_is_named_too():
    dout, x, W = _inputs()
    got = _student_call((dout @ W.T, dout.T @ x, dout.sum(0)), dout, x, W)
    with pytest.raises(CheckFailure) as failure:
        expect_close(got, _truth(dout, x, W), name=NAMES)
    assert failure.value.key == "mistake.ch4.linear_backward.dW_transposed"
    assert type(failure.value) is CheckFailure  # a wrong shape earns nothing


def test_a_tuple_the_check_rebuilt_from_the_last_call_is_looked_up():
    dout, x, W = _inputs()
    dx, dW, db = _student_call(_db_mean(dout, x, W), dout, x, W)
    with pytest.raises(CheckFailure) as failure:
        expect_close((dx, dW, db), _truth(dout, x, W), name=NAMES)
    assert failure.value.key == "mistake.ch4.linear_backward.db_mean"


def test_the_checks_own_mistakes_come_first():
    dout, x, W = _inputs()
    got = _student_call(_db_mean(dout, x, W), dout, x, W)
    with pytest.raises(CheckFailure) as failure:
        expect_close(got, _truth(dout, x, W), name=NAMES, mistakes={"mistake.ch4.linear_backward.named_here": (None, None, dout.mean(0))})
    assert failure.value.key == "mistake.ch4.linear_backward.named_here"


def test_an_unknown_answer_keeps_the_generic_diagnosis():
    dout, x, W = _inputs()
    got = _student_call((dout @ W.T, x.T @ dout, -dout.sum(0)), dout, x, W)
    with pytest.raises(CheckFailure) as failure:
        expect_close(got, _truth(dout, x, W), name=NAMES)
    assert failure.value.key == "mistake.sign"
    # and an answer no student call returned is not looked up at all
    with pytest.raises(CheckFailure) as failure:
        expect_close(_db_mean(dout, x, W), _truth(dout, x, W), name=NAMES, batch=4)
    assert not failure.value.key.startswith("mistake.ch4.")


def test_mistakes_that_raise_or_return_another_structure_are_ignored(monkeypatch):
    def raises(dout, x, W):
        raise RuntimeError("cannot run here")

    def other_structure(dout, x, W):
        return dout.mean(0)

    table = {
        "ch4.linear_backward.raises": Mistake("ch4.linear_backward.raises", raises),
        "ch4.linear_backward.other": Mistake("ch4.linear_backward.other", other_structure),
        **registry._REGISTRY["ch4.linear_backward"],
    }
    monkeypatch.setitem(registry._REGISTRY, "ch4.linear_backward", table)
    dout, x, W = _inputs()
    got = _student_call(_db_mean(dout, x, W), dout, x, W)
    with pytest.raises(CheckFailure) as failure:
        expect_close(got, _truth(dout, x, W), name=NAMES)
    assert failure.value.key == "mistake.ch4.linear_backward.db_mean"
    assert set(known.outputs(calls.last())) == {f"mistake.{k}" for k in table} - {"mistake.ch4.linear_backward.raises"}


def test_mistake_code_gets_copies_of_the_inputs(monkeypatch):
    def in_place(dout, x, W):
        dout.zero_()
        return dout @ W.T, x.T @ dout, dout.sum(0)

    monkeypatch.setitem(registry._REGISTRY, "ch4.linear_backward", {"ch4.linear_backward.zeroes": Mistake("ch4.linear_backward.zeroes", in_place)})
    dout, x, W = _inputs()
    before = dout.clone()
    known.outputs(_student_call(None, dout, x, W) or calls.last())
    assert torch.equal(dout, before)


def test_a_passing_comparison_computes_no_mistake(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("mistakes computed for a right answer")

    monkeypatch.setattr(reference.Reference, "mistake_outputs", refuse)
    dout, x, W = _inputs()
    expect_close(_student_call(_truth(dout, x, W), dout, x, W), _truth(dout, x, W), name=NAMES)


def test_matches_needs_the_same_structure_and_close_leaves():
    a = torch.tensor([1.0, 2.0])
    assert known.matches((a, {"k": a}), (a + 1e-7, {"k": a}))
    assert not known.matches((a, {"k": a}), (a, {"j": a}))
    assert not known.matches(a, a.double())
    assert not known.matches((a,), (a, a))
    assert known.matches(1.5, 1.5) and not known.matches(1.5, 2.5)


# --- the release: mistake outputs recorded eagerly, replayed as data -------------------------------


def test_recorded_mistake_outputs_are_replayed_and_a_miss_knows_nothing(replayed):
    dout, x, W = _inputs()
    recorder = replay.Recorder()
    with reference.serving("ch4.linear_backward", recorder):
        assert known.recording()
        # the references' right answer passes, and its mistakes are recorded all the same
        expect_close(_student_call(_truth(dout, x, W), dout, x, W), _truth(dout, x, W), name=NAMES)
    assert replay.key("ch4", "mistakes:linear_backward", (dout, x, W), {}) in recorder.outputs
    replayed(recorder)
    assert replay.active()
    calls.start()
    with reference.serving("ch4.linear_backward") as ref:
        assert isinstance(ref, reference.ReplayReference) and not known.recording()
        with pytest.raises(CheckFailure) as failure:
            expect_close(_student_call(_db_mean(dout, x, W), dout, x, W), _truth(dout, x, W), name=NAMES)
        assert failure.value.key == "mistake.ch4.linear_backward.db_mean"
        # inputs that were never recorded: no known output, and the example is not discarded
        other = _inputs(seed=1)
        with pytest.raises(CheckFailure) as failure:
            expect_close(_student_call(_db_mean(*other), *other), _truth(*other), name=NAMES, batch=4)
        assert failure.value.key == "mistake.factor_inverse_batch"
    assert isinstance(failure.value, PartialCredit)


def test_mistakes_the_failing_input_cannot_tell_apart_are_all_named(monkeypatch):
    from grader.messages import text
    from grader.plugin import Collector

    first, second = "mistake.ch9.bpe_encode.merges_in_reverse_order", "mistake.ch9.bpe_encode.most_frequent_first"
    monkeypatch.setattr(known, "recognise_all", lambda got, rtol=None, atol=None: [first, second])
    with pytest.raises(CheckFailure) as failed:
        expect_close([258, 97], [98, 256], name="ids")
    assert failed.value.key == first and failed.value.reveal["or_known"] == [second]
    status, message = Collector(None, set(), False, 0, "en").explain(failed.value, "public")
    assert status == "failed" and text(first, "en") in message and text(second, "en") in message
    assert message.index(text(first, "en")) < message.index(text(second, "en"))
