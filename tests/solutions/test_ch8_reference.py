"""Chapter 8 references against PyTorch built-ins, the stubs against the references, and
the chapter's mutants and variants against the reference (each mutant differs from it on
some input, each variant agrees with it on all of them)."""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import solutions.ch8_transformers as ref
import tests.mutants.ch8_mutants  # noqa: F401  (registers the chapter's cases)
from tests.mutants import CASES, Case

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: dict(rtol=1e-5, atol=1e-5), torch.float64: dict(rtol=1e-10, atol=1e-10)}


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(*shape: int, dtype: torch.dtype, g: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=g, dtype=torch.float64).mul(scale).to(dtype)


def _mha_params(E: int, dtype: torch.dtype, g: torch.Generator) -> dict[str, torch.Tensor]:
    bound = 1 / math.sqrt(E)
    params = {}
    for name in ("q", "k", "v", "o"):
        params[f"W_{name}"] = (torch.rand(E, E, generator=g, dtype=torch.float64) * 2 - 1).mul(bound).to(dtype)
        params[f"b_{name}"] = _randn(E, dtype=dtype, g=g, scale=0.1)
    return params


def _mha_args(p: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
    return (p["W_q"], p["W_k"], p["W_v"], p["W_o"], p["b_q"], p["b_k"], p["b_v"], p["b_o"])


def _encoder_params(E: int, Fdim: int, dtype: torch.dtype, g: torch.Generator) -> dict[str, torch.Tensor]:
    p = _mha_params(E, dtype, g)
    p["ln1_w"] = 1 + _randn(E, dtype=dtype, g=g, scale=0.1)
    p["ln1_b"] = _randn(E, dtype=dtype, g=g, scale=0.1)
    p["ln2_w"] = 1 + _randn(E, dtype=dtype, g=g, scale=0.1)
    p["ln2_b"] = _randn(E, dtype=dtype, g=g, scale=0.1)
    p["W_1"] = _randn(Fdim, E, dtype=dtype, g=g, scale=1 / math.sqrt(E))
    p["b_1"] = _randn(Fdim, dtype=dtype, g=g, scale=0.1)
    p["W_2"] = _randn(E, Fdim, dtype=dtype, g=g, scale=1 / math.sqrt(Fdim))
    p["b_2"] = _randn(E, dtype=dtype, g=g, scale=0.1)
    return p


def _random_mask(*shape: int, g: torch.Generator) -> torch.Tensor:
    """A random bool mask with at least one allowed key in every query row."""
    mask = torch.rand(*shape, generator=g) < 0.6
    mask[..., 0] = True
    return mask


# ----------------------------------------------------------------------------- embedding_backward


@pytest.mark.parametrize("dtype", DTYPES)
def test_embedding_backward_matches_autograd_of_embedding(dtype):
    g = _gen(1)
    V, E = 7, 5
    idx = torch.randint(0, V, (3, 6), generator=g)
    idx[0, :3] = 2  # repeated token
    dout = _randn(3, 6, E, dtype=dtype, g=g)
    before = dout.clone(), idx.clone()
    W = torch.zeros(V, E, dtype=dtype, requires_grad=True)
    F.embedding(idx, W).backward(dout)
    dW = ref.embedding_backward(dout, idx, V)
    assert dW.dtype == dtype and dW.shape == (V, E)
    torch.testing.assert_close(dW, W.grad, **TOL[dtype])
    assert torch.equal(dout, before[0]) and torch.equal(idx, before[1])
    unused = sorted(set(range(V)) - set(idx.flatten().tolist()))
    assert all(torch.all(dW[u] == 0) for u in unused)


def test_embedding_backward_docstring_example():
    dout = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    dW = ref.embedding_backward(dout, torch.tensor([[1, 1]]), 3)
    assert torch.equal(dW, torch.tensor([[0.0, 0.0], [4.0, 6.0], [0.0, 0.0]]))


# ----------------------------------------------------------------------------- causal_mask


@pytest.mark.parametrize("T", [1, 2, 6])
def test_causal_mask_matches_transformer_square_subsequent_mask(T):
    float_mask = torch.nn.Transformer.generate_square_subsequent_mask(T)  # 0 allowed, -inf blocked
    mask = ref.causal_mask(T)
    assert mask.dtype == torch.bool and mask.shape == (T, T)
    assert torch.equal(mask, float_mask == 0)
    assert ref.causal_mask(T, device="cpu").device.type == "cpu"


def test_causal_mask_as_is_causal_of_sdpa():
    g = _gen(2)
    q, k, v = (_randn(2, 5, 4, dtype=torch.float64, g=g) for _ in range(3))
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    out, _ = ref.scaled_dot_product_attention(q, k, v, ref.causal_mask(5))
    torch.testing.assert_close(out, expected, **TOL[torch.float64])


# ----------------------------------------------------------------------------- scaled_dot_product_attention


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("with_mask", [False, True])
def test_sdpa_matches_torch(dtype, with_mask):
    g = _gen(3)
    q = _randn(2, 3, 4, 6, dtype=dtype, g=g)
    k = _randn(2, 3, 5, 6, dtype=dtype, g=g)
    v = _randn(2, 3, 5, 7, dtype=dtype, g=g)
    mask = _random_mask(2, 1, 4, 5, g=g) if with_mask else None
    inputs = [t.clone() for t in (q, k, v)]
    out, weights = ref.scaled_dot_product_attention(q, k, v, mask)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert out.dtype == dtype and out.shape == (2, 3, 4, 7) and weights.shape == (2, 3, 4, 5)
    torch.testing.assert_close(out, expected, **TOL[dtype])
    scores = q @ k.transpose(-2, -1) / math.sqrt(6)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    torch.testing.assert_close(weights, torch.softmax(scores, dim=-1), **TOL[dtype])
    assert all(torch.equal(a, b) for a, b in zip(inputs, (q, k, v)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sdpa_fully_masked_row_is_zero(dtype):
    g = _gen(4)
    q, k, v = (_randn(3, 4, dtype=dtype, g=g) for _ in range(3))
    mask = _random_mask(3, 3, g=g)
    mask[1] = False
    out, weights = ref.scaled_dot_product_attention(q, k, v, mask)
    assert torch.all(weights[1] == 0) and torch.all(out[1] == 0)
    assert torch.all(weights[~mask] == 0)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_sdpa_large_scores_stay_finite(dtype):
    g = _gen(5)
    q = _randn(2, 4, 8, dtype=dtype, g=g, scale=300.0)
    k = _randn(2, 6, 8, dtype=dtype, g=g, scale=300.0)
    v = _randn(2, 6, 3, dtype=dtype, g=g)
    out, weights = ref.scaled_dot_product_attention(q, k, v)
    assert torch.isfinite(out).all() and torch.isfinite(weights).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, dtype=dtype), **TOL[dtype])
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v), rtol=1e-4, atol=1e-4)


# ----------------------------------------------------------------------------- multi_head_attention


def _torch_mha(p: dict[str, torch.Tensor], E: int, num_heads: int, dtype: torch.dtype) -> torch.nn.MultiheadAttention:
    mha = torch.nn.MultiheadAttention(E, num_heads, batch_first=True, dtype=dtype)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([p["W_q"], p["W_k"], p["W_v"]]))
        mha.in_proj_bias.copy_(torch.cat([p["b_q"], p["b_k"], p["b_v"]]))
        mha.out_proj.weight.copy_(p["W_o"])
        mha.out_proj.bias.copy_(p["b_o"])
    return mha.eval()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask_kind", ["none", "2d", "4d"])
def test_multi_head_attention_matches_nn_multihead_attention(dtype, mask_kind):
    g = _gen(6)
    N, T, S, E, h = 2, 4, 5, 8, 2
    p = _mha_params(E, dtype, g)
    query = _randn(N, T, E, dtype=dtype, g=g)
    key = _randn(N, S, E, dtype=dtype, g=g)
    value = _randn(N, S, E, dtype=dtype, g=g)
    mask, attn_mask = None, None
    if mask_kind == "2d":
        mask = _random_mask(T, S, g=g)
        attn_mask = ~mask
    elif mask_kind == "4d":
        mask = _random_mask(N, h, T, S, g=g)
        attn_mask = ~mask.reshape(N * h, T, S)
    out = ref.multi_head_attention(query, key, value, *_mha_args(p), h, mask)
    with torch.no_grad():
        expected, _ = _torch_mha(p, E, h, dtype)(query, key, value, attn_mask=attn_mask)
    assert out.dtype == dtype and out.shape == (N, T, E)
    torch.testing.assert_close(out, expected, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_multi_head_attention_fully_masked_row_gives_output_bias(dtype):
    g = _gen(7)
    N, T, E, h = 2, 4, 6, 3
    p = _mha_params(E, dtype, g)
    x = _randn(N, T, E, dtype=dtype, g=g)
    mask = ref.causal_mask(T).clone()
    mask[2] = False
    out = ref.multi_head_attention(x, x, x, *_mha_args(p), h, mask)
    torch.testing.assert_close(out[:, 2], p["b_o"].expand(N, E), **TOL[dtype])
    with torch.no_grad():
        expected, _ = _torch_mha(p, E, h, dtype)(x, x, x, attn_mask=~mask)
    keep = [0, 1, 3]
    torch.testing.assert_close(out[:, keep], expected[:, keep], **TOL[dtype])


# ----------------------------------------------------------------------------- sinusoidal_positional_encoding


@pytest.mark.parametrize("T, d", [(1, 1), (6, 4), (9, 7), (64, 32)])
def test_sinusoidal_positional_encoding_matches_numpy_formula(T, d):
    pe = ref.sinusoidal_positional_encoding(T, d)
    assert pe.dtype == torch.float32 and pe.shape == (T, d)
    p = np.arange(T)[:, None]
    col = np.arange(d)[None, :]
    angle = p / np.power(10000.0, (col - col % 2) / d)
    expected = np.where(col % 2 == 0, np.sin(angle), np.cos(angle))
    np.testing.assert_allclose(pe.numpy(), expected, rtol=0, atol=1e-6)


def test_sinusoidal_positional_encoding_docstring_example():
    expected = torch.tensor([[0.0, 1.0], [math.sin(1.0), math.cos(1.0)]])
    torch.testing.assert_close(ref.sinusoidal_positional_encoding(2, 2), expected)


# ----------------------------------------------------------------------------- transformer_encoder_layer


def _torch_encoder_layer(p, E, Fdim, h, dtype) -> torch.nn.TransformerEncoderLayer:
    layer = torch.nn.TransformerEncoderLayer(
        E, h, Fdim, dropout=0.0, activation="relu", batch_first=True, norm_first=True, dtype=dtype
    )
    with torch.no_grad():
        attn = layer.self_attn
        attn.in_proj_weight.copy_(torch.cat([p["W_q"], p["W_k"], p["W_v"]]))
        attn.in_proj_bias.copy_(torch.cat([p["b_q"], p["b_k"], p["b_v"]]))
        attn.out_proj.weight.copy_(p["W_o"])
        attn.out_proj.bias.copy_(p["b_o"])
        layer.norm1.weight.copy_(p["ln1_w"])
        layer.norm1.bias.copy_(p["ln1_b"])
        layer.norm2.weight.copy_(p["ln2_w"])
        layer.norm2.bias.copy_(p["ln2_b"])
        layer.linear1.weight.copy_(p["W_1"])
        layer.linear1.bias.copy_(p["b_1"])
        layer.linear2.weight.copy_(p["W_2"])
        layer.linear2.bias.copy_(p["b_2"])
    return layer.eval()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("masked", [False, True])
def test_transformer_encoder_layer_matches_nn(dtype, masked):
    g = _gen(8)
    N, T, E, Fdim, h = 2, 5, 8, 16, 2
    p = _encoder_params(E, Fdim, dtype, g)
    x = _randn(N, T, E, dtype=dtype, g=g)
    before = {k: v.clone() for k, v in p.items()}, x.clone()
    mask = ref.causal_mask(T) if masked else None
    out = ref.transformer_encoder_layer(x, p, h, mask)
    with torch.no_grad():
        expected = _torch_encoder_layer(p, E, Fdim, h, dtype)(x, src_mask=None if mask is None else ~mask)
    assert out.dtype == dtype and out.shape == (N, T, E)
    torch.testing.assert_close(out, expected, **TOL[dtype])
    assert torch.equal(x, before[1]) and all(torch.equal(p[k], v) for k, v in before[0].items())


def test_transformer_encoder_layer_fully_masked_row():
    g = _gen(9)
    N, T, E, Fdim, h = 1, 3, 4, 8, 2
    p = _encoder_params(E, Fdim, torch.float64, g)
    x = _randn(N, T, E, dtype=torch.float64, g=g)
    mask = torch.ones(T, T, dtype=torch.bool)
    mask[0] = False
    out = ref.transformer_encoder_layer(x, p, h, mask)
    # row 0: attention adds only b_o, then the feed-forward sublayer as usual
    hrow = x[:, 0] + p["b_o"]
    f = F.layer_norm(hrow, (E,), p["ln2_w"], p["ln2_b"])
    expected = hrow + F.linear(F.relu(F.linear(f, p["W_1"], p["b_1"])), p["W_2"], p["b_2"])
    torch.testing.assert_close(out[:, 0], expected, **TOL[torch.float64])


# ----------------------------------------------------------------------------- info_nce_loss


@pytest.mark.parametrize("dtype", DTYPES)
def test_info_nce_loss_matches_cross_entropy_on_cosine_similarities(dtype):
    g = _gen(10)
    N, d, tau = 5, 6, 0.3
    z1 = _randn(N, d, dtype=dtype, g=g, scale=3.0)
    z2 = _randn(N, d, dtype=dtype, g=g)
    before = z1.clone(), z2.clone()
    z = torch.cat([z1, z2])
    sim = F.cosine_similarity(z.unsqueeze(1), z.unsqueeze(0), dim=-1) / tau
    sim = sim.masked_fill(torch.eye(2 * N, dtype=torch.bool), float("-inf"))
    targets = torch.cat([torch.arange(N, 2 * N), torch.arange(N)])
    loss = ref.info_nce_loss(z1, z2, tau)
    assert loss.dim() == 0 and loss.dtype == dtype
    torch.testing.assert_close(loss, F.cross_entropy(sim, targets), **TOL[dtype])
    assert torch.equal(z1, before[0]) and torch.equal(z2, before[1])


def test_info_nce_loss_small_temperature_stays_finite_and_docstring_example():
    g = _gen(11)
    z1, z2 = _randn(4, 3, dtype=torch.float32, g=g), _randn(4, 3, dtype=torch.float32, g=g)
    assert torch.isfinite(ref.info_nce_loss(z1, z2, 1e-3))
    eye = torch.eye(2, dtype=torch.float64)
    torch.testing.assert_close(ref.info_nce_loss(eye, eye, 1.0), torch.tensor(math.log(math.e + 2) - 1, dtype=torch.float64))
    assert ref.info_nce_loss(z1[:1], z2[:1], 0.5).item() == 0.0


# ----------------------------------------------------------------------------- stubs


# ----------------------------------------------------------------------------- mutants and variants


def _inputs(exercise: str) -> list[tuple]:
    """Inputs that expose each known mistake: repeated tokens, fully masked rows,
    large scores, T != S, several heads, odd widths, both dtypes."""
    g = _gen(12)
    name = exercise.split(".", 1)[1]
    if name == "embedding_backward":
        idx = torch.tensor([[0, 2, 2, 5], [2, 6, 0, 1]])
        return [(_randn(2, 4, 3, dtype=dt, g=g), idx, 7) for dt in DTYPES]
    if name == "causal_mask":
        return [(1,), (5,)]
    if name == "scaled_dot_product_attention":
        mask = _random_mask(4, 6, g=g)
        mask[2] = False
        out = []
        for dt in DTYPES:
            q, k, v = _randn(2, 4, 5, dtype=dt, g=g), _randn(2, 6, 5, dtype=dt, g=g), _randn(2, 6, 3, dtype=dt, g=g)
            out += [(q, k, v), (q, k, v, mask), (q * 200, k * 200, v)]
        return out
    if name == "multi_head_attention":
        out = []
        for dt in DTYPES:
            p = _mha_params(8, dt, g)
            q, kv = _randn(2, 4, 8, dtype=dt, g=g), _randn(2, 5, 8, dtype=dt, g=g)
            mask = _random_mask(4, 5, g=g)
            mask[1] = False
            out += [(q, kv, kv, *_mha_args(p), 2, None), (q, kv, kv, *_mha_args(p), 4, mask)]
            out += [(q, kv, kv, *_mha_args(p), 2, _random_mask(2, 1, 4, 5, g=g))]
        return out
    if name == "sinusoidal_positional_encoding":
        return [(7, 6), (5, 7), (50, 16)]
    if name == "transformer_encoder_layer":
        out = []
        for dt in DTYPES:
            p = _encoder_params(8, 16, dt, g)
            x = _randn(2, 5, 8, dtype=dt, g=g, scale=2.0)
            mask = ref.causal_mask(5).clone()
            mask[3] = False
            out += [(x, p, 2), (x, p, 2, ref.causal_mask(5)), (x, p, 4, mask)]
        return out
    if name == "info_nce_loss":
        eye = [torch.eye(3, 4, dtype=dt) * 2 for dt in DTYPES]
        # plus a tiny temperature, views aligned (exp overflows) and opposed (log(softmax) underflows)
        return (
            [(_randn(4, 5, dtype=dt, g=g, scale=2.0), _randn(4, 5, dtype=dt, g=g), 0.5) for dt in DTYPES]
            + [(z, z + 0.01, 1e-3) for z in eye]
            + [(z, -z + 0.01, 1e-3) for z in eye]
        )
    raise KeyError(exercise)


def _same(a, b) -> bool:
    if isinstance(a, (tuple, list)):
        return isinstance(b, (tuple, list)) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        return a == b
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype == torch.bool:
        return torch.equal(a, b)
    tol = TOL.get(a.dtype, TOL[torch.float32])
    return torch.allclose(a, b, equal_nan=True, **tol)


def _as_submission(case: Case):
    """The case's function as the grader sees it: appended to the reference module."""
    source = Path(inspect.getfile(ref)).read_text() + "\n\n" + case.source()
    namespace: dict = {"__name__": "ch8_submission"}
    exec(compile(source, f"<{case.slug}>", "exec"), namespace)
    return namespace[case.exercise.split(".", 1)[1]]


CH8_CASES = [c for c in CASES if c.exercise.startswith("ch8.")]


@pytest.mark.parametrize("case", [c for c in CH8_CASES if not c.correct], ids=lambda c: c.slug)
def test_mutant_differs_from_reference(case):
    func = _as_submission(case)
    reference = getattr(ref, case.exercise.split(".", 1)[1])
    differs = False
    for args in _inputs(case.exercise):
        try:
            got = func(*args)
        except Exception:
            differs = True
            break
        if not _same(reference(*args), got):
            differs = True
            break
    assert differs, f"{case.slug} agrees with the reference on every input"


@pytest.mark.parametrize("case", [c for c in CH8_CASES if c.correct], ids=lambda c: c.slug)
def test_variant_agrees_with_reference(case):
    func = _as_submission(case)
    reference = getattr(ref, case.exercise.split(".", 1)[1])
    for args in _inputs(case.exercise):
        assert _same(reference(*args), func(*args)), f"{case.slug} differs on {args!r:.200}"


# ----------------------------------------------------------------------------- catalogue


