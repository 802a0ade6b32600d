"""`grader.compare.expect_close` on exact outputs: token ids, text, integer tensors,
filtered logits with -inf entries, several valid answers (`AnyOf`) and a check's own
rule for a wrong value (`otherwise=`)."""

from __future__ import annotations

import pytest
import torch

from grader import calls
from grader.compare import AnyOf, CheckFailure, Known, expect_close

INF = float("-inf")
FILTERED = torch.tensor([[2.0, INF, 1.0], [INF, 0.5, INF]], dtype=torch.float64)


@pytest.fixture(autouse=True)
def no_student_calls():
    calls.start()  # answers here come from no student call: no registered mistake applies


def failure_of(got, expected, **options) -> CheckFailure:
    with pytest.raises(CheckFailure) as failure:
        expect_close(got, expected, **options)
    return failure.value


# --- plain values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [[(97, 97), (256, 98)], [104, 256, 33], "héllo 🙂", "", [], 3],
)
def test_equal_plain_values_pass(value):
    expect_close(value, value, name="out")


def test_a_list_may_stand_for_a_tuple():
    expect_close([[97, 97], [256, 98]], [(97, 97), (256, 98)], name="merges")


def test_a_wrong_id_is_a_wrong_value_and_reveals_the_whole_answer():
    failure = failure_of([(97, 97), (255, 98)], [(97, 97), (256, 98)], name="merges")
    assert failure.key == "compare.value"
    assert failure.params["name"] == "merges[1][0]"
    assert failure.reveal["expected"] == "[(97, 97), (256, 98)]"
    assert failure.reveal["got"] == "[(97, 97), (255, 98)]"


def test_a_missing_item_is_a_length_failure():
    failure = failure_of([104, 105], [104, 105, 33], name="ids")
    assert failure.key == "compare.length"
    assert failure.reveal["got"] == "[104, 105]"


def test_text_of_another_type_is_a_type_failure():
    assert failure_of(b"hi", "hi", name="text").key == "compare.type"


def test_a_known_mistake_of_plain_data_is_named():
    failure = failure_of("h\ufffd", "hé", name="text", mistakes={"mistake.ch9.bpe_decode.errors_ignored": "h", "mistake.ch9.bpe_decode.decode_each_token": "h\ufffd"})
    assert failure.key == "mistake.ch9.bpe_decode.decode_each_token"


# --- integer tensors -------------------------------------------------------------------


def test_integer_tensors_compare_exactly():
    expected = torch.tensor([3, 0, 2])
    expect_close(expected.clone(), expected, name="token")
    failure = failure_of(torch.tensor([3, 1, 2]), expected, name="token")
    assert failure.key == "compare.mismatch_exact"
    assert failure.params["index"] == (1,)
    assert failure.params["count"] == 1


def test_an_integer_dtype_of_another_width_is_a_dtype_failure():
    assert failure_of(torch.tensor([3, 0], dtype=torch.int32), torch.tensor([3, 0]), name="token").key == "compare.dtype"


def test_a_zero_dim_answer_expected_is_a_shape_failure():
    assert failure_of(torch.tensor([2]), torch.tensor(2), name="token").key != "compare.mismatch_exact"


# --- filtered logits (-inf entries) ----------------------------------------------------


def test_filtered_logits_with_the_same_infinities_pass():
    expect_close(FILTERED.clone(), FILTERED, name="filtered")


@pytest.mark.parametrize(
    "got",
    [
        torch.tensor([[2.0, 0.0, 1.0], [INF, 0.5, INF]], dtype=torch.float64),  # 0 instead of -inf
        torch.tensor([[2.0, INF, INF], [INF, 0.5, INF]], dtype=torch.float64),  # a kept token dropped
    ],
)
def test_a_wrong_kept_set_gets_the_checks_own_rule(got):
    failure = failure_of(got, FILTERED, name="filtered", otherwise="mistake.ch9.filter_kept_set")
    assert failure.key == "mistake.ch9.filter_kept_set"
    assert failure.params["count"] == 1 and failure.params["total"] == 6
    index, expected, shown = failure.reveal["at"]  # (index, expected, got) texts, worded by the catalogue
    assert index == str(failure.params["index"])


def test_a_known_mistake_comes_before_the_checks_own_rule():
    zeros = FILTERED.masked_fill(FILTERED == INF, 0.0)
    failure = failure_of(zeros, FILTERED, name="filtered", mistakes={"mistake.ch9.top_k_filter.zero_instead_of_inf": zeros}, otherwise="mistake.ch9.filter_kept_set")
    assert failure.key == "mistake.ch9.top_k_filter.zero_instead_of_inf"


def test_without_otherwise_the_generic_diagnosis_stays():
    got = FILTERED.masked_fill(FILTERED == INF, 0.0)
    assert failure_of(got, FILTERED, name="filtered").key != "mistake.ch9.filter_kept_set"


def test_otherwise_applies_to_exact_values_and_not_to_structure():
    rule = "mistake.ch9.sample_token.no_greedy_case"
    assert failure_of(torch.tensor([0, 0]), torch.tensor([1, 0]), name="token", otherwise=rule).key == rule
    assert failure_of("ab", "ba", name="text", otherwise=rule).key == rule
    assert failure_of(torch.tensor([0]), torch.tensor(1), name="token", otherwise=rule).key != rule


# --- several valid answers -------------------------------------------------------------


def test_any_of_several_valid_answers_passes():
    answers = AnyOf(torch.tensor([1.0, 2.0]), torch.tensor([-1.0, -2.0]))
    expect_close(torch.tensor([1.0, 2.0]), answers, name="v")
    expect_close(torch.tensor([-1.0, -2.0]), answers, name="v")
    expect_close([(98, 99)], AnyOf([(97, 98)], [(98, 99)]), name="merges")


def test_a_wrong_answer_is_judged_against_the_first_valid_one():
    failure = failure_of(torch.tensor([1.0, 3.0]), AnyOf(torch.tensor([1.0, 2.0]), torch.tensor([-1.0, -2.0])), name="v")
    assert failure.params["index"] == (1,)
    assert failure.reveal["at"][1:] == ("2", "3")


def test_any_of_keeps_the_known_mistakes():
    half = torch.tensor([0.5, 1.0])
    failure = failure_of(half, AnyOf(torch.tensor([1.0, 2.0]), torch.tensor([-1.0, -2.0])), name="v", mistakes={"mistake.ch2.mse_loss.factor": Known(half, factor=0.5)})
    assert failure.key == "mistake.ch2.mse_loss.factor"


def test_any_of_needs_an_answer():
    with pytest.raises(ValueError):
        AnyOf()
