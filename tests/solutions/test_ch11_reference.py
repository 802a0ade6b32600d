"""The chapter 11 reference (`solutions/ch11_clip.py`) against PyTorch and scikit-learn
built-ins; the stubs; and a sanity check of the chapter's mutants (each differs from
the reference somewhere) and variants (each agrees)."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import top_k_accuracy_score
from sklearn.metrics.pairwise import cosine_similarity

import solutions.ch11_clip as ref
import tests.mutants.ch11_mutants  # noqa: F401  (registers the chapter's cases)
from tests.mutants import CASES

DTYPES = [torch.float32, torch.float64]


def _r(*shape, seed, dtype=torch.float64, scale=1.0):
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _tol(dtype: torch.dtype) -> dict:
    return (
        {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-12}
    )


# ------------------------------------------------------------------------- clip_loss


def _open_clip_loss(image_emb, text_emb, logit_scale):
    """The formulation of open_clip's ClipLoss, with F.normalize and F.cross_entropy."""
    img, txt = F.normalize(image_emb, dim=-1), F.normalize(text_emb, dim=-1)
    logits_per_image = logit_scale * img @ txt.T
    labels = torch.arange(img.shape[0])
    return (
        F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_image.T, labels)
    ) / 2


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("logit_scale", [1.0, 14.3, 100.0])
def test_clip_loss_against_cross_entropy(dtype, logit_scale):
    img, txt = _r(7, 5, seed=1, dtype=dtype, scale=3.0), _r(7, 5, seed=2, dtype=dtype)
    copies = img.clone(), txt.clone()
    out = ref.clip_loss(img, txt, logit_scale)
    assert out.shape == () and out.dtype == dtype
    torch.testing.assert_close(out, _open_clip_loss(img, txt, logit_scale), **_tol(dtype))
    assert torch.equal(img, copies[0]) and torch.equal(txt, copies[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_loss_stable_and_tensor_scale(dtype):
    img, txt = _r(5, 4, seed=3, dtype=dtype), _r(5, 4, seed=4, dtype=dtype)
    scale = torch.tensor(1e4, dtype=dtype)  # exp(1e4) overflows in any dtype
    out = ref.clip_loss(img, txt, scale)
    assert torch.isfinite(out)
    torch.testing.assert_close(out, _open_clip_loss(img, txt, scale), **_tol(dtype))
    assert ref.clip_loss(torch.eye(2), torch.eye(2), 1.0).item() == pytest.approx(
        np.log(np.e + 1) - 1, abs=1e-6
    )


# ---------------------------------------------------------------- zero_shot_classify


@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_shot_classify_against_cosine_similarity(dtype):
    img, classes = _r(6, 8, seed=5, dtype=dtype, scale=2.0), _r(4, 8, seed=6, dtype=dtype)
    for scale in (100.0, 1.0):
        probs, preds = ref.zero_shot_classify(img, classes, scale)
        cos = F.cosine_similarity(img[:, None, :], classes[None, :, :], dim=-1)
        expected = F.softmax(scale * cos, dim=-1)
        assert probs.dtype == dtype and probs.shape == (6, 4)
        assert preds.dtype == torch.int64 and preds.shape == (6,)
        torch.testing.assert_close(probs, expected, **_tol(dtype))
        assert torch.equal(preds, expected.argmax(dim=-1))
    probs, preds = ref.zero_shot_classify(
        torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0], [3.0, 0.0]]), 1.0
    )
    torch.testing.assert_close(probs, torch.softmax(torch.tensor([[0.0, 1.0]]), dim=-1))
    assert preds.tolist() == [1]


def test_zero_shot_classify_default_scale_is_100():
    img, classes = _r(3, 4, seed=7), _r(5, 4, seed=8)
    torch.testing.assert_close(
        ref.zero_shot_classify(img, classes)[0], ref.zero_shot_classify(img, classes, 100.0)[0]
    )


# ------------------------------------------------------------- retrieval_recall_at_k


@pytest.mark.parametrize("dtype", DTYPES)
def test_recall_at_k_against_sklearn_top_k_accuracy(dtype):
    img = _r(40, 6, seed=9, dtype=dtype)
    txt = img + _r(40, 6, seed=10, dtype=dtype, scale=1.2)  # noisy matches, no ties
    scores = cosine_similarity(img.numpy(), txt.numpy())
    labels = np.arange(40)
    for k in (1, 2, 5, 10):
        out = ref.retrieval_recall_at_k(img, txt, k)
        assert out.shape == () and out.dtype == dtype
        expected = top_k_accuracy_score(labels, scores, k=k, labels=labels)
        assert out.item() == pytest.approx(expected, abs=1e-6)
    assert ref.retrieval_recall_at_k(img, txt, 40).item() == 1.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_recall_at_k_with_more_texts_than_images(dtype):
    # text_emb (M, d) with M >= N: text i matches image i, the other M - N texts are rivals
    img = _r(30, 6, seed=11, dtype=dtype)
    txt = torch.cat([img + _r(30, 6, seed=12, dtype=dtype, scale=1.2), _r(20, 6, seed=13, dtype=dtype)])
    scores = cosine_similarity(img.numpy(), txt.numpy())
    for k in (1, 2, 5):
        expected = top_k_accuracy_score(np.arange(30), scores, k=k, labels=np.arange(50))
        assert ref.retrieval_recall_at_k(img, txt, k).item() == pytest.approx(expected, abs=1e-6)
        assert ref.retrieval_recall_at_k(img, txt, k) <= ref.retrieval_recall_at_k(img, txt[:30], k)


def test_recall_at_k_ties_count_against_the_image():
    img = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    # text 1 is a rescaled copy of text 0: image 0 sees a tie with its match
    txt = torch.tensor([[2.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    # image 0: text 1 ties with its match -> 1 rival; image 1: cos with its match is 0,
    # text 0 ties (0) and text 2 beats it (0.707) -> 2 rivals; image 2: 0 rivals.
    assert ref.retrieval_recall_at_k(img, txt, 1).item() == pytest.approx(1 / 3)
    assert ref.retrieval_recall_at_k(img, txt, 2).item() == pytest.approx(2 / 3)
    assert ref.retrieval_recall_at_k(img, txt, 3).item() == pytest.approx(1.0)
    i2, t2 = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[1.0, 0.1], [1.0, 0.0]])
    assert ref.retrieval_recall_at_k(i2, t2, 1).item() == 0.0
    assert ref.retrieval_recall_at_k(i2, t2, 2).item() == 1.0


# ---------------------------------------------------------------------------- stubs


# -------------------------------------------------------------- mutants and variants


def _as_submission(case) -> object:
    """The reference module with the case appended under the exercise's name."""
    namespace: dict = {"__name__": "submission"}
    exec(
        compile(
            Path(inspect.getfile(ref)).read_text() + "\n\n" + case.source(), "submission", "exec"
        ),
        namespace,
    )
    return namespace[case.exercise.split(".", 1)[1]]


def _inputs() -> dict[str, list[tuple]]:
    """Inputs on which every mutant must differ somewhere and every variant agree."""
    img, txt = _r(6, 4, seed=20, scale=3.0), _r(6, 4, seed=21)
    dup = img.clone()
    dup[1] = 2 * dup[0]  # image 0 sees a tie between its (perfect) match and text 1
    return {
        "clip_loss": [
            (img, txt, 10.0),
            (img.float(), txt.float(), 1e3),
            (img, img + 0.1 * txt, 2.0),
        ],
        "zero_shot_classify": [
            (img, _r(3, 4, seed=22, scale=5.0), 100.0),
            (img.float(), txt[:3].float(), 2.0),
        ],
        "retrieval_recall_at_k": [
            (img, txt, 1),
            (img, txt, 2),
            (img, dup, 1),
            (img, img + txt, 3),
            (_r(5, 3, seed=23), _r(5, 3, seed=24, scale=4.0), 2),
            # M > N texts (the docstring's M >= N): near-copies of the images as matches, and
            # extra texts that point the way of images 0 and 1, so they outrank those matches
            (img, torch.cat([img + 0.1 * txt, 2 * img[:2], _r(2, 4, seed=25)]), 1),
        ],
    }


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return False
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.dtype.is_floating_point:
            return bool(torch.isclose(a, b, rtol=1e-5, atol=1e-7, equal_nan=True).all())
        return torch.equal(a, b)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _outcome(func, args) -> object:
    try:
        return func(*args)
    except Exception as exc:  # a crashing mutant differs from the reference
        return exc


CH11_CASES = [c for c in CASES if c.exercise.startswith("ch11.")]


@pytest.mark.parametrize("case", CH11_CASES, ids=lambda c: c.slug)
def test_mutant_differs_and_variant_agrees(case):
    name = case.exercise.split(".", 1)[1]
    func = _as_submission(case)
    reference = getattr(ref, name)
    agree = [_same(_outcome(func, args), reference(*args)) for args in _inputs()[name]]
    if case.correct:
        assert all(agree), f"variant {case.slug} disagrees on inputs {agree.index(False)}"
    else:
        assert not all(agree), f"mutant {case.slug} agrees with the reference on every input"
