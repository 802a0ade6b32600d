"""Checks for chapter 8: embedding gradients, masks, attention, positional encodings, the
pre-LayerNorm encoder layer and the InfoNCE (NT-Xent) loss.

Expected values come from PyTorch itself (autograd of F.embedding,
F.scaled_dot_product_attention, nn.MultiheadAttention, nn.TransformerEncoderLayer,
F.cross_entropy over the 2N x 2N similarity matrix) in float64, or from the reference
where PyTorch's modules give NaN (query rows with every key masked). Known mistakes are
not written here: each is student code registered in `solutions/mistakes/ch8_transformers.py`,
and `expect_close` names the one a wrong answer matches (`grader.known`). One form stays a
table, through `ref`: masking by adding -1e4, the second form of attention's
`fully_masked_uniform`, whose first form (masked_fill with -1e9) is the registered one.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from grader.checks import exercise
from grader.compare import CheckFailure, expect_close, expect_stable, fail
from grader.diagnose import show
from grader.precision import close, tolerance, truth, vjp
from grader.strategies import float_dtypes, generator, seeds, sizes, tensors

NEG_INF = float("-inf")
GENERIC_VALUE_KEYS = ("compare.mismatch", "compare.mismatch_some")


@contextmanager
def renamed(keys: dict[str, str]):
    """Re-raise a generic failure (`mistake.nonfinite`...) under this exercise's own key,
    keeping what it reveals, where the exercise knows the likely cause better."""
    try:
        yield
    except CheckFailure as failure:
        if failure.key in keys and type(failure) is CheckFailure:
            raise CheckFailure(keys[failure.key], failure.params, failure.reveal) from None
        raise


def _is_like(got: object, expected: torch.Tensor) -> bool:
    return isinstance(got, torch.Tensor) and got.shape == expected.shape


# --- embedding_backward ------------------------------------------------------------------------


@st.composite
def embedding_case(draw, max_n=3, max_t=5, max_e=4, max_v=6):
    dtype = draw(float_dtypes())
    n, t, e = draw(sizes(1, max_n)), draw(sizes(1, max_t)), draw(sizes(1, max_e))
    used = draw(sizes(1, max_v))  # tokens drawn from [0, used)
    idx = torch.randint(0, used, (n, t), generator=generator(draw(seeds())))
    if idx.numel() >= 2 and draw(st.booleans()):
        idx.view(-1)[-1] = idx.view(-1)[0]  # make sure some token repeats
    vocab = int(idx.max()) + 1 + draw(st.integers(0, 2))  # some rows may never be used
    dout = draw(tensors((n, t, e), dtype))
    return dout, idx, vocab


def _embedding_autograd(dout, idx, vocab):
    def run(dout):
        W = torch.zeros(vocab, dout.shape[-1], dtype=dout.dtype, requires_grad=True)
        with torch.enable_grad():
            (grad,) = vjp(F.embedding(idx, W), W, dout)
        return grad

    return truth(run, dout)


def _expect_embedding(ref, got, dout, idx, vocab, inputs):
    expected = _embedding_autograd(dout, idx, vocab)
    try:
        expect_close(got, expected, name="dW", inputs=inputs, batch=idx.numel())
    except CheckFailure as failure:
        # wrong only on rows of repeated tokens: an overwrite of some kind (scatter_, a loop
        # that assigns), whichever occurrence survived
        if failure.key in GENERIC_VALUE_KEYS and _is_like(got, expected) and got.dtype == expected.dtype:
            rtol, atol = tolerance(expected.dtype)
            bad_rows = (~close(got, expected, rtol, atol)).any(dim=1)
            repeated = torch.bincount(idx.reshape(-1), minlength=vocab) > 1
            if bad_rows.any() and not (bad_rows & ~repeated).any():
                raise CheckFailure("mistake.ch8.embedding_backward.assign_overwrites", failure.params, failure.reveal) from None
        raise


@exercise("ch8.embedding_backward", points=2)
@given(case=embedding_case())
def check_embedding_backward_matches_autograd(student, ref, case):
    dout, idx, vocab = case
    _expect_embedding(ref, student.embedding_backward(dout, idx, vocab), dout, idx, vocab, dict(dout=dout, idx=idx, vocab_size=vocab))


@exercise("ch8.embedding_backward", points=1)
@given(dtype=float_dtypes(), n=sizes(1, 3), t=sizes(2, 5), e=sizes(1, 3), token=st.integers(0, 3), extra=st.integers(0, 2), seed=seeds())
def check_embedding_backward_repeated_token_adds_up(student, ref, dtype, n, t, e, token, extra, seed):
    # every position reads the same row: that row gets the sum of all of dout, the rest 0
    idx = torch.full((n, t), token, dtype=torch.int64)
    dout = torch.randn(n, t, e, generator=generator(seed), dtype=torch.float64).to(dtype)
    vocab = token + 1 + extra
    _expect_embedding(ref, student.embedding_backward(dout, idx, vocab), dout, idx, vocab, dict(dout=dout, idx=idx, vocab_size=vocab))


@exercise("ch8.embedding_backward", points=1, hidden=True)
@given(case=embedding_case(max_n=6, max_t=12, max_e=8, max_v=20))
def check_embedding_backward_larger_vocabularies(student, ref, case):
    dout, idx, vocab = case
    _expect_embedding(ref, student.embedding_backward(dout, idx, vocab), dout, idx, vocab, None)


# --- causal_mask --------------------------------------------------------------------------------


def _expect_mask(got, T, inputs):
    """Masks are compared exactly; the known wrong patterns are named first (exact outputs
    do not go through expect_close's `mistakes`)."""
    expected = torch.ones(T, T, dtype=torch.bool).tril()
    known = {
        "mistake.ch8.causal_mask.upper_triangle": torch.ones(T, T, dtype=torch.bool).triu(),
        "mistake.ch8.causal_mask.strict_lower": torch.ones(T, T, dtype=torch.bool).tril(-1),
    }
    reveal = {} if inputs is None else {"inputs": show(inputs), "expected": show(expected), "got": show(got)}
    if _is_like(got, expected):
        if got.dtype != torch.bool and bool(((got != 0) == expected).all()):
            fail("mistake.ch8.causal_mask.float_mask", reveal)
        if got.dtype == torch.bool and not torch.equal(got, expected):
            for key, pattern in known.items():
                if torch.equal(got, pattern):
                    fail(key, reveal)
    expect_close(got, expected, name="mask", inputs=inputs)


@exercise("ch8.causal_mask", points=1)
@given(T=sizes(1, 8))
def check_causal_mask_is_lower_triangular(student, ref, device, T):
    _expect_mask(student.causal_mask(T, device), T, dict(T=T, device=device))


@exercise("ch8.causal_mask", points=1)
@given(T=st.sampled_from([1, 2, 16, 33, 64]))
def check_causal_mask_large_and_by_keyword(student, ref, device, T):
    _expect_mask(student.causal_mask(T, device=device), T, dict(T=T, device=device))
    if device == "cpu":  # the default device is the CPU
        _expect_mask(student.causal_mask(T), T, dict(T=T))


# --- scaled_dot_product_attention --------------------------------------------------------------


BATCH_SHAPES = [(), (2,), (3,), (2, 3), (1, 2)]


@st.composite
def attention_case(draw, max_t=5, max_d=4, batches=BATCH_SHAPES, scale=1.5):
    dtype = draw(float_dtypes())
    batch = draw(st.sampled_from(batches))
    tq, tk, d, dv = draw(sizes(1, max_t)), draw(sizes(1, max_t)), draw(sizes(1, max_d)), draw(sizes(1, max_d))
    q = draw(tensors(batch + (tq, d), dtype, scale=scale))
    k = draw(tensors(batch + (tk, d), dtype, scale=scale))
    v = draw(tensors(batch + (tk, dv), dtype))
    return q, k, v


@st.composite
def attention_masks(draw, batch, tq, tk, full_rows=False):
    """A bool mask broadcastable to batch + (tq, tk), True = allowed: causal, key padding
    (broadcast over heads and queries) or random; every query row keeps at least one key
    unless `full_rows`, which then blocks a few rows completely."""
    kind = draw(st.sampled_from(["causal", "padding", "random", "random_batched"]))
    g = generator(draw(seeds()))
    if kind == "causal":
        mask = torch.ones(tq, tk, dtype=torch.bool).tril(max(0, tk - tq))
    elif kind == "padding":
        lengths = torch.randint(1, tk + 1, batch[:1] or (1,), generator=g)
        mask = (torch.arange(tk) < lengths.unsqueeze(-1)).reshape(batch[:1] + (1,) * max(0, len(batch) - 1) + (1, tk))
        if not batch:
            mask = mask.reshape(1, tk)
    else:
        shape = (batch + (tq, tk)) if kind == "random_batched" else (tq, tk)
        mask = torch.rand(shape, generator=g) < 0.6
        keep = torch.randint(0, tk, shape[:-1] + (1,), generator=g)
        mask.scatter_(-1, keep, True)
    if full_rows:
        mask = mask.expand(batch + (tq, tk)).clone()
        rows = mask.view(-1, tk)
        blocked = torch.rand(rows.shape[0], generator=g) < 0.4
        blocked[int(torch.randint(0, rows.shape[0], (1,), generator=g))] = True
        rows[blocked] = False
    return mask


def _sdpa_truth(ref, q, k, v, mask=None):
    """(out, weights) in float64: out from F.scaled_dot_product_attention, weights from
    the mistakes module's softmax; rows with no allowed key are zero by the contract."""

    def run(q, k, v):
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        _, weights = ref.attention_by_softmax(q, k, v, mask)
        if mask is not None:
            allowed = mask.expand(weights.shape).any(-1, keepdim=True)
            out = torch.where(allowed, out, torch.zeros_like(out))
        return out, weights

    return truth(run, q, k, v)


def _expect_sdpa(ref, got, q, k, v, mask, public=True, name=("out", "weights")):
    expected = _sdpa_truth(ref, q, k, v, mask)
    try:
        expect_close(
            got,
            expected,
            name=name,
            inputs=dict(q=q, k=k, v=v, mask=mask) if public else None,
            # masking by adding -1e4: the form of fully_masked_uniform not registered
            mistakes=ref.scaled_dot_product_attention_additive_fill(q, k, v, mask),
        )
    except CheckFailure as failure:
        # no known mistake, but masked keys of rows that allow some key carry weight: the
        # mask was applied as a finite negative constant (-1e4, -1e9) that a large score
        # outweighs, instead of excluding the key
        if failure.key in GENERIC_VALUE_KEYS and mask is not None and isinstance(got, (tuple, list)) and len(got) == 2 and _is_like(got[1], expected[1]):
            hidden = ~mask.expand(expected[1].shape)
            leaked = hidden & ~hidden.all(dim=-1, keepdim=True) & (got[1].double().abs() > 1e-6)
            if bool(leaked.any()):
                raise CheckFailure("mistake.ch8.scaled_dot_product_attention.finite_mask_fill", failure.params, failure.reveal) from None
        raise


@exercise("ch8.scaled_dot_product_attention", points=1)
@given(case=attention_case())
def check_sdpa_matches_pytorch_without_mask(student, ref, case):
    q, k, v = case
    _expect_sdpa(ref, student.scaled_dot_product_attention(q, k, v), q, k, v, None)


@exercise("ch8.scaled_dot_product_attention", points=1)
@given(case=attention_case(), data=st.data())
def check_sdpa_with_causal_padding_and_random_masks(student, ref, case, data):
    q, k, v = case
    mask = data.draw(attention_masks(q.shape[:-2], q.shape[-2], k.shape[-2]))
    _expect_sdpa(ref, student.scaled_dot_product_attention(q, k, v, mask), q, k, v, mask)


def _with_a_partial_row(mask: torch.Tensor) -> torch.Tensor:
    """The mask with at least one row that hides some keys and allows others (Tk >= 2), so
    that an inverted mask and a masked_fill with a large negative constant differ."""
    rows = mask.clone().view(-1, mask.shape[-1])
    if bool((rows.any(-1) & ~rows.all(-1)).any()):
        return mask
    # every row is fully allowed or fully masked: hide all keys but the first of a fully
    # allowed row (or, if there is none, allow the first key of one of several masked rows)
    allowed = rows.all(-1).nonzero().flatten().tolist()
    if allowed or rows.shape[0] > 1:
        i = allowed[0] if allowed else 0
        rows[i] = False
        rows[i, 0] = True
    return rows.view(mask.shape)


@exercise("ch8.scaled_dot_product_attention", points=1)
@given(case=attention_case(), data=st.data())
def check_sdpa_fully_masked_rows_are_zero(student, ref, case, data):
    q, k, v = case
    # two keys and two queries at least, so some row can be partly masked
    if k.shape[-2] == 1:
        k, v = torch.cat([k, -k], dim=-2), torch.cat([v, 1 - 2 * v], dim=-2)
    if q.shape[-2] == 1:
        q = torch.cat([q, -q], dim=-2)
    mask = _with_a_partial_row(data.draw(attention_masks(q.shape[:-2], q.shape[-2], k.shape[-2], full_rows=True)))
    _expect_sdpa(ref, student.scaled_dot_product_attention(q, k, v, mask), q, k, v, mask)


@st.composite
def large_score_case(draw):
    """Scores of magnitude up to ~1e5 whose distinct values in a row are at least 25 apart
    (q is big * r_i along the first axis, k's first coordinates are distinct integers), so
    exp overflows without the max trick while float32 rounding cannot change the answer."""
    dtype = draw(float_dtypes())
    batch = draw(st.sampled_from([(), (2,), (2, 2)]))
    tq, tk, d, dv = draw(sizes(1, 4)), draw(sizes(1, 5)), draw(sizes(1, 4)), draw(sizes(1, 3))
    big = draw(st.sampled_from([50.0, 1e3, 1e4]))
    g = generator(draw(seeds()))
    r = torch.randint(-3, 4, batch + (tq,), generator=g).double()
    q = torch.zeros(batch + (tq, d), dtype=torch.float64)
    q[..., 0] = big * r
    k = torch.randn(batch + (tk, d), generator=g, dtype=torch.float64)
    k[..., 0] = (torch.argsort(torch.rand(batch + (tk,), generator=g), dim=-1) - tk // 2).double()
    v = torch.randn(batch + (tk, dv), generator=g, dtype=torch.float64)
    mask = None
    if draw(st.booleans()):
        mask = torch.rand(tq, tk, generator=g) < 0.5
        mask[torch.arange(tq), torch.randint(0, tk, (tq,), generator=g)] = True
    return q.to(dtype), k.to(dtype), v.to(dtype), mask


@exercise("ch8.scaled_dot_product_attention", points=1)
@given(case=large_score_case())
def check_sdpa_stable_for_large_scores(student, ref, case):
    q, k, v, mask = case
    got = student.scaled_dot_product_attention(q, k, v, mask)
    with renamed({"mistake.nonfinite": "mistake.ch8.scaled_dot_product_attention.overflow"}):
        _expect_sdpa(ref, got, q, k, v, mask)


@exercise("ch8.scaled_dot_product_attention", points=1, hidden=True)
@given(case=attention_case(max_t=9, max_d=8, batches=[(2, 3), (1, 4), (2, 1, 2)]), data=st.data())
def check_sdpa_larger_and_equivariant_to_key_order(student, ref, case, data):
    q, k, v = case
    mask = data.draw(st.one_of(st.none(), attention_masks(q.shape[:-2], q.shape[-2], k.shape[-2], full_rows=data.draw(st.booleans()))))
    out, weights = got = student.scaled_dot_product_attention(q, k, v, mask)
    _expect_sdpa(ref, got, q, k, v, mask, public=False)
    # attention is a weighted average over keys: permuting keys and values together (and
    # the mask's key columns) permutes the weights' columns and leaves the output alone
    perm = torch.randperm(k.shape[-2], generator=generator(data.draw(seeds())))
    pmask = None if mask is None else mask[..., perm]
    expect_close(
        student.scaled_dot_product_attention(q, k[..., perm, :], v[..., perm, :], pmask),
        (out, weights[..., perm]),
        name=("out after permuting the keys", "weights after permuting the keys"),
    )


# --- multi_head_attention ----------------------------------------------------------------------


MHA_KEYS = ("W_q", "W_k", "W_v", "W_o", "b_q", "b_k", "b_v", "b_o")


@st.composite
def mha_case(draw, max_n=3, max_t=4, heads=(1, 2, 3), max_d=3, self_attention=None):
    dtype = draw(float_dtypes())
    n, t, h, d = draw(sizes(1, max_n)), draw(sizes(1, max_t)), draw(st.sampled_from(heads)), draw(sizes(1, max_d))
    E = h * d
    self_attn = draw(st.booleans()) if self_attention is None else self_attention
    s = t if self_attn else draw(sizes(1, max_t))
    query = draw(tensors((n, t, E), dtype))
    key = query if self_attn else draw(tensors((n, s, E), dtype))
    value = query if self_attn else draw(tensors((n, s, E), dtype))
    p = {name: draw(tensors((E, E), dtype, scale=0.8)) for name in MHA_KEYS[:4]}
    p |= {name: draw(tensors((E,), dtype, scale=0.5)) for name in MHA_KEYS[4:]}
    return query, key, value, p, h


@st.composite
def mha_masks(draw, n, h, t, s, full_rows=False):
    kind = draw(st.sampled_from(["causal", "random", "per_head", "padding"]))
    g = generator(draw(seeds()))
    if kind == "causal":
        mask = torch.ones(t, s, dtype=torch.bool).tril(max(0, s - t))
    elif kind == "padding":
        lengths = torch.randint(1, s + 1, (n,), generator=g)
        mask = (torch.arange(s) < lengths.unsqueeze(-1)).reshape(n, 1, 1, s)
    else:
        shape = (t, s) if kind == "random" else (n, h, t, s)
        mask = torch.rand(shape, generator=g) < 0.6
        mask.scatter_(-1, torch.randint(0, s, shape[:-1] + (1,), generator=g), True)
    if full_rows:
        full = mask.expand(n, h, t, s).clone()
        rows = full.view(-1, s)
        if draw(st.booleans()):  # block a query row in every head
            blocked = torch.rand(n, 1, t, generator=g) < 0.4
            blocked[0, 0, int(torch.randint(0, t, (1,), generator=g))] = True
            full &= ~blocked.unsqueeze(-1)
        else:  # block rows of single heads
            blocked = torch.rand(rows.shape[0], generator=g) < 0.3
            blocked[int(torch.randint(0, rows.shape[0], (1,), generator=g))] = True
            rows[blocked] = False
        mask = full
    return mask


def _torch_mha(query, key, value, p, h, mask):
    """nn.MultiheadAttention loaded with the same weights, in float64, attn_mask = ~mask."""

    def run(query, key, value, p):
        N, T, E = query.shape
        S = key.shape[1]
        mha = torch.nn.MultiheadAttention(E, h, batch_first=True, dtype=torch.float64)
        with torch.no_grad():
            mha.in_proj_weight.copy_(torch.cat([p["W_q"], p["W_k"], p["W_v"]]))
            mha.in_proj_bias.copy_(torch.cat([p["b_q"], p["b_k"], p["b_v"]]))
            mha.out_proj.weight.copy_(p["W_o"])
            mha.out_proj.bias.copy_(p["b_o"])
            attn_mask = None
            if mask is not None:
                attn_mask = ~mask if mask.dim() == 2 else ~mask.expand(N, h, T, S).reshape(N * h, T, S)
            out, _ = mha.train()(query, key, value, attn_mask=attn_mask, need_weights=False)
        return out

    return truth(run, query, key, value, p)


def _mha_call(student, query, key, value, p, h, mask):
    return student.multi_head_attention(query, key, value, *(p[name] for name in MHA_KEYS), h, mask)


def _mha_inputs(query, key, value, p, h, mask):
    return dict(query=query, key=key, value=value) | p | dict(num_heads=h, mask=mask)


@exercise("ch8.multi_head_attention", points=2)
@given(case=mha_case())
def check_mha_matches_nn_multihead_attention(student, ref, case):
    query, key, value, p, h = case
    expect_close(
        _mha_call(student, query, key, value, p, h, None),
        _torch_mha(query, key, value, p, h, None),
        name="out",
        inputs=_mha_inputs(query, key, value, p, h, None),
    )


@exercise("ch8.multi_head_attention", points=2)
@given(case=mha_case(), data=st.data())
def check_mha_with_masks_matches_nn_multihead_attention(student, ref, case, data):
    query, key, value, p, h = case
    (n, t, _), s = query.shape, key.shape[1]
    mask = data.draw(mha_masks(n, h, t, s))
    expect_close(
        _mha_call(student, query, key, value, p, h, mask),
        _torch_mha(query, key, value, p, h, mask),
        name="out",
        inputs=_mha_inputs(query, key, value, p, h, mask),
    )


@exercise("ch8.multi_head_attention", points=1)
@given(case=mha_case(), data=st.data())
def check_mha_fully_masked_rows_give_the_output_bias(student, ref, case, data):
    query, key, value, p, h = case
    (n, t, _), s = query.shape, key.shape[1]
    mask = data.draw(mha_masks(n, h, t, s, full_rows=True))
    # nn.MultiheadAttention gives NaN for such rows: the truth is the reference, in float64
    expected = truth(lambda query, key, value, p: ref.multi_head_attention(query, key, value, *(p[k] for k in MHA_KEYS), h, mask), query, key, value, p)
    expect_close(
        _mha_call(student, query, key, value, p, h, mask),
        expected,
        name="out",
        inputs=_mha_inputs(query, key, value, p, h, mask),
    )


@exercise("ch8.multi_head_attention", points=1, hidden=True)
@given(case=mha_case(max_n=3, max_t=8, heads=(2, 4), max_d=4), data=st.data())
def check_mha_larger_models(student, ref, case, data):
    query, key, value, p, h = case
    (n, t, _), s = query.shape, key.shape[1]
    mask = data.draw(st.one_of(st.none(), mha_masks(n, h, t, s)))
    expect_close(
        _mha_call(student, query, key, value, p, h, mask),
        _torch_mha(query, key, value, p, h, mask),
        name="out",
    )


# --- sinusoidal_positional_encoding -----------------------------------------------------------


def _expect_positional(ref, got, T, d, inputs, **tol):
    expected = ref.positional_encoding_in_float64(T, d)
    if _is_like(got, expected) and got.dtype == torch.float64 and bool(close(got.float(), expected, *tolerance(torch.float32)).all()):
        fail("mistake.ch8.sinusoidal_positional_encoding.float64_output", {} if inputs is None else {"inputs": show(inputs)})
    expect_close(got, expected, name="PE", inputs=inputs, **tol)


@exercise("ch8.sinusoidal_positional_encoding", points=2)
@given(T=sizes(1, 32), d=sizes(1, 16))
def check_positional_encoding_matches_formula(student, ref, T, d):
    _expect_positional(ref, student.sinusoidal_positional_encoding(T, d), T, d, dict(T=T, d=d))


@exercise("ch8.sinusoidal_positional_encoding", points=1, hidden=True)
@given(T=sizes(32, 512), d=st.sampled_from([1, 2, 3, 7, 16, 33, 64]))
def check_positional_encoding_long_sequences(student, ref, T, d):
    # float32 angles up to T carry a rounding error of a few ulp of T (the usual float32
    # recipe exp(-2i ln(10000) / d) * p), so the absolute tolerance grows with T
    _expect_positional(ref, student.sinusoidal_positional_encoding(T, d), T, d, None, atol=2e-5 + 5e-7 * T)


# --- transformer_encoder_layer ----------------------------------------------------------------


@st.composite
def encoder_case(draw, max_n=2, max_t=4, heads=(1, 2), max_d=3, max_f=6):
    query, _, _, p, h = draw(mha_case(max_n=max_n, max_t=max_t, heads=heads, max_d=max_d, self_attention=True))
    dtype, E = query.dtype, query.shape[-1]
    f = draw(sizes(1, max_f))
    p = dict(p)
    for name in ("ln1", "ln2"):
        p[f"{name}_w"] = 1 + draw(tensors((E,), dtype, scale=0.5))
        p[f"{name}_b"] = draw(tensors((E,), dtype, scale=0.5))
    p["W_1"] = draw(tensors((f, E), dtype, scale=0.8))
    p["b_1"] = draw(tensors((f,), dtype, scale=0.5))
    p["W_2"] = draw(tensors((E, f), dtype, scale=0.8))
    p["b_2"] = draw(tensors((E,), dtype, scale=0.5))
    x = query * 2  # spread rows, so the layer norms are well conditioned
    return x, p, h


def _torch_encoder(x, p, h, mask):
    """nn.TransformerEncoderLayer(norm_first=True, dropout=0) with the same weights, float64."""

    def run(x, p):
        N, T, E = x.shape
        layer = torch.nn.TransformerEncoderLayer(
            E, h, p["W_1"].shape[0], dropout=0.0, activation="relu", batch_first=True, norm_first=True, dtype=torch.float64
        )
        with torch.no_grad():
            attn = layer.self_attn
            attn.in_proj_weight.copy_(torch.cat([p["W_q"], p["W_k"], p["W_v"]]))
            attn.in_proj_bias.copy_(torch.cat([p["b_q"], p["b_k"], p["b_v"]]))
            attn.out_proj.weight.copy_(p["W_o"])
            attn.out_proj.bias.copy_(p["b_o"])
            for mod, w, b in ((layer.norm1, "ln1_w", "ln1_b"), (layer.norm2, "ln2_w", "ln2_b"), (layer.linear1, "W_1", "b_1"), (layer.linear2, "W_2", "b_2")):
                mod.weight.copy_(p[w])
                mod.bias.copy_(p[b])
            src_mask = None
            if mask is not None:
                src_mask = ~mask if mask.dim() == 2 else ~mask.expand(N, h, T, T).reshape(N * h, T, T)
            return layer.train()(x, src_mask=src_mask)  # train(): no fast path; dropout is 0

    return truth(run, x, p)


# the layer norms divide by a row's standard deviation, which amplifies float32 rounding
# (as in ch4's normalisation checks): float32 answers get a looser, still tight, tolerance
NORM_TOLERANCE = {torch.float64: {}, torch.float32: {"rtol": 1e-3, "atol": 2e-4}}


def _expect_encoder(student, ref, x, p, h, mask, expected, public=True):
    expect_close(
        student.transformer_encoder_layer(x, p, h, mask),
        expected,
        name="out",
        inputs=dict(x=x, params=p, num_heads=h, mask=mask) if public else None,
        **NORM_TOLERANCE[x.dtype],
    )


@exercise("ch8.transformer_encoder_layer", points=3)
@given(case=encoder_case(), data=st.data())
def check_encoder_layer_matches_nn_transformer_encoder_layer(student, ref, case, data):
    x, p, h = case
    n, t, _ = x.shape
    mask = data.draw(st.one_of(st.none(), mha_masks(n, h, t, t)))
    _expect_encoder(student, ref, x, p, h, mask, _torch_encoder(x, p, h, mask))


@exercise("ch8.transformer_encoder_layer", points=2)
@given(case=encoder_case(), data=st.data())
def check_encoder_layer_with_masks_and_fully_masked_rows(student, ref, case, data):
    x, p, h = case
    n, t, _ = x.shape
    full = t > 1 and data.draw(st.booleans())
    mask = data.draw(mha_masks(n, h, t, t, full_rows=full))
    if full:  # nn.TransformerEncoderLayer gives NaN there: the reference, in float64
        expected = truth(lambda x, p: ref.transformer_encoder_layer(x, p, h, mask), x, p)
    else:
        expected = _torch_encoder(x, p, h, mask)
    _expect_encoder(student, ref, x, p, h, mask, expected)


@exercise("ch8.transformer_encoder_layer", points=1, hidden=True)
@given(case=encoder_case(max_n=3, max_t=8, heads=(2, 4), max_d=4, max_f=16), data=st.data())
def check_encoder_layer_larger_models(student, ref, case, data):
    x, p, h = case
    n, t, _ = x.shape
    mask = data.draw(st.one_of(st.none(), st.just(torch.ones(t, t, dtype=torch.bool).tril())))
    _expect_encoder(student, ref, x, p, h, mask, _torch_encoder(x, p, h, mask), public=False)


# --- info_nce_loss ------------------------------------------------------------------------------


def _info_nce_tolerance(z, tau):
    # float32 cosines carry ~1e-7 rounding that the temperature scales by 1 / tau; the loss
    # subtracts logits of size 1 / tau, so its absolute error grows as 1 / tau
    return {"atol": 2e-5 + 1e-6 / tau} if z.dtype == torch.float32 else {}


def _expect_info_nce(student, ref, z1, z2, tau, public=True):
    got = student.info_nce_loss(z1, z2, tau)
    with renamed({"mistake.nonfinite": "mistake.ch8.info_nce_loss.unstable"}):
        expect_close(
            got,
            ref.nt_xent_by_cross_entropy(z1, z2, tau),
            name="loss",
            inputs=dict(z1=z1, z2=z2, temperature=tau) if public else None,
            batch=2 * z1.shape[0],
            **_info_nce_tolerance(z1, tau),
        )


@st.composite
def view_pairs(draw, min_n=1, max_n=6, max_d=5, scale=1.0):
    dtype = draw(float_dtypes())
    n, d = draw(sizes(min_n, max_n)), draw(sizes(2, max_d))
    z1 = draw(tensors((n, d), dtype, scale=scale))
    noise = draw(st.sampled_from([0.1, 0.5, 2.0]))  # how far apart the two views are
    z2 = (z1.double() + noise * scale * draw(tensors((n, d), torch.float64))).to(dtype)
    return z1, z2


TEMPERATURES = [0.05, 0.1, 0.5, 1.0, 2.0]


@exercise("ch8.info_nce_loss", points=2)
@given(views=view_pairs(), tau=st.sampled_from(TEMPERATURES))
def check_info_nce_matches_cross_entropy_over_similarities(student, ref, views, tau):
    _expect_info_nce(student, ref, *views, tau)


@exercise("ch8.info_nce_loss", points=1)
@given(dtype=float_dtypes(), n=sizes(1, 4), extra=sizes(0, 2), tau=st.sampled_from(TEMPERATURES), scale=st.sampled_from([0.5, 1.0, 3.0]))
def check_info_nce_identical_orthogonal_views_closed_form(student, ref, dtype, n, extra, tau, scale):
    # z1 = z2 = scaled one-hot rows: each anchor's positive has cosine 1, every negative 0, so
    # loss = log(exp(1 / tau) + 2N - 2) - 1 / tau (0 for N = 1: nothing to tell apart)
    z = (torch.eye(n, n + extra, dtype=torch.float64) * scale).to(dtype)
    expected = torch.tensor(math.log(math.exp(1 / tau) + 2 * n - 2) - 1 / tau, dtype=dtype)
    got = student.info_nce_loss(z, z.clone(), tau)
    expect_close(got, expected, name="loss", inputs=dict(z1=z, z2=z, temperature=tau), batch=2 * n)


def _expect_info_nce_stable(student, ref, z1, z2, tau):
    """The one stability rule, in float64 and float32: an unshifted log-sum-exp (inf, not
    NaN) is named as such through its output in each dtype, where a max shift suffices."""
    expect_stable(
        student.info_nce_loss,
        lambda z1, z2, temperature: truth(ref.nt_xent_by_cross_entropy, z1, z2, temperature),
        dict(z1=z1, z2=z2, temperature=tau),
        name="loss",
        batch=2 * z1.shape[0],
        per_dtype=lambda z1, z2, temperature: dict(
            causes=ref.info_nce_stability_causes(z1, z2, temperature),
            **_info_nce_tolerance(z1, temperature),
        ),
    )


@exercise("ch8.info_nce_loss", points=1)
@given(views=view_pairs(min_n=2, max_n=4, scale=30.0), tau=st.sampled_from([0.01, 0.02, 0.05]), rescale=st.sampled_from([1.0, 1e-3, 1e3]))
def check_info_nce_small_temperature_and_scale_invariance(student, ref, views, tau, rescale):
    # large embeddings and small temperatures: logits up to 1 / tau = 100 overflow a naive
    # exp in float32; rescaling one view must not change the loss (cosine similarity)
    z1, z2 = views
    _expect_info_nce_stable(student, ref, z1.double(), z2.double() * rescale, tau)


@st.composite
def tiny_temperature_case(draw):
    """Nearly orthogonal float64 rows z1 (cast to each dtype by the check), two second
    views and a temperature of 1e-3 or less, so logits reach 1 / tau >= 1000, beyond
    exp()'s range in float32 and float64 alike. `aligned`, z2 ~ z1: each positive is the
    largest logit (~1 / tau), the others ~0, so only an unshifted exp overflows;
    `opposed`, z2 ~ -z1: each positive is ~-1 / tau and the others ~0, so nothing
    overflows but log(softmax) of the positive underflows to log(0), even after a max
    shift. Each mistake fails one of them, and only one."""
    n = draw(sizes(2, 4))
    d = n + draw(st.integers(0, 2))
    norms = draw(tensors((n, 1), torch.float64, low=0.5, high=3.0))
    z1 = (torch.eye(n, d, dtype=torch.float64) + 0.005 * draw(tensors((n, d), torch.float64))) * norms
    noise = 0.005 * draw(tensors((n, d), torch.float64)) * norms
    tau = draw(st.sampled_from([1e-3, 5e-4]))
    return z1, z1 + noise, -z1 + noise, tau


@exercise("ch8.info_nce_loss", points=1)
@given(case=tiny_temperature_case())
def check_info_nce_finite_for_tiny_temperatures(student, ref, case):
    # the one stability rule: finite and right in float64 and float32; the aligned views
    # fail only an unshifted exp, the opposed ones only log(softmax) after a max shift
    z1, aligned, opposed, tau = case
    _expect_info_nce_stable(student, ref, z1, aligned, tau)
    _expect_info_nce_stable(student, ref, z1, opposed, tau)


@exercise("ch8.info_nce_loss", points=1, hidden=True)
@given(views=view_pairs(min_n=4, max_n=32, max_d=16), tau=st.sampled_from(TEMPERATURES + [0.2, 0.07]))
def check_info_nce_larger_batches(student, ref, views, tau):
    _expect_info_nce(student, ref, *views, tau, public=False)
