"""Chapter 8, the reference side of known mistakes and of the truths the checks compare
against.

Known mistakes: realistic student code for each `mistake.ch8.*` message of the
catalogue, registered by its key (`solutions.mistakes.mistake`). Each is written as a
student would write the exercise function in `solutions/ch8_transformers.py`, and runs
in that module's namespace (torch, math, F and the chapter's functions such as
`scaled_dot_product_attention` and `multi_head_attention`, as the references define
them), so the mutant suite can grade it as a submission unchanged. They use a stable
softmax or cross-entropy, finite wherever the truth is (but for the `fully_masked_nan`
ones, whose NaN rows are the mistake), so that an answer that overflows matches none of
them and is named by the stability rule. Mistakes the grader recognises otherwise (a
crash, a non-finite answer, a transposed output, an overwrite of repeated tokens by
scatter_, a finite mask fill that large scores outweigh) stay mutants in
`tests/mutants/ch8_mutants.py`.

Kept as a table: the second form of `fully_masked_uniform` (adding -1e4 to the masked
scores; the registered form is masked_fill with -1e9), as one function cannot have two
forms (`scaled_dot_product_attention_additive_fill`).

Truths: attention weights by a plain softmax, the positional encoding in float64,
NT-Xent as cross-entropy, and the stability causes of NT-Xent, reached through `ref`
(`ref.nt_xent_by_cross_entropy(...)`).

Never shipped in a release: the release carries the recorded outputs only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from grader.precision import truth  # the kept form computed in float64, given back in the inputs' dtype
from solutions.mistakes import mistake

NEG_INF = float("-inf")

# --- truths ---------------------------------------------------------------------------------


def attention_by_softmax(q, k, v, mask=None):
    """(out, weights) of attention by torch.softmax over -inf-filled scores, a row with no
    allowed key given zero weights."""
    d = q.shape[-1]
    scores = q @ k.transpose(-2, -1) * (1 / math.sqrt(d))
    if mask is not None:
        scores = scores.masked_fill(~mask, NEG_INF)
    weights = torch.nan_to_num(torch.softmax(scores, dim=-1), nan=0.0)
    return weights @ v, weights


def positional_encoding_in_float64(T, d):
    """The sinusoidal encoding computed in float64, returned as float32."""
    p = torch.arange(T, dtype=torch.float64).unsqueeze(1)  # (T, 1)
    i = torch.arange((d + 1) // 2, dtype=torch.float64)  # pair index
    angles = p / torch.pow(10000.0, 2 * i / d)  # (T, ceil(d / 2))
    pe = torch.zeros(T, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d // 2])
    return pe.float()


def nt_xent_by_cross_entropy(z1, z2, tau):
    """NT-Xent as cross-entropy over the 2N x 2N cosine-similarity matrix, self excluded."""
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = (z @ z.T / tau).fill_diagonal_(NEG_INF)
    return F.cross_entropy(sim, torch.cat([torch.arange(n, 2 * n), torch.arange(n)]))


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


# --- kept as a table ------------------------------------------------------------------------


def scaled_dot_product_attention_additive_fill(q, k, v, mask=None):
    """The second form of `fully_masked_uniform`, adding -1e4 to the masked scores (a fully
    masked row gets the softmax of its raw scores), in float64; the first form,
    masked_fill with -1e9, is the registered mistake. For `mistakes=`; empty without a mask."""
    if mask is None:
        return {}

    def added(q, k, v):
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        weights = torch.softmax(scores + (~mask).to(scores.dtype) * -1e4, dim=-1)
        return weights @ v, weights

    return {"mistake.ch8.scaled_dot_product_attention.fully_masked_uniform": truth(added, q, k, v)}


# --- embedding_backward ---------------------------------------------------------------------


@mistake("ch8.embedding_backward.assign_overwrites")
def embedding_backward(dout, idx, vocab_size):
    E = dout.shape[-1]
    dW = torch.zeros(vocab_size, E, dtype=dout.dtype, device=dout.device)
    dW[idx.reshape(-1)] = dout.reshape(-1, E)  # last write wins: repeated tokens lose gradient
    return dW


@mistake("ch8.embedding_backward.averaged")
def embedding_backward(dout, idx, vocab_size):
    E = dout.shape[-1]
    dW = torch.zeros(vocab_size, E, dtype=dout.dtype, device=dout.device)
    dW.index_add_(0, idx.reshape(-1), dout.reshape(-1, E))
    counts = torch.bincount(idx.reshape(-1), minlength=vocab_size).clamp_min(1)
    return dW / counts.unsqueeze(1).to(dout.dtype)


# --- sinusoidal_positional_encoding ---------------------------------------------------------


@mistake("ch8.sinusoidal_positional_encoding.sin_cos_swapped")
def sinusoidal_positional_encoding(T, d):
    pos = torch.arange(T, dtype=torch.float64).unsqueeze(1)
    angles = pos / torch.pow(10000.0, torch.arange(0, d, 2, dtype=torch.float64) / d)
    pe = torch.zeros(T, d, dtype=torch.float64)
    pe[:, 0::2] = torch.cos(angles)
    pe[:, 1::2] = torch.sin(angles[:, : d // 2])
    return pe.float()


@mistake("ch8.sinusoidal_positional_encoding.halves_concatenated")
def sinusoidal_positional_encoding(T, d):
    pos = torch.arange(T, dtype=torch.float64).unsqueeze(1)
    angles = pos / torch.pow(10000.0, torch.arange(0, d, 2, dtype=torch.float64) / d)
    # [sin | cos] blocks (as in some codebases) instead of alternating columns
    return torch.cat([torch.sin(angles), torch.cos(angles[:, : d // 2])], dim=1).float()


@mistake("ch8.sinusoidal_positional_encoding.frequency")
def sinusoidal_positional_encoding(T, d):
    pos = torch.arange(T, dtype=torch.float64).unsqueeze(1)
    i = torch.arange((d + 1) // 2, dtype=torch.float64)
    angles = pos / torch.pow(10000.0, i / d)  # forgot the factor 2 in 2i / d
    pe = torch.zeros(T, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d // 2])
    return pe.float()


@mistake("ch8.sinusoidal_positional_encoding.odd_width")
def sinusoidal_positional_encoding(T, d):
    pe = torch.zeros(T, d)
    for i in range(d // 2):  # odd d: the last (sine) column is never written
        angle = torch.arange(T, dtype=torch.float64) / 10000.0 ** (2 * i / d)
        pe[:, 2 * i] = torch.sin(angle).float()
        pe[:, 2 * i + 1] = torch.cos(angle).float()
    return pe


# --- scaled_dot_product_attention -----------------------------------------------------------
# A fully masked row of -inf scores is NaN after torch.softmax: the mistakes that are not
# about such rows give it zero weights, as the contract asks.


@mistake("ch8.scaled_dot_product_attention.scale")
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / q.shape[-1]  # divided by d, not sqrt(d)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = torch.where(mask.any(dim=-1, keepdim=True), weights, torch.zeros_like(weights))
    return weights @ v, weights


@mistake("ch8.scaled_dot_product_attention.unscaled")
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = torch.where(mask.any(dim=-1, keepdim=True), weights, torch.zeros_like(weights))
    return weights @ v, weights


@mistake("ch8.scaled_dot_product_attention.softmax_over_queries")
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.nan_to_num(torch.softmax(scores, dim=-2))
    return weights @ v, weights


# before mask_inverted: where every row is fully masked or fully allowed, an inverted mask
# and masked_fill with -1e9 give the same answer, and the constant is the likelier
@mistake("ch8.scaled_dot_product_attention.fully_masked_uniform")
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, -1e9)  # a fully masked row becomes uniform
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


@mistake("ch8.scaled_dot_product_attention.mask_inverted")
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))  # nn.MultiheadAttention's convention
    weights = torch.nan_to_num(torch.softmax(scores, dim=-1))
    return weights @ v, weights


@mistake("ch8.scaled_dot_product_attention.mask_after_softmax")
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        weights = weights * mask  # zeroes the masked keys but does not renormalise
    return weights @ v, weights


@mistake("ch8.scaled_dot_product_attention.fully_masked_nan")
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # NaN on a fully masked row
    return weights @ v, weights


@mistake("ch8.scaled_dot_product_attention.mask_ignored")
def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    weights = torch.softmax(scores, dim=-1)  # the mask is never used
    return weights @ v, weights


# --- multi_head_attention -------------------------------------------------------------------


@mistake("ch8.multi_head_attention.merge_without_transpose")
def multi_head_attention(query, key, value, W_q, W_k, W_v, W_o, b_q, b_k, b_v, b_o, num_heads, mask=None):
    N, T, E = query.shape
    S = key.shape[1]
    d = E // num_heads
    q = (query @ W_q.T + b_q).reshape(N, T, num_heads, d).transpose(1, 2)
    k = (key @ W_k.T + b_k).reshape(N, S, num_heads, d).transpose(1, 2)
    v = (value @ W_v.T + b_v).reshape(N, S, num_heads, d).transpose(1, 2)
    heads, _ = scaled_dot_product_attention(q, k, v, mask)
    return heads.reshape(N, T, E) @ W_o.T + b_o  # (N, h, T, d) read as (N, T, E)


@mistake("ch8.multi_head_attention.split_without_transpose")
def multi_head_attention(query, key, value, W_q, W_k, W_v, W_o, b_q, b_k, b_v, b_o, num_heads, mask=None):
    N, T, E = query.shape
    S = key.shape[1]
    d = E // num_heads
    q = (query @ W_q.T + b_q).reshape(N, num_heads, T, d)
    k = (key @ W_k.T + b_k).reshape(N, num_heads, S, d)
    v = (value @ W_v.T + b_v).reshape(N, num_heads, S, d)
    heads, _ = scaled_dot_product_attention(q, k, v, mask)
    return heads.transpose(1, 2).reshape(N, T, E) @ W_o.T + b_o


@mistake("ch8.multi_head_attention.head_order")
def multi_head_attention(query, key, value, W_q, W_k, W_v, W_o, b_q, b_k, b_v, b_o, num_heads, mask=None):
    N, T, E = query.shape
    S = key.shape[1]
    d = E // num_heads
    # (N, L, d, heads): head h takes features h, h + heads, ... instead of a contiguous block
    q = (query @ W_q.T + b_q).reshape(N, T, d, num_heads).permute(0, 3, 1, 2)
    k = (key @ W_k.T + b_k).reshape(N, S, d, num_heads).permute(0, 3, 1, 2)
    v = (value @ W_v.T + b_v).reshape(N, S, d, num_heads).permute(0, 3, 1, 2)
    heads, _ = scaled_dot_product_attention(q, k, v, mask)
    return heads.permute(0, 2, 3, 1).reshape(N, T, E) @ W_o.T + b_o


@mistake("ch8.multi_head_attention.scale")
def multi_head_attention(query, key, value, W_q, W_k, W_v, W_o, b_q, b_k, b_v, b_o, num_heads, mask=None):
    N, T, E = query.shape
    S = key.shape[1]
    d = E // num_heads
    q = (query @ W_q.T + b_q).reshape(N, T, num_heads, d).transpose(1, 2)
    k = (key @ W_k.T + b_k).reshape(N, S, num_heads, d).transpose(1, 2)
    v = (value @ W_v.T + b_v).reshape(N, S, num_heads, d).transpose(1, 2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(E)  # should be sqrt(E / num_heads)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.nan_to_num(torch.softmax(scores, dim=-1))
    heads = weights @ v
    return heads.transpose(1, 2).reshape(N, T, E) @ W_o.T + b_o


@mistake("ch8.multi_head_attention.weights_not_transposed")
def multi_head_attention(query, key, value, W_q, W_k, W_v, W_o, b_q, b_k, b_v, b_o, num_heads, mask=None):
    N, T, E = query.shape
    S = key.shape[1]
    d = E // num_heads
    q = (query @ W_q + b_q).reshape(N, T, num_heads, d).transpose(1, 2)
    k = (key @ W_k + b_k).reshape(N, S, num_heads, d).transpose(1, 2)
    v = (value @ W_v + b_v).reshape(N, S, num_heads, d).transpose(1, 2)
    heads, _ = scaled_dot_product_attention(q, k, v, mask)
    return heads.transpose(1, 2).reshape(N, T, E) @ W_o + b_o


# before mask_ignored and mask_inverted: with a single key, ignoring the mask (or, where
# every row is masked, inverting it) and masked_fill with -1e9 give the same answer, and
# the constant is the likelier
@mistake("ch8.multi_head_attention.fully_masked_row")
def multi_head_attention(query, key, value, W_q, W_k, W_v, W_o, b_q, b_k, b_v, b_o, num_heads, mask=None):
    N, T, E = query.shape
    S = key.shape[1]
    d = E // num_heads
    q = (query @ W_q.T + b_q).reshape(N, T, num_heads, d).transpose(1, 2)
    k = (key @ W_k.T + b_k).reshape(N, S, num_heads, d).transpose(1, 2)
    v = (value @ W_v.T + b_v).reshape(N, S, num_heads, d).transpose(1, 2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)
    if mask is not None:
        scores = scores.masked_fill(~mask, -1e9)  # a fully masked row averages all values
    heads = torch.softmax(scores, dim=-1) @ v
    return heads.transpose(1, 2).reshape(N, T, E) @ W_o.T + b_o


@mistake("ch8.multi_head_attention.mask_ignored")
def multi_head_attention(query, key, value, W_q, W_k, W_v, W_o, b_q, b_k, b_v, b_o, num_heads, mask=None):
    N, T, E = query.shape
    S = key.shape[1]
    d = E // num_heads
    q = (query @ W_q.T + b_q).reshape(N, T, num_heads, d).transpose(1, 2)
    k = (key @ W_k.T + b_k).reshape(N, S, num_heads, d).transpose(1, 2)
    v = (value @ W_v.T + b_v).reshape(N, S, num_heads, d).transpose(1, 2)
    heads, _ = scaled_dot_product_attention(q, k, v)  # the mask is not passed on
    return heads.transpose(1, 2).reshape(N, T, E) @ W_o.T + b_o


@mistake("ch8.multi_head_attention.mask_inverted")
def multi_head_attention(query, key, value, W_q, W_k, W_v, W_o, b_q, b_k, b_v, b_o, num_heads, mask=None):
    N, T, E = query.shape
    S = key.shape[1]
    d = E // num_heads
    q = (query @ W_q.T + b_q).reshape(N, T, num_heads, d).transpose(1, 2)
    k = (key @ W_k.T + b_k).reshape(N, S, num_heads, d).transpose(1, 2)
    v = (value @ W_v.T + b_v).reshape(N, S, num_heads, d).transpose(1, 2)
    # nn.MultiheadAttention's convention (True = hidden) carried over
    heads, _ = scaled_dot_product_attention(q, k, v, None if mask is None else ~mask)
    return heads.transpose(1, 2).reshape(N, T, E) @ W_o.T + b_o


@mistake("ch8.multi_head_attention.fully_masked_nan")
def multi_head_attention(query, key, value, W_q, W_k, W_v, W_o, b_q, b_k, b_v, b_o, num_heads, mask=None):
    N, T, E = query.shape
    S = key.shape[1]
    d = E // num_heads
    q = (query @ W_q.T + b_q).reshape(N, T, num_heads, d).transpose(1, 2)
    k = (key @ W_k.T + b_k).reshape(N, S, num_heads, d).transpose(1, 2)
    v = (value @ W_v.T + b_v).reshape(N, S, num_heads, d).transpose(1, 2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    heads = torch.softmax(scores, dim=-1) @ v  # NaN where a row has no allowed key
    return heads.transpose(1, 2).reshape(N, T, E) @ W_o.T + b_o


# --- transformer_encoder_layer --------------------------------------------------------------


@mistake("ch8.transformer_encoder_layer.post_norm")
def transformer_encoder_layer(x, params, num_heads, mask=None):
    p = params
    E = x.shape[-1]
    attn = multi_head_attention(
        x, x, x, p["W_q"], p["W_k"], p["W_v"], p["W_o"],
        p["b_q"], p["b_k"], p["b_v"], p["b_o"], num_heads, mask,
    )
    h = F.layer_norm(x + attn, (E,), p["ln1_w"], p["ln1_b"], eps=1e-5)
    ff = torch.relu(h @ p["W_1"].T + p["b_1"]) @ p["W_2"].T + p["b_2"]
    return F.layer_norm(h + ff, (E,), p["ln2_w"], p["ln2_b"], eps=1e-5)


@mistake("ch8.transformer_encoder_layer.no_ffn_residual")
def transformer_encoder_layer(x, params, num_heads, mask=None):
    p = params
    E = x.shape[-1]
    a = F.layer_norm(x, (E,), p["ln1_w"], p["ln1_b"], eps=1e-5)
    h = x + multi_head_attention(
        a, a, a, p["W_q"], p["W_k"], p["W_v"], p["W_o"],
        p["b_q"], p["b_k"], p["b_v"], p["b_o"], num_heads, mask,
    )
    f = F.layer_norm(h, (E,), p["ln2_w"], p["ln2_b"], eps=1e-5)
    return torch.relu(f @ p["W_1"].T + p["b_1"]) @ p["W_2"].T + p["b_2"]


@mistake("ch8.transformer_encoder_layer.no_attention_residual")
def transformer_encoder_layer(x, params, num_heads, mask=None):
    p = params
    E = x.shape[-1]
    a = F.layer_norm(x, (E,), p["ln1_w"], p["ln1_b"], eps=1e-5)
    h = multi_head_attention(
        a, a, a, p["W_q"], p["W_k"], p["W_v"], p["W_o"],
        p["b_q"], p["b_k"], p["b_v"], p["b_o"], num_heads, mask,
    )  # forgot "x +"
    f = F.layer_norm(h, (E,), p["ln2_w"], p["ln2_b"], eps=1e-5)
    return h + torch.relu(f @ p["W_1"].T + p["b_1"]) @ p["W_2"].T + p["b_2"]


@mistake("ch8.transformer_encoder_layer.activation")
def transformer_encoder_layer(x, params, num_heads, mask=None):
    p = params
    E = x.shape[-1]
    a = F.layer_norm(x, (E,), p["ln1_w"], p["ln1_b"], eps=1e-5)
    h = x + multi_head_attention(
        a, a, a, p["W_q"], p["W_k"], p["W_v"], p["W_o"],
        p["b_q"], p["b_k"], p["b_v"], p["b_o"], num_heads, mask,
    )
    f = F.layer_norm(h, (E,), p["ln2_w"], p["ln2_b"], eps=1e-5)
    return h + F.gelu(f @ p["W_1"].T + p["b_1"]) @ p["W_2"].T + p["b_2"]


@mistake("ch8.transformer_encoder_layer.ln2")
def transformer_encoder_layer(x, params, num_heads, mask=None):
    p = params
    E = x.shape[-1]
    a = F.layer_norm(x, (E,), p["ln1_w"], p["ln1_b"], eps=1e-5)
    h = x + multi_head_attention(
        a, a, a, p["W_q"], p["W_k"], p["W_v"], p["W_o"],
        p["b_q"], p["b_k"], p["b_v"], p["b_o"], num_heads, mask,
    )
    f = F.layer_norm(h, (E,), p["ln1_w"], p["ln1_b"], eps=1e-5)  # should be ln2
    return h + torch.relu(f @ p["W_1"].T + p["b_1"]) @ p["W_2"].T + p["b_2"]


@mistake("ch8.transformer_encoder_layer.mask_ignored")
def transformer_encoder_layer(x, params, num_heads, mask=None):
    p = params
    E = x.shape[-1]
    a = F.layer_norm(x, (E,), p["ln1_w"], p["ln1_b"], eps=1e-5)
    h = x + multi_head_attention(
        a, a, a, p["W_q"], p["W_k"], p["W_v"], p["W_o"],
        p["b_q"], p["b_k"], p["b_v"], p["b_o"], num_heads,
    )  # the mask is not passed on
    f = F.layer_norm(h, (E,), p["ln2_w"], p["ln2_b"], eps=1e-5)
    return h + torch.relu(f @ p["W_1"].T + p["b_1"]) @ p["W_2"].T + p["b_2"]


# --- info_nce_loss --------------------------------------------------------------------------


@mistake("ch8.info_nce_loss.self_not_excluded")
def info_nce_loss(z1, z2, temperature):
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / temperature  # the anchor's own similarity stays in the denominator
    positives = (torch.arange(2 * n, device=z.device) + n) % (2 * n)
    return F.cross_entropy(sim, positives)


@mistake("ch8.info_nce_loss.not_normalised")
def info_nce_loss(z1, z2, temperature):
    n = z1.shape[0]
    z = torch.cat([z1, z2])  # raw dot products, not cosines
    sim = z @ z.T / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    positives = (torch.arange(2 * n, device=z.device) + n) % (2 * n)
    return F.cross_entropy(sim, positives)


@mistake("ch8.info_nce_loss.cross_view_only")
def info_nce_loss(z1, z2, temperature):
    # CLIP-style: z1 anchors against z2 only; misses the same-view negatives and z2's anchors
    a = F.normalize(z1, dim=1)
    b = F.normalize(z2, dim=1)
    logits = a @ b.T / temperature
    return F.cross_entropy(logits, torch.arange(z1.shape[0], device=z1.device))


@mistake("ch8.info_nce_loss.cross_view_symmetric")
def info_nce_loss(z1, z2, temperature):
    a = F.normalize(z1, dim=1)
    b = F.normalize(z2, dim=1)
    logits = a @ b.T / temperature
    labels = torch.arange(z1.shape[0], device=z1.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


@mistake("ch8.info_nce_loss.temperature")
def info_nce_loss(z1, z2, temperature):
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T * temperature  # multiplied instead of divided
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    positives = (torch.arange(2 * n, device=z.device) + n) % (2 * n)
    return F.cross_entropy(sim, positives)


@mistake("ch8.info_nce_loss.wrong_positive")
def info_nce_loss(z1, z2, temperature):
    n = z1.shape[0]
    # views interleaved as rows 2i, 2i + 1, but positives still paired as i, i + N
    z = F.normalize(torch.stack([z1, z2], dim=1).reshape(2 * n, -1), dim=1)
    sim = (z @ z.T / temperature).masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    positives = (torch.arange(2 * n, device=z.device) + n) % (2 * n)
    return F.cross_entropy(sim, positives)
