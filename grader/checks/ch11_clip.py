"""Checks for chapter 11: the CLIP loss, zero-shot classification, retrieval recall@k.

Expected values come from PyTorch built-ins (F.normalize, F.cross_entropy, softmax) in
float64 computed by `solutions/mistakes/ch11_clip.py` through `ref`, or from the reference.
Known mistakes are not written here: each is student code registered in that module, and
`expect_close` names the one a wrong answer matches (a non-finite loss excepted: the
stability rule names it). Ties are built from "dyadic" embeddings (entries 0, +-1/2, +-1,
times powers of two) whose cosine similarities are exact in any dtype and any order of
summation, so a tie is a tie for every correct solution; random embeddings stay away
from near-ties, whose order float32 rounding may decide.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st

from grader.checks import exercise
from grader.compare import CheckFailure, expect, expect_close, expect_stable
from grader.strategies import float_dtypes, generator, seeds, sizes, tensors

SCALES = (1.0, 2.5, 14.3, 100.0)


def _cosines(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T


@st.composite
def pairs(draw, max_n: int = 6, max_d: int = 5, min_n: int = 1):
    """(image_emb (N, d), text_emb (N, d)), standard normal with rows of varied norms."""
    dtype = draw(float_dtypes())
    n, d = draw(sizes(min_n, max_n)), draw(sizes(2, max_d))
    img = draw(tensors((n, d), dtype, scale=draw(st.sampled_from([0.5, 1.0, 3.0]))))
    txt = draw(tensors((n, d), dtype))
    return img, txt


@st.composite
def dyadic(draw, rows: int, d: int = 4, scaled: bool = True):
    """(rows, d) embeddings whose cosine similarities are exact: each row has one entry
    +-1 or all d = 4 entries +-1/2 (unit norm), times a power of two when `scaled`."""
    g = generator(draw(seeds()))
    out = torch.zeros(rows, d, dtype=torch.float64)
    for r in range(rows):
        if torch.rand((), generator=g) < 0.4:
            out[r, int(torch.randint(d, (), generator=g))] = 1.0 if torch.rand((), generator=g) < 0.7 else -1.0
        else:
            out[r] = (torch.randint(0, 2, (d,), generator=g) * 2 - 1).double() / 2
        if scaled:
            out[r] *= 2.0 ** int(torch.randint(-2, 4, (), generator=g))
    return out


# --- clip_loss -----------------------------------------------------------------------


# float32 cosines carry rounding of ~1e-7 that logit_scale multiplies
def _clip_tolerance(dtype, scale):
    return {"atol": 2e-5 * max(1.0, scale / 10)} if dtype == torch.float32 else {}


def _expect_loss(got, expected, *, name="loss", **options):
    """expect_close for a loss, whose true value is finite here. A loss that is inf or NaN
    is named by the general rule (`mistake.nonfinite`; the stability checks name its
    cause), never after a known mistake that is non-finite on the same inputs too
    (exp(logit_scale) overflows float32 at logit_scale = 100, as does an unshifted exp):
    a non-finite output names no mistake."""
    try:
        expect_close(got, expected, name=name, **options)
    except CheckFailure as failure:
        named = failure.key.split(".")[:3] == ["mistake", "ch11", "clip_loss"]  # after a known mistake
        if type(failure) is CheckFailure and named and _nonfinite(got, expected):
            raise CheckFailure("mistake.nonfinite", failure.params, failure.reveal) from None
        raise


def _nonfinite(got, expected) -> bool:
    """True for a tensor answer with inf or NaN where `expected` is finite."""
    if not isinstance(got, torch.Tensor) or not got.is_floating_point() or got.shape != expected.shape:
        return False
    return bool((~torch.isfinite(got) & torch.isfinite(expected)).any())


@exercise("ch11.clip_loss", points=2)
@given(case=pairs(), scale=st.sampled_from(SCALES))
def check_clip_loss_matches_cross_entropy_both_ways(student, ref, case, scale):
    img, txt = case
    _expect_loss(
        student.clip_loss(img, txt, scale),
        ref.clip_loss_by_cross_entropy(img, txt, scale),
        inputs=dict(image_emb=img, text_emb=txt, logit_scale=scale),
        **_clip_tolerance(img.dtype, scale),
    )


@exercise("ch11.clip_loss", points=1)
@given(case=pairs(min_n=2), scale=st.sampled_from(SCALES), seed=seeds())
def check_clip_loss_symmetric_and_invariant_to_embedding_norms(student, ref, case, scale, seed):
    img, txt = case
    tol = _clip_tolerance(img.dtype, scale)
    loss = student.clip_loss(img, txt, scale)
    _expect_loss(loss, ref.clip_loss_by_cross_entropy(img, txt, scale), inputs=dict(image_emb=img, text_emb=txt, logit_scale=scale), **tol)
    # swapping the two modalities transposes the logits: the symmetric loss is unchanged
    swapped = student.clip_loss(txt, img, scale)
    expect(
        bool(torch.allclose(swapped.double(), loss.double(), rtol=1e-4, atol=1e-5 * max(1.0, scale / 10))),
        "mistake.ch11.clip_loss.image_to_text_only",
        reveal=dict(inputs=f"clip_loss(text_emb, image_emb, {scale}) = {swapped.item():.6g}, clip_loss(image_emb, text_emb, {scale}) = {loss.item():.6g}"),
    )
    # rescaling each row by a positive factor changes no cosine, hence not the loss
    g = generator(seed)
    a = (torch.rand(img.shape[0], 1, generator=g, dtype=torch.float64) * 4 + 0.25).to(img.dtype)
    b = (torch.rand(txt.shape[0], 1, generator=g, dtype=torch.float64) * 4 + 0.25).to(img.dtype)
    _expect_loss(
        student.clip_loss(img * a, txt * b, scale),
        ref.clip_loss_by_cross_entropy(img * a, txt * b, scale),
        name="loss of rescaled embeddings",
        inputs=dict(image_emb=img * a, text_emb=txt * b, logit_scale=scale),
        **tol,
    )


@st.composite
def huge_scale_case(draw):
    """Nearly orthogonal float64 image rows (cast to each dtype by the check), N >= 2, two
    sets of texts and a logit_scale of 1000 or more, beyond exp()'s range in float32 and
    float64 alike. `aligned`, text i ~ image i: the diagonal logits are ~logit_scale, the
    others ~0, so only an unshifted exp overflows; `opposed`, text i ~ -image i: the
    diagonal is ~-logit_scale and the others ~0, so nothing overflows but log(softmax) of
    the match underflows to log(0), even after a max shift. Each mistake fails one of
    them, and only one."""
    n = draw(sizes(2, 5))
    d = n + draw(st.integers(0, 2))
    norms = draw(tensors((n, 1), torch.float64, low=0.5, high=3.0))
    img = (torch.eye(n, d, dtype=torch.float64) + 0.005 * draw(tensors((n, d), torch.float64))) * norms
    noise = 0.005 * draw(tensors((n, d), torch.float64)) * draw(tensors((n, 1), torch.float64, low=0.5, high=3.0))
    return img, img + noise, -img + noise, draw(st.sampled_from([1e3, 2e3]))


def _expect_clip_stable(student, ref, img, txt, scale, as_tensor):
    # logit_scale may also come as a 0-d tensor (CLIP keeps it as a parameter)
    expect_stable(
        lambda image_emb, text_emb, logit_scale: student.clip_loss(image_emb, text_emb, logit_scale if as_tensor else scale),
        lambda image_emb, text_emb, logit_scale: ref.clip_loss_by_cross_entropy(image_emb, text_emb, scale),
        dict(image_emb=img, text_emb=txt, logit_scale=torch.tensor(scale, dtype=torch.float64) if as_tensor else scale),
        name="loss",
        per_dtype=lambda image_emb, text_emb, logit_scale: dict(
            causes=ref.clip_loss_stability_causes(image_emb, text_emb, scale),
            **_clip_tolerance(image_emb.dtype, scale),
        ),
    )


@exercise("ch11.clip_loss", points=1)
@given(case=huge_scale_case(), as_tensor=st.booleans())
def check_clip_loss_finite_for_a_huge_logit_scale(student, ref, case, as_tensor):
    # the one stability rule: finite and right in float64 and float32; the aligned pairs
    # fail only an unshifted exp, the opposed ones only log(softmax) after a max shift
    img, aligned, opposed, scale = case
    _expect_clip_stable(student, ref, img, aligned, scale, as_tensor)
    _expect_clip_stable(student, ref, img, opposed, scale, as_tensor)


@exercise("ch11.clip_loss", points=0.5)
@given(case=pairs(min_n=2), scale=st.sampled_from([100.0, 1000.0]), as_tensor=st.booleans())
def check_clip_loss_stable_for_a_large_logit_scale(student, ref, case, scale, as_tensor):
    img, txt = case
    _expect_clip_stable(student, ref, img.double(), txt.double(), scale, as_tensor)


@exercise("ch11.clip_loss", points=0.5, hidden=True)
@given(case=pairs(max_n=32, max_d=16), scale=st.sampled_from(SCALES))
def check_clip_loss_larger_batches(student, ref, case, scale):
    img, txt = case
    _expect_loss(student.clip_loss(img, txt, scale), ref.clip_loss_by_cross_entropy(img, txt, scale), **_clip_tolerance(img.dtype, scale))


# --- zero_shot_classify ------------------------------------------------------------------


def _zero_shot_truth(ref, img, classes, scale, got):
    """(probs, preds) in float64 then the inputs' dtype; where classes tie (up to 1e-6 in
    cosine), the student's pred is accepted if it is one of the best, as the docstring
    says."""

    probs = ref.zero_shot_softmax_of_cosines(img, classes, scale)
    cos = _cosines(img.double(), classes.double())
    best = cos >= cos.amax(dim=-1, keepdim=True) - 1e-6  # (N, C): the classes as good as the best
    preds = cos.argmax(dim=-1)
    if isinstance(got, (tuple, list)) and len(got) == 2 and isinstance(got[1], torch.Tensor):
        p = got[1]
        if p.shape == preds.shape and p.dtype == torch.int64 and bool(((p >= 0) & (p < cos.shape[1])).all()):
            ok = best.gather(1, p.unsqueeze(1)).squeeze(1)
            preds = torch.where(ok, p, preds)
    return probs, preds


@st.composite
def zero_shot_case(draw, max_n=6, max_c=5, max_d=5):
    dtype = draw(float_dtypes())
    n, c, d = draw(sizes(1, max_n)), draw(sizes(2, max_c)), draw(sizes(2, max_d))
    img = draw(tensors((n, d), dtype, scale=2.0))
    classes = draw(tensors((c, d), dtype, scale=draw(st.sampled_from([0.5, 1.0, 3.0]))))
    return img, classes


@exercise("ch11.zero_shot_classify", points=1.5)
@given(case=zero_shot_case(), scale=st.sampled_from((None,) + SCALES))
def check_zero_shot_classify_matches_softmax_of_cosines(student, ref, case, scale):
    img, classes = case
    got = student.zero_shot_classify(img, classes) if scale is None else student.zero_shot_classify(img, classes, scale)
    scale = 100.0 if scale is None else scale
    expect_close(
        got,
        _zero_shot_truth(ref, img, classes, scale, got),
        name=("probs", "preds"),
        inputs=dict(image_emb=img, class_text_emb=classes, logit_scale=scale),
    )


@exercise("ch11.zero_shot_classify", points=1)
@given(data=st.data(), n=sizes(1, 5), c=sizes(2, 5), dtype=float_dtypes(), scale=st.sampled_from([1.0, 10.0]))
def check_zero_shot_classify_on_crafted_embeddings_with_ties(student, ref, data, n, c, dtype, scale):
    # exact cosines in {0, +-1/2, +-1}: several classes often tie for the best
    img = data.draw(dyadic(n)).to(dtype)
    classes = data.draw(dyadic(c)).to(dtype)
    got = student.zero_shot_classify(img, classes, scale)
    expect_close(
        got,
        _zero_shot_truth(ref, img, classes, scale, got),
        name=("probs", "preds"),
        inputs=dict(image_emb=img, class_text_emb=classes, logit_scale=scale),
    )


@exercise("ch11.zero_shot_classify", points=0.5, hidden=True)
@given(case=zero_shot_case(max_n=24, max_c=12, max_d=16), scale=st.sampled_from(SCALES))
def check_zero_shot_classify_larger_batches(student, ref, case, scale):
    img, classes = case
    got = student.zero_shot_classify(img, classes, scale)
    expect_close(got, _zero_shot_truth(ref, img, classes, scale, got), name=("probs", "preds"))


# --- retrieval_recall_at_k ---------------------------------------------------------------------


@st.composite
def separated_pairs(draw, max_n=7, max_d=5):
    """Random (N, d) image and text embeddings with no near-tie between a match and a
    rival (|s_ij - s_ii| > 1e-4), so float32 rounding cannot change a rank."""
    img, txt = draw(pairs(max_n=max_n, max_d=max_d))
    cos = _cosines(img.double(), txt.double())
    gap = (cos - cos.diagonal()[:, None]).abs() + torch.eye(cos.shape[0], dtype=cos.dtype)
    if bool((gap < 1e-4).any()):
        txt = txt + 0.5 * torch.eye(*txt.shape, dtype=txt.dtype)  # rare: move off the near-tie
        cos = _cosines(img.double(), txt.double())
        gap = (cos - cos.diagonal()[:, None]).abs() + torch.eye(cos.shape[0], dtype=cos.dtype)
        assume(not bool((gap < 1e-4).any()))
    return img, txt


@exercise("ch11.retrieval_recall_at_k", points=1.5)
@given(case=separated_pairs(), k=sizes(1, 4))
def check_retrieval_recall_matches_the_definition(student, ref, case, k):
    img, txt = case
    expect_close(
        student.retrieval_recall_at_k(img, txt, k),
        ref.recall_at_k_of_cosines(img, txt, k),
        name="recall",
        inputs=dict(image_emb=img, text_emb=txt, k=k),
    )


@exercise("ch11.retrieval_recall_at_k", points=1.5)
@given(data=st.data(), n=sizes(2, 7), k=sizes(1, 3), dtype=float_dtypes())
def check_retrieval_recall_counts_ties_against_the_image(student, ref, data, n, k, dtype):
    # unit-norm dyadic embeddings: exact cosines, many ties with the match
    img = data.draw(dyadic(n, scaled=False)).to(dtype)
    txt = data.draw(dyadic(n, scaled=False)).to(dtype)
    expect_close(
        student.retrieval_recall_at_k(img, txt, k),
        ref.recall_at_k_of_cosines(img, txt, k),
        name="recall",
        inputs=dict(image_emb=img, text_emb=txt, k=k),
    )


def _unit(x: torch.Tensor) -> torch.Tensor:
    """The unit-norm row of a dyadic embedding, exactly: a row with one nonzero entry
    has norm max|x|, a row with four has norm 2 max|x|."""
    top = x.abs().amax(dim=1, keepdim=True)
    one_hot = (x != 0).sum(dim=1, keepdim=True) == 1
    return x / torch.where(one_hot, top, 2 * top)


@exercise("ch11.retrieval_recall_at_k", points=0.5)
@given(data=st.data(), n=sizes(2, 7), k=sizes(1, 3), dtype=float_dtypes())
def check_retrieval_recall_invariant_to_embedding_norms(student, ref, data, n, k, dtype):
    # dyadic embeddings times powers of two: the cosines (and ties) stay exact
    img = data.draw(dyadic(n)).to(dtype)
    txt = data.draw(dyadic(n)).to(dtype)
    expected = ref.recall_at_k_of_cosines(img, txt, k)
    got = student.retrieval_recall_at_k(img, txt, k)
    expect_close(got, expected, name="recall", inputs=dict(image_emb=img, text_emb=txt, k=k))
    expect_close(student.retrieval_recall_at_k(_unit(img), _unit(txt), k), expected, name="recall of the unit-norm embeddings")


@st.composite
def more_texts_than_images(draw, max_n=6, max_extra=4):
    """(image_emb (N, d), text_emb (M, d)) with M > N, the docstring's M >= N: text i
    matches image i, the last M - N texts match no image. One of them points the way of
    an image (cosine 1), so it outranks that image's match; no near-tie anywhere."""
    img, txt = draw(separated_pairs(max_n=max_n))
    n, d = img.shape
    extra = draw(tensors((draw(sizes(1, max_extra)), d), img.dtype))
    extra[0] = 2.0 * img[draw(st.integers(0, n - 1))]
    txt = torch.cat([txt, extra])
    cos = _cosines(img.double(), txt.double())
    match = cos.diagonal()[:, None]
    gap = (cos - match).abs() + F.pad(torch.eye(n, dtype=cos.dtype), (0, txt.shape[0] - n))
    assume(not bool((gap < 1e-4).any()))
    return img, txt


@exercise("ch11.retrieval_recall_at_k", points=1)
@given(case=more_texts_than_images(), k=sizes(1, 3))
def check_retrieval_recall_with_more_texts_than_images(student, ref, case, k):
    img, txt = case
    try:
        expect_close(
            student.retrieval_recall_at_k(img, txt, k),
            ref.recall_at_k_of_cosines(img, txt, k),
            name="recall",
            inputs=dict(image_emb=img, text_emb=txt, k=k),
        )
    except CheckFailure as failure:
        # a named mistake keeps its message (a crash keeps its own too): otherwise the same
        # code handles M = N in the checks above, so the extra texts are the cause
        if type(failure) is not CheckFailure or failure.key.split(".")[:2] == ["mistake", "ch11"]:
            raise
        params = {"images": img.shape[0], "texts": txt.shape[0]}
        raise CheckFailure("mistake.ch11.retrieval_recall_at_k.more_texts", params, failure.reveal) from None


@exercise("ch11.retrieval_recall_at_k", points=0.5, hidden=True)
@given(case=separated_pairs(max_n=30, max_d=12), k=sizes(1, 40))
def check_retrieval_recall_larger_batches(student, ref, case, k):
    img, txt = case
    expect_close(student.retrieval_recall_at_k(img, txt, k), ref.recall_at_k_of_cosines(img, txt, k), name="recall")
