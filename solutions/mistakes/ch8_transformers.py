"""Chapter 8, the reference side of known mistakes and of the truths the checks compare
against: attention, multi-head attention, the encoder layer, the positional encoding
and NT-Xent written with switches for the usual mistakes, and one function per exercise
giving each known mistake's output (`ref.multi_head_attention_mistake_outputs(...)`).
Reached through `ref`, so a student release ships only recorded outputs, never this code.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from grader.compare import Known
from grader.precision import truth  # mistakes computed in float64, given back in the inputs' dtype

NEG_INF = float("-inf")


def embedding_backward_mistake_outputs(dout, idx, vocab):
    """Catalogue key -> dW of each known mistake."""
    E = dout.shape[-1]
    flat_idx, flat_dout = idx.reshape(-1), dout.reshape(-1, E)
    overwritten = torch.zeros(vocab, E, dtype=dout.dtype)
    overwritten[flat_idx] = flat_dout  # last write wins, as a student's dW[idx] = dout
    counts = torch.bincount(flat_idx, minlength=vocab).clamp_min(1).to(dout.dtype)
    summed = torch.zeros(vocab, E, dtype=torch.float64).index_add_(0, flat_idx, flat_dout.double())
    return {
        "mistake.ch8.embedding_backward.assign_overwrites": overwritten,
        "mistake.ch8.embedding_backward.averaged": (summed / counts.double().unsqueeze(1)).to(dout.dtype),
    }


def attention_variant(q, k, v, mask=None, *, scale=None, dim=-1, invert=False, after=False, fill=NEG_INF, nan_rows=False, added=False):
    """Attention as computed correctly (defaults) or with one known mistake; `added` adds
    the (finite) `fill` to masked scores instead of replacing them."""
    d = q.shape[-1]
    scores = q @ k.transpose(-2, -1) * (1 / math.sqrt(d) if scale is None else scale)
    m = None if mask is None else (~mask if invert else mask)
    if m is not None and not after:
        scores = scores + (~m).to(scores.dtype) * fill if added else scores.masked_fill(~m, fill)
    weights = torch.softmax(scores, dim=dim)
    if m is not None and after:
        weights = weights * m  # masked after the softmax: rows no longer sum to 1
    if not nan_rows:
        weights = torch.nan_to_num(weights, nan=0.0)
    return weights @ v, weights


def scaled_dot_product_attention_mistake_outputs(q, k, v, mask=None):
    """Catalogue key -> (out, weights) of each known mistake, in float64."""
    d = q.shape[-1]
    wrong = lambda **kw: truth(lambda q, k, v: attention_variant(q, k, v, mask, **kw), q, k, v)  # noqa: E731
    out = {
        "mistake.ch8.scaled_dot_product_attention.scale": wrong(scale=1 / d),
        "mistake.ch8.scaled_dot_product_attention.unscaled": wrong(scale=1.0),
        "mistake.ch8.scaled_dot_product_attention.softmax_over_queries": wrong(dim=-2),
    }
    if mask is not None:
        out |= {
            "mistake.ch8.scaled_dot_product_attention.mask_inverted": wrong(invert=True),
            "mistake.ch8.scaled_dot_product_attention.mask_after_softmax": wrong(after=True),
            # masked_fill(-1e9): uniform weights; adding -1e4: the row's unmasked softmax
            "mistake.ch8.scaled_dot_product_attention.fully_masked_uniform": Known(wrong(fill=-1e9), wrong(fill=-1e4, added=True)),
            "mistake.ch8.scaled_dot_product_attention.fully_masked_nan": wrong(nan_rows=True),
            "mistake.ch8.scaled_dot_product_attention.mask_ignored": truth(lambda q, k, v: attention_variant(q, k, v), q, k, v),
        }
        inverted = out["mistake.ch8.scaled_dot_product_attention.mask_inverted"]
        if any(all(torch.equal(a, b) for a, b in zip(inverted, fill)) for fill in out["mistake.ch8.scaled_dot_product_attention.fully_masked_uniform"].outputs):
            # every row fully masked or fully allowed: an inverted mask and a large negative
            # constant give the same answer, and the constant is the likelier
            del out["mistake.ch8.scaled_dot_product_attention.mask_inverted"]
    return out


def mha_variant(query, key, value, p, h, mask=None, *, split="heads_first", merge="heads_first", width=None, transposed_weights=False, fill=NEG_INF, nan_rows=False):
    """Multi-head attention as computed correctly (defaults) or with one known mistake."""
    N, T, E = query.shape
    S = key.shape[1]
    d = E // h
    lin = (lambda x, W, b: x @ W + b) if transposed_weights else (lambda x, W, b: x @ W.T + b)

    def heads(x, L):
        if split == "no_transpose":
            return x.reshape(N, h, L, d)
        if split == "strided":  # head h takes features h, h + heads, ...
            return x.reshape(N, L, d, h).permute(0, 3, 1, 2)
        return x.reshape(N, L, h, d).transpose(1, 2)

    q, k, v = heads(lin(query, p["W_q"], p["b_q"]), T), heads(lin(key, p["W_k"], p["b_k"]), S), heads(lin(value, p["W_v"], p["b_v"]), S)
    out, _ = attention_variant(q, k, v, mask, scale=1 / math.sqrt(width or d), fill=fill, nan_rows=nan_rows)
    if merge == "no_transpose":
        concat = out.reshape(N, T, E)
    elif split == "strided":
        concat = out.permute(0, 2, 3, 1).reshape(N, T, E)
    else:
        concat = out.transpose(1, 2).reshape(N, T, E)
    return lin(concat, p["W_o"], p["b_o"])


def multi_head_attention_mistake_outputs(query, key, value, p, h, mask=None):
    """Catalogue key -> the output of each known mistake, in float64."""
    E = query.shape[-1]
    wrong = lambda **kw: truth(lambda query, key, value, p: mha_variant(query, key, value, p, h, mask, **kw), query, key, value, p)  # noqa: E731
    out = {
        "mistake.ch8.multi_head_attention.merge_without_transpose": wrong(merge="no_transpose"),
        "mistake.ch8.multi_head_attention.split_without_transpose": wrong(split="no_transpose"),
        "mistake.ch8.multi_head_attention.head_order": wrong(split="strided"),
        "mistake.ch8.multi_head_attention.scale": wrong(width=E),
        "mistake.ch8.multi_head_attention.weights_not_transposed": wrong(transposed_weights=True),
    }
    if mask is not None:
        out |= {
            "mistake.ch8.multi_head_attention.mask_ignored": truth(lambda query, key, value, p: mha_variant(query, key, value, p, h), query, key, value, p),
            "mistake.ch8.multi_head_attention.mask_inverted": truth(lambda query, key, value, p: mha_variant(query, key, value, p, h, ~mask), query, key, value, p),
            "mistake.ch8.multi_head_attention.fully_masked_row": wrong(fill=-1e9),
            "mistake.ch8.multi_head_attention.fully_masked_nan": wrong(nan_rows=True),
        }
    return out


def positional_encoding_variant(T, d, *, swapped=False, halves=False, exponent=2, odd_last_zero=False):
    """The encoding (defaults) or a known mistake, in float64, returned as float32."""
    p = torch.arange(T, dtype=torch.float64).unsqueeze(1)  # (T, 1)
    i = torch.arange((d + 1) // 2, dtype=torch.float64)  # pair index
    angles = p / torch.pow(10000.0, exponent * i / d)  # (T, ceil(d / 2))
    first, second = (torch.cos, torch.sin) if swapped else (torch.sin, torch.cos)
    if halves:
        return torch.cat([first(angles), second(angles[:, : d // 2])], dim=1).float()
    pe = torch.zeros(T, d, dtype=torch.float64)
    pe[:, 0::2] = first(angles)
    pe[:, 1::2] = second(angles[:, : d // 2])
    if odd_last_zero and d % 2:
        pe[:, -1] = 0
    return pe.float()


def encoder_layer_variant(x, p, h, mask=None, *, kind="ok"):
    """The pre-LN layer (kind "ok") or a known mistake, with the reference's attention maths."""
    E = x.shape[-1]
    ln = lambda t, w, b: F.layer_norm(t, (E,), p[w], p[b], eps=1e-5)  # noqa: E731
    mha = lambda t, m: mha_variant(t, t, t, p, h, m)  # noqa: E731
    act = F.gelu if kind == "gelu" else torch.relu
    ffn = lambda t: act(t @ p["W_1"].T + p["b_1"]) @ p["W_2"].T + p["b_2"]  # noqa: E731
    m = None if kind == "mask_ignored" else mask
    if kind == "post_norm":
        h1 = ln(x + mha(x, m), "ln1_w", "ln1_b")
        return ln(h1 + ffn(h1), "ln2_w", "ln2_b")
    a = ln(x, "ln1_w", "ln1_b")
    h1 = mha(a, m) if kind == "no_attention_residual" else x + mha(a, m)
    f = ln(h1, "ln1_w", "ln1_b") if kind == "ln1_reused" else ln(h1, "ln2_w", "ln2_b")
    return ffn(f) if kind == "no_ffn_residual" else h1 + ffn(f)


def transformer_encoder_layer_mistake_outputs(x, p, h, mask=None):
    """Catalogue key -> the output of each known mistake, in float64."""
    kinds = {
        "post_norm": "post_norm",
        "no_ffn_residual": "no_ffn_residual",
        "no_attention_residual": "no_attention_residual",
        "activation": "gelu",
        "ln2": "ln1_reused",
    }
    if mask is not None:
        kinds["mask_ignored"] = "mask_ignored"
    return {f"mistake.ch8.transformer_encoder_layer.{key}": truth(lambda x, p: encoder_layer_variant(x, p, h, mask, kind=kind), x, p) for key, kind in kinds.items()}


def nt_xent_by_cross_entropy(z1, z2, tau):
    """NT-Xent as cross-entropy over the 2N x 2N cosine-similarity matrix, self excluded."""
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = (z @ z.T / tau).fill_diagonal_(NEG_INF)
    return F.cross_entropy(sim, torch.cat([torch.arange(n, 2 * n), torch.arange(n)]))


def info_nce_loss_mistake_outputs(z1, z2, tau):
    """Catalogue key -> the loss of each known mistake, in float64."""
    n = z1.shape[0]

    def self_kept(z1, z2):
        z = F.normalize(torch.cat([z1, z2]), dim=1)
        return F.cross_entropy(z @ z.T / tau, torch.cat([torch.arange(n, 2 * n), torch.arange(n)]))

    def raw_dot(z1, z2):
        z = torch.cat([z1, z2])
        sim = (z @ z.T / tau).fill_diagonal_(NEG_INF)
        return F.cross_entropy(sim, torch.cat([torch.arange(n, 2 * n), torch.arange(n)]))

    def cross_view(z1, z2, both=False):
        logits = F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).T / tau
        one = F.cross_entropy(logits, torch.arange(n))
        return (one + F.cross_entropy(logits.T, torch.arange(n))) / 2 if both else one

    def interleaved(z1, z2):  # views stacked as rows 2i, 2i + 1 but paired as i, i + N
        z = torch.stack([z1, z2], dim=1).reshape(2 * n, -1)
        return nt_xent_by_cross_entropy(z[:n], z[n:], tau)

    out = {
        "mistake.ch8.info_nce_loss.self_not_excluded": truth(self_kept, z1, z2),
        "mistake.ch8.info_nce_loss.not_normalised": truth(raw_dot, z1, z2),
        "mistake.ch8.info_nce_loss.cross_view_only": truth(cross_view, z1, z2),
        "mistake.ch8.info_nce_loss.cross_view_symmetric": truth(cross_view, z1, z2, both=True),
        "mistake.ch8.info_nce_loss.temperature": truth(nt_xent_by_cross_entropy, z1, z2, 1 / tau),
    }
    if n > 1:
        out["mistake.ch8.info_nce_loss.wrong_positive"] = truth(interleaved, z1, z2)
    return out



def info_nce_stability_causes(z1, z2, tau):
    """Catalogue key -> the loss of NT-Xent with log(sum(exp(logits))) unshifted, in the
    inputs' own dtype (that is where exp() overflows): +inf, never NaN, once a logit passes
    ~88 (float32) or ~709 (float64), which the general rule would call a log of an
    underflow. A loss is one number: where the log of a max-shifted softmax is inf too,
    the inf is named by a message that covers both mistakes, and where only that one is
    inf, by the general rule. As `causes` of `expect_stable`."""
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = (z @ z.T / tau).fill_diagonal_(NEG_INF)
    rows, positives = torch.arange(2 * n), torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    e = torch.exp(sim - sim.amax(dim=1, keepdim=True))
    shifted = -torch.log((e / e.sum(dim=1, keepdim=True))[rows, positives]).mean()
    unshifted = (torch.log(torch.exp(sim).sum(dim=1)) - sim[rows, positives]).mean()
    if bool(torch.isfinite(shifted)):
        return {"mistake.ch8.info_nce_loss.no_max_shift": unshifted}
    # both mistakes give inf here: a message that names both
    return {"mistake.ch8.info_nce_loss.unstable": unshifted} if not bool(torch.isfinite(unshifted)) else {}
