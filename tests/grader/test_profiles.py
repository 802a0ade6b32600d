"""`check` and `grade` draw the same public examples (issue 16): with the same seed a public
check sees exactly the same inputs under both profiles, so its verdict cannot differ."""

from __future__ import annotations

import importlib
from contextlib import contextmanager

import hypothesis
import pytest

from grader import profiles

CH1, CH2 = "grader.checks.ch1_ml_basics", "grader.checks.ch2_linear_models"


def _drawn(module: str, name: str, profile: str, seed: int) -> list[str]:
    """The inputs the check `module.name` is called with under `profile`, as the runner
    runs it: the check module imported with the profile loaded, the run's seed set on the
    test, and the check's body replaced by a recorder."""
    seen: list[str] = []
    with profiles.use(profile):
        check = getattr(importlib.reload(importlib.import_module(module)), name)
        with _recording(check, lambda **kwargs: seen.append(repr({k: v for k, v in kwargs.items() if k not in ("student", "ref")}))):
            hypothesis.seed(seed)(check)
            check(student=None, ref=None)
    return seen


@contextmanager
def _recording(check, recorder):
    """The check's body replaced by `recorder` inside the block only: the grader run later
    in this process imports the same module object and must find the real check."""
    body = check.hypothesis.inner_test
    check.hypothesis.inner_test = recorder
    try:
        yield
    finally:
        check.hypothesis.inner_test = body


def test_public_checks_draw_as_many_examples_in_check_as_in_grade():
    assert profiles.PROFILES["check"]["max_examples"] == profiles.PROFILES["grade"]["max_examples"] == profiles.PUBLIC_EXAMPLES


@pytest.mark.parametrize("check", [(CH1, "check_softmax_matches_pytorch"), (CH2, "check_bce_with_logits_matches_pytorch")])
@pytest.mark.parametrize("seed", [0, 12345])
def test_a_public_check_sees_the_same_inputs_under_check_and_grade(check, seed):
    in_check, in_grade = _drawn(*check, "check", seed), _drawn(*check, "grade", seed)
    # the profile was applied (not Hypothesis' default of 100) and inputs were drawn
    assert profiles.PUBLIC_EXAMPLES // 2 <= len(in_check) <= profiles.PUBLIC_EXAMPLES
    assert in_check == in_grade


def test_another_seed_draws_other_inputs():
    # the comparison above can fail: the recorder does see the seed
    assert _drawn(CH1, "check_softmax_matches_pytorch", "check", 0) != _drawn(CH1, "check_softmax_matches_pytorch", "check", 1)


def _run(module: str, name: str, body) -> None:
    """Run the check `module.name` with seed 0 and `body` in place of its own, its module
    imported afresh with whatever profile is loaded (a notebook, another tool)."""
    check = getattr(importlib.reload(importlib.import_module(module)), name)
    with _recording(check, body):
        hypothesis.seed(0)(check)
        check(student=None, ref=None)


def _drawn_outside_profiles(module: str, name: str) -> int:
    """How many examples the check draws when its module is imported and run with
    Hypothesis' own default profile loaded (a notebook, another tool)."""
    seen = []
    _run(module, name, lambda **kwargs: seen.append(1))
    return len(seen)


def test_checks_carry_the_grading_settings_however_they_are_imported():
    # Hypothesis' default would draw 100; a public check draws PUBLIC_EXAMPLES, a hidden one more
    public = _drawn_outside_profiles(CH1, "check_softmax_matches_pytorch")
    hidden = _drawn_outside_profiles("grader.checks.ch4_backprop", "check_linear_backward_larger_layers")
    assert profiles.PUBLIC_EXAMPLES // 2 <= public <= profiles.PUBLIC_EXAMPLES
    assert profiles.PUBLIC_EXAMPLES < hidden <= profiles.HIDDEN_EXAMPLES


def test_a_check_runs_its_own_body_again_after_being_recorded():
    # the recorder is undone: the grader, in this same process, must run the real check
    module = importlib.import_module("grader.checks.ch4_backprop")
    _drawn_outside_profiles("grader.checks.ch4_backprop", "check_linear_backward_larger_layers")
    body = module.check_linear_backward_larger_layers.hypothesis.inner_test
    assert body.__name__ == "check_linear_backward_larger_layers"


def _runs_when_larger_inputs_fail(module: str, name: str) -> list[bool]:
    """Each run of a ch4 linear-layer check's body, True where it failed, when it fails on
    every input x of 4 entries or more: the examples until the first failure, then one
    run per shrinking attempt, then one more to report the example it settled on."""
    runs = []

    def failing(case, **fixtures):
        runs.append(case[0].numel() >= 4)
        if runs[-1]:
            raise AssertionError("wrong on larger inputs")

    with pytest.raises(AssertionError, match="wrong on larger inputs"):
        _run(module, name, failing)
    return runs


def test_a_hidden_check_reports_its_first_failing_example_and_a_public_one_shrinks_it():
    # a hidden check shows no input, so shrinking its example would only cost time: it
    # stops at the first failure (and runs it once more to report it); its points come
    # from that example either way (`grader.checks.first_failure`). A public check shows
    # the input, so it shrinks it to the smallest it can find.
    hidden = _runs_when_larger_inputs_fail("grader.checks.ch4_backprop", "check_linear_backward_larger_layers")
    public = _runs_when_larger_inputs_fail("grader.checks.ch4_backprop", "check_linear_backward_matches_autograd")
    assert len(hidden) == hidden.index(True) + 2, hidden
    assert len(public) > public.index(True) + 2, public
