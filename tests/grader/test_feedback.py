"""Every message speaks of the student's own call (issue 16): the failing input as
`linear_forward(x=..., W=..., b=...)`, never Hypothesis' note (a check's name, `Case(...)`,
`data(...)`, `Draw 1:`); after a crash or timeout the input that crashed; no example of
one check in another's message; evidence with enough digits to tell two values apart;
what the code printed, on public checks only.

The end-to-end tests grade one exercise (ch4.linear_forward) of a small submission each.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from grader import calls, diagnose, messages
from grader.checks import HIDDEN
from grader.compare import CheckFailure
from grader.curriculum import find
from grader.plugin import Collector
from grader.runner import run
from grader.student import TimedOut, again

SOLUTIONS = Path(__file__).resolve().parents[2] / "solutions"
REFERENCE_BODY = "    return x @ W + b\n"
HYPOTHESIS_WORDS = ("Falsifying example", "check_linear", "Case(", "data(", "Draw 1", "case=")


@pytest.fixture(autouse=True)
def english(monkeypatch):
    monkeypatch.setenv("DLCOURSE_LANG", "en")


def submission(folder: Path, body: str) -> Path:
    """The reference chapter 4 with linear_forward's body replaced by `body`."""
    folder.mkdir(parents=True, exist_ok=True)
    source = (SOLUTIONS / "ch4_backprop.py").read_text(encoding="utf-8")
    assert REFERENCE_BODY in source
    (folder / "ch4_backprop.py").write_text(source.replace(REFERENCE_BODY, body, 1), encoding="utf-8")
    return folder


def grade(folder: Path, **options) -> list:
    report = run([find("ch4.linear_forward")], path=folder, include_hidden=False, profile="check", lang="en", **options)
    return report.exercises[0].checks


@pytest.fixture(scope="module")
def no_bias(tmp_path_factory):
    """A wrong answer (the bias forgotten) that prints on every call."""
    folder = submission(tmp_path_factory.mktemp("no_bias"), '    print("rows:", x.shape[0])\n    return x @ W\n')
    return grade(folder)


@pytest.fixture(scope="module")
def loops_on_three_rows(tmp_path_factory):
    """Never returns for an x of three rows or more; right otherwise."""
    body = "    while x.shape[0] > 2:\n        pass\n" + REFERENCE_BODY
    folder = submission(tmp_path_factory.mktemp("loops"), body)
    return grade(folder, timeout=2.0)


def call_block(message: str) -> str:
    """The lines of the shown call, from `linear_forward(` to its closing parenthesis."""
    start = message.index("linear_forward(")
    end = message.index("\n    )", start) if "\n    )" in message[start:] else message.index(")\n", start)
    return message[start:end]


# --- 1. the failing example is the student's own call -------------------------------------


def test_a_wrong_answer_shows_the_call_with_the_parameters_names(no_bias):
    first = no_bias[0]
    assert first.status == "failed"
    assert messages.text("detail.call", "en", value="").strip() in first.message
    block = call_block(first.message)
    assert re.search(r"x=tensor\(", block) and re.search(r"W=tensor\(", block) and re.search(r"b=tensor\(", block), first.message
    # the call replaces the check's own `inputs:` dump
    assert messages.text("detail.inputs", "en", value="").strip() not in first.message


def test_no_message_shows_hypothesis_own_words(no_bias, loops_on_three_rows):
    for check in [*no_bias, *loops_on_three_rows]:
        for words in HYPOTHESIS_WORDS:
            assert words not in check.message, (words, check.message)


def test_a_call_is_rendered_with_bounded_values():
    big = torch.zeros(100, 100)
    text = diagnose.show_call("linear_forward", [("x", big), ("W", torch.ones(2, 2)), (None, 3)])
    assert text.startswith("linear_forward(") and "x=tensor of shape (100, 100)" in text and "W=tensor([[1., 1.]," in text
    assert len(diagnose.show_call("f", [("x", "y" * 10_000)])) <= 1500
    assert diagnose.show_call("f", [("a", 1), ("b", 2.5)]) == "f(a=1, b=2.5)"


def test_positional_arguments_take_the_stubs_names():
    call = calls.Call("ch4.linear_backward", "linear_backward", (1, 2), {"W": 3})
    assert calls.arguments(call) == [("dout", 1), ("x", 2), ("W", 3)]
    unknown = calls.Call("ch4.linear_backward", "not_in_the_stub", (1, 2), {})
    assert calls.arguments(unknown) == [(None, 1), (None, 2)]
    too_many = calls.Call("ch4.linear_forward", "linear_forward", (1, 2, 3, 4), {})
    assert calls.arguments(too_many) == [(None, 1), (None, 2), (None, 3), (None, 4)]


# --- 2. after a crash or timeout, the input that crashed ----------------------------------


def test_a_timeout_shows_the_input_that_did_not_return(loops_on_three_rows):
    first = loops_on_three_rows[0]
    assert first.status == "timeout"
    x = call_block(first.message).split("x=", 1)[1].split("W=", 1)[0]
    rows = x.count("[") - 1  # a 2-d tensor: tensor([[..], [..], [..]])
    assert rows > 2, first.message  # not a shrunk input of one row, which returns


# --- 3. no notes leaking between checks ------------------------------------------------


def test_a_later_check_shows_no_example_of_an_earlier_one(loops_on_three_rows):
    first, second = loops_on_three_rows[:2]
    assert second.status == "timeout"
    assert "any_leading_dims" not in first.message and "matches_reference" not in second.message
    assert "Falsifying" not in second.message
    # the call that failed, said to come from an earlier check, shown once
    assert messages.text("detail.call_before", "en", value="").strip() in second.message
    assert second.message.count("linear_forward(") == 1


def test_a_remembered_error_is_raised_afresh_with_its_call():
    call = calls.Call("ch4.linear_forward", "linear_forward", (torch.ones(3, 1),), {})
    error = TimedOut(seconds=2.0)
    error.call = call
    error.add_note("Falsifying example: check_one(case=...)")
    copy = again(error)
    assert copy is not error and type(copy) is TimedOut
    assert copy.call is call and copy.params == error.params and copy.args == error.args
    assert not getattr(copy, "__notes__", None)


# --- 4. evidence agrees with the diagnosis ---------------------------------------------


def test_values_that_differ_are_shown_with_digits_that_differ():
    expected, got = -1.5974812345, -1.5974809876
    assert diagnose.show_at((0, 1), expected, got) == ("(0, 1)", "-1.5974812", "-1.5974810")
    assert diagnose.show_at((0,), 0.5, 0.25) == ("(0,)", "0.5", "0.25")
    shown = diagnose.show_pair(torch.tensor([expected], dtype=torch.float64), torch.tensor([got], dtype=torch.float64))
    assert shown[0] != shown[1] and "-1.5974812" in shown[0]
    same = torch.tensor([1.0, 2.0])
    assert diagnose.show_pair(same, same.clone()) == (diagnose.show(same), diagnose.show(same))
    # capped: a difference past MAX_DIGITS digits is not chased further
    assert diagnose.show_at((), 1.0, 1.0 + 1e-14) == ("()", "1", "1")


# --- 5. what the code printed, for wrong answers too (public checks only) -------------------


def test_a_wrong_answer_shows_what_the_code_printed(no_bias):
    first = no_bias[0]
    assert messages.text("detail.output", "en", value="").strip() in first.message
    assert "rows: " in first.message


def explain(visibility: str, exc: BaseException) -> str:
    collector = Collector(worker=None, selected=set(), include_hidden=True, seed=0, lang="en")
    return collector.explain(exc, visibility)[1]


def test_a_hidden_check_shows_neither_the_call_nor_what_was_printed():
    calls.start()
    call = calls.record(calls.Call("ch4.linear_forward", "linear_forward", (torch.full((2, 2), 7.25),), {}))
    call.output, call.printed = torch.zeros(2), "SECRET-PRINT"
    failure = CheckFailure("compare.value", {"name": "out"}, {"inputs": "x = SECRET-INPUT"})
    public, hidden = explain("public", failure), explain(HIDDEN, failure)
    assert "7.25" in public and "SECRET-PRINT" in public and "SECRET-INPUT" not in public
    assert "7.25" not in hidden and "SECRET" not in hidden and "linear_forward(" not in hidden
    error = TimedOut(seconds=1.0)
    error.call = call
    assert "7.25" in explain("public", error) and "7.25" not in explain(HIDDEN, error)


def test_printed_text_and_values_are_sanitised():
    calls.start()
    call = calls.record(calls.Call("ch4.linear_forward", "linear_forward", ("\x1b[2Jfake",), {}))
    call.output, call.printed = 1, "\x1b[31mred\x07"
    message = explain("public", CheckFailure("compare.value", {"name": "out"}))
    assert "\x1b" not in message and "\x07" not in message and "red" in message


def test_a_check_that_made_no_call_keeps_its_inputs():
    calls.start()
    message = explain("public", CheckFailure("compare.value", {"name": "out"}, {"inputs": "x = 1"}))
    assert "x = 1" in message and "called as" not in message


def teardown_module() -> None:
    calls.start()  # leave no record behind for another test module
