"""`grader.compare.expect_close`: what a wrong answer is called, and what it earns."""

from __future__ import annotations

import pytest
import torch

from grader import calls
from grader.compare import CheckFailure, Known, PartialCredit, expect_close, expect_stable

A = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
B = torch.tensor([[1.0, -1.0], [0.5, 2.0]], dtype=torch.float64)


@pytest.fixture(autouse=True)
def no_student_calls():
    calls.start()  # answers here come from no student call: no registered mistake applies


def test_a_right_answer_passes():
    expect_close((A.clone(), {"W": B.clone()}), (A, {"W": B}), name=("a", "grads"))


@pytest.mark.parametrize(
    "got, fraction",
    [
        ((A, B, -A), 2 / 3),
        ((A, -B, -A), 1 / 3),
    ],
)
def test_some_items_right_earn_their_share(got, fraction):
    with pytest.raises(PartialCredit) as failure:
        expect_close(got, (A, B, A), name=("x", "y", "z"))
    assert failure.value.fraction == pytest.approx(fraction)
    # the diagnosis is the first wrong item's
    assert failure.value.params["name"] == ("z" if fraction > 0.5 else "y")


def test_an_item_is_right_only_when_all_its_leaves_are():
    with pytest.raises(PartialCredit) as failure:
        expect_close((A, {"W": B, "b": -A}), (A, {"W": B, "b": A}), name=("loss", "grads"))
    assert failure.value.fraction == pytest.approx(0.5)


def test_all_items_wrong_earn_nothing():
    with pytest.raises(CheckFailure) as failure:
        expect_close((-A, -B), (A, B), name=("x", "y"))
    assert type(failure.value) is CheckFailure


def test_a_wrong_shape_earns_nothing_even_with_other_items_right():
    with pytest.raises(CheckFailure) as failure:
        expect_close((A, B.T.contiguous()[:, :1], -A), (A, B, A), name=("x", "y", "z"))
    assert type(failure.value) is CheckFailure


def test_a_single_output_is_all_or_nothing():
    with pytest.raises(CheckFailure) as failure:
        expect_close((A, -A), (A, A), name="pair")
    assert type(failure.value) is CheckFailure


def test_a_named_mistake_of_the_check_is_recognised_in_partial_credit():
    with pytest.raises(PartialCredit) as failure:
        expect_close((A, 2 * B), (A, B), name=("x", "y"), mistakes={"mistake.test.double": (None, 2 * B)})
    assert failure.value.key == "mistake.test.double" and failure.value.fraction == pytest.approx(0.5)


def test_known_forms_and_a_lazy_table():
    table_calls = []

    def table():
        table_calls.append(1)
        return {"mistake.test.half": [Known(A * 3), Known(A / 2)]}

    expect_close(A.clone(), A, mistakes=table)
    assert not table_calls  # computed only on failure
    with pytest.raises(CheckFailure) as failure:
        expect_close(A / 2, A, mistakes=table)
    assert failure.value.key == "mistake.test.half"
    assert len(table_calls) == 1


def test_a_stability_failure_keeps_the_points_of_the_right_items():
    def student(z):
        return torch.log(torch.softmax(z, 0))[0], torch.softmax(z, 0)

    def truth(z):
        return torch.log_softmax(z, 0)[0], torch.softmax(z, 0)

    with pytest.raises(PartialCredit) as failure:
        expect_stable(student, truth, dict(z=torch.tensor([-1e4, 0.0, 1e4])), name=("loss", "probs"))
    assert failure.value.key == "mistake.stability.log_of_underflow" and failure.value.fraction == pytest.approx(0.5)
