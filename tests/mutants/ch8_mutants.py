"""Chapter 8 mutants (realistic student mistakes) and variants (correct, written differently).

Each function is graded as if it were the student's `<name>` appended to
`solutions/ch8_transformers.py`, so it uses only torch, math, F
(torch.nn.functional) and the reference module's own functions.

The known mistakes of the catalogue are registered student code in
`solutions/mistakes/ch8_transformers.py`, graded as mutants by `mistake_cases()`; only
the variants and the mutants the grader recognises otherwise (a transposed output, an
overwrite by scatter_, masking by adding -1e4, an overflow or underflow) stay here.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from solutions.ch8_transformers import multi_head_attention, scaled_dot_product_attention
from tests.mutants import mutant, variant

# ----------------------------------------------------------------------------- embedding_backward


@mutant("ch8.embedding_backward", expect=r"shape|transpose")
def embedding_backward__transposed(dout, idx, vocab_size):
    E = dout.shape[-1]
    dW = torch.zeros(vocab_size, E, dtype=dout.dtype, device=dout.device)
    dW.index_add_(0, idx.reshape(-1), dout.reshape(-1, E))
    return dW.T


@mutant("ch8.embedding_backward", expect=r"repeat|duplicate|accumulat|add up|overwrit")
def embedding_backward__scatter_without_add(dout, idx, vocab_size):
    E = dout.shape[-1]
    dW = torch.zeros(vocab_size, E, dtype=dout.dtype, device=dout.device)
    # scatter_ writes, it does not add: one occurrence of a repeated token survives
    return dW.scatter_(0, idx.reshape(-1, 1).expand(-1, E), dout.reshape(-1, E))


@variant("ch8.embedding_backward")
def embedding_backward__one_hot_matmul(dout, idx, vocab_size):
    E = dout.shape[-1]
    one_hot = F.one_hot(idx.reshape(-1), vocab_size).to(dout.dtype)  # (N*T, V)
    return one_hot.T @ dout.reshape(-1, E)


@variant("ch8.embedding_backward")
def embedding_backward__loop(dout, idx, vocab_size):
    E = dout.shape[-1]
    dW = torch.zeros(vocab_size, E, dtype=dout.dtype, device=dout.device)
    flat_idx = idx.reshape(-1).tolist()
    flat_dout = dout.reshape(-1, E)
    for row, token in enumerate(flat_idx):
        dW[token] = dW[token] + flat_dout[row]
    return dW


# ----------------------------------------------------------------------------- causal_mask


@mutant("ch8.causal_mask", expect=r"upper|future|transpose|below")
def causal_mask__upper_triangle(T, device=None):
    return torch.ones(T, T, dtype=torch.bool, device=device).triu()


@mutant("ch8.causal_mask", expect=r"diagonal|itself")
def causal_mask__strict_lower(T, device=None):
    return torch.ones(T, T, dtype=torch.bool, device=device).tril(diagonal=-1)


@mutant("ch8.causal_mask", expect=r"bool|dtype")
def causal_mask__float_mask(T, device=None):
    return torch.ones(T, T, device=device).tril()


@variant("ch8.causal_mask")
def causal_mask__arange_compare(T, device=None):
    pos = torch.arange(T, device=device)
    return pos.unsqueeze(1) >= pos.unsqueeze(0)  # row i, column j: j <= i


@variant("ch8.causal_mask")
def causal_mask__not_strict_upper(T, device=None):
    return ~torch.ones(T, T, dtype=torch.bool, device=device).triu(diagonal=1)


# ----------------------------------------------------------------------------- scaled_dot_product_attention


@mutant("ch8.scaled_dot_product_attention", expect=r"(?s)^(?!.*inverted).*large negative")
def scaled_dot_product_attention__additive_minus_1e4(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores + (~mask).to(scores.dtype) * -1e4  # the float16 trick of some codebases
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


@variant("ch8.scaled_dot_product_attention")
def scaled_dot_product_attention__minus_1e9_and_empty_rows_zeroed(q, k, v, mask=None):
    # -1e9 instead of -inf is exact for scores far above -1e9 (exp underflows to 0 all the
    # same); the contract only asks that a row with no allowed key be all zeros
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is None:
        weights = torch.softmax(scores, dim=-1)
    else:
        weights = torch.softmax(scores.masked_fill(~mask, -1e9), dim=-1)
        weights = weights * mask.any(dim=-1, keepdim=True)
    return weights @ v, weights


@mutant("ch8.scaled_dot_product_attention", expect=r"overflow|stable|finite|nan|inf|max")
def scaled_dot_product_attention__no_max_subtraction(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    exp_scores = torch.exp(scores)
    if mask is not None:
        exp_scores = exp_scores * mask
    denom = exp_scores.sum(dim=-1, keepdim=True)
    weights = exp_scores / torch.where(denom > 0, denom, torch.ones_like(denom))
    return weights @ v, weights


@variant("ch8.scaled_dot_product_attention")
def scaled_dot_product_attention__einsum_softmax(q, k, v, mask=None):
    scores = torch.einsum("...qd,...kd->...qk", q, k) * (q.shape[-1] ** -0.5)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        weights = torch.where(mask.any(dim=-1, keepdim=True), weights, torch.zeros_like(weights))
    else:
        weights = torch.softmax(scores, dim=-1)
    return torch.einsum("...qk,...kd->...qd", weights, v), weights


@variant("ch8.scaled_dot_product_attention")
def scaled_dot_product_attention__logsumexp(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    # exp(s - logsumexp(s)); a fully masked row gives exp(-inf - (-inf)) = NaN -> 0
    weights = torch.nan_to_num(torch.exp(scores - torch.logsumexp(scores, dim=-1, keepdim=True)), nan=0.0)
    return weights @ v, weights


# ----------------------------------------------------------------------------- multi_head_attention


@variant("ch8.multi_head_attention")
def multi_head_attention__loop_over_heads(
    query, key, value, W_q, W_k, W_v, W_o, b_q, b_k, b_v, b_o, num_heads, mask=None
):
    N, T, E = query.shape
    S = key.shape[1]
    d = E // num_heads
    outputs = []
    for h in range(num_heads):
        rows = slice(h * d, (h + 1) * d)  # head h owns these output features
        q = query @ W_q[rows].T + b_q[rows]  # (N, T, d)
        k = key @ W_k[rows].T + b_k[rows]  # (N, S, d)
        v = value @ W_v[rows].T + b_v[rows]
        # head h's slice of the mask, broadcast to (N, num_heads, T, S) first
        head_mask = None if mask is None else mask.expand(N, num_heads, T, S)[:, h]
        out, _ = scaled_dot_product_attention(q, k, v, head_mask)
        outputs.append(out)
    return torch.cat(outputs, dim=-1) @ W_o.T + b_o


@variant("ch8.multi_head_attention")
def multi_head_attention__einsum(
    query, key, value, W_q, W_k, W_v, W_o, b_q, b_k, b_v, b_o, num_heads, mask=None
):
    N, T, E = query.shape
    S = key.shape[1]
    d = E // num_heads
    q = torch.einsum("nte,fe->ntf", query, W_q).add(b_q).view(N, T, num_heads, d)
    k = torch.einsum("nse,fe->nsf", key, W_k).add(b_k).view(N, S, num_heads, d)
    v = torch.einsum("nse,fe->nsf", value, W_v).add(b_v).view(N, S, num_heads, d)
    scores = torch.einsum("nthd,nshd->nhts", q, k) / math.sqrt(d)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        allowed = mask.expand_as(scores).any(dim=-1, keepdim=True)
        weights = torch.where(allowed, weights, torch.zeros_like(weights))
    heads = torch.einsum("nhts,nshd->nthd", weights, v).reshape(N, T, E)
    return torch.einsum("ntf,ef->nte", heads, W_o) + b_o


# ----------------------------------------------------------------------------- sinusoidal_positional_encoding


@mutant("ch8.sinusoidal_positional_encoding", expect=r"dtype|float32|float64")
def sinusoidal_positional_encoding__float64_output(T, d):
    pos = torch.arange(T, dtype=torch.float64).unsqueeze(1)
    angles = pos / torch.pow(10000.0, torch.arange(0, d, 2, dtype=torch.float64) / d)
    pe = torch.zeros(T, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : d // 2])
    return pe


@variant("ch8.sinusoidal_positional_encoding")
def sinusoidal_positional_encoding__float32_exp_log(T, d):
    # The widespread float32 recipe: 10000^(-2i/d) = exp(-2i ln(10000) / d).
    position = torch.arange(T, dtype=torch.float32).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))
    pe = torch.zeros(T, d)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term[: d // 2])
    return pe


@variant("ch8.sinusoidal_positional_encoding")
def sinusoidal_positional_encoding__python_loops(T, d):
    rows = []
    for p in range(T):
        row = []
        for col in range(d):
            angle = p / 10000.0 ** ((col - col % 2) / d)
            row.append(math.sin(angle) if col % 2 == 0 else math.cos(angle))
        rows.append(row)
    return torch.tensor(rows, dtype=torch.float32).reshape(T, d)


# ----------------------------------------------------------------------------- transformer_encoder_layer


@variant("ch8.transformer_encoder_layer")
def transformer_encoder_layer__manual_norm_and_linear(x, params, num_heads, mask=None):
    p = params

    def layer_norm(t, w, b):
        mean = t.mean(dim=-1, keepdim=True)
        var = t.var(dim=-1, unbiased=False, keepdim=True)
        return (t - mean) / torch.sqrt(var + 1e-5) * w + b

    a = layer_norm(x, p["ln1_w"], p["ln1_b"])
    h = x + multi_head_attention(
        a, a, a, p["W_q"], p["W_k"], p["W_v"], p["W_o"],
        p["b_q"], p["b_k"], p["b_v"], p["b_o"], num_heads, mask,
    )
    f = layer_norm(h, p["ln2_w"], p["ln2_b"])
    return h + F.linear(F.relu(F.linear(f, p["W_1"], p["b_1"])), p["W_2"], p["b_2"])


@variant("ch8.transformer_encoder_layer")
def transformer_encoder_layer__fused_qkv(x, params, num_heads, mask=None):
    p = params
    N, T, E = x.shape
    d = E // num_heads
    a = F.layer_norm(x, (E,), p["ln1_w"], p["ln1_b"])
    # one (3E, E) projection, as nn.MultiheadAttention's in_proj_weight
    W_in = torch.cat([p["W_q"], p["W_k"], p["W_v"]])
    b_in = torch.cat([p["b_q"], p["b_k"], p["b_v"]])
    qkv = F.linear(a, W_in, b_in).reshape(N, T, 3, num_heads, d).permute(2, 0, 3, 1, 4)
    heads, _ = scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], mask)  # (N, h, T, d)
    h = x + F.linear(heads.transpose(1, 2).reshape(N, T, E), p["W_o"], p["b_o"])
    f = F.layer_norm(h, (E,), p["ln2_w"], p["ln2_b"])
    return h + F.linear(torch.clamp_min(F.linear(f, p["W_1"], p["b_1"]), 0), p["W_2"], p["b_2"])


# ----------------------------------------------------------------------------- info_nce_loss


@mutant("ch8.info_nce_loss", expect=r"(?s)^(?!.*Shifting by the max is not enough).*overflow")
def info_nce_loss__logsumexp_without_max_shift(z1, z2, temperature):
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = (z @ z.T / temperature).masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    positives = (torch.arange(2 * n, device=z.device) + n) % (2 * n)
    lse = torch.log(torch.exp(sim).sum(dim=1))  # exp(1 / temperature) overflows: lse = inf
    return (lse - sim[torch.arange(2 * n), positives]).mean()


@mutant("ch8.info_nce_loss", expect=r"(?s)^(?!.*Shifting by the max is not enough).*overflow")
def info_nce_loss__naive_log_of_softmax(z1, z2, temperature):
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = (z @ z.T / temperature).masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    positives = (torch.arange(2 * n, device=z.device) + n) % (2 * n)
    e = torch.exp(sim)  # inf / inf = NaN for a small temperature
    return -torch.log(e[torch.arange(2 * n), positives] / e.sum(dim=1)).mean()


# shifts by the max, then takes log(softmax): told about the underflow, not to shift
@mutant("ch8.info_nce_loss", expect=r"(?s)^(?!.*before exponentiating)(?!.*subtract each row).*underflowed to 0")
def info_nce_loss__log_of_shifted_softmax(z1, z2, temperature):
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = (z @ z.T / temperature).masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    positives = (torch.arange(2 * n, device=z.device) + n) % (2 * n)
    e = torch.exp(sim - sim.amax(dim=1, keepdim=True))
    p = e / e.sum(dim=1, keepdim=True)  # a far positive's probability underflows to 0
    return -torch.log(p[torch.arange(2 * n), positives]).mean()


@variant("ch8.info_nce_loss")
def info_nce_loss__log_softmax(z1, z2, temperature):
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = (z @ z.T / temperature).masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    positives = (torch.arange(2 * n, device=z.device) + n) % (2 * n)
    return -F.log_softmax(sim, dim=1)[torch.arange(2 * n), positives].mean()


@variant("ch8.info_nce_loss")
def info_nce_loss__logsumexp_of_offdiagonal(z1, z2, temperature):
    z = torch.cat([z1, z2])
    z = z / z.norm(dim=1, keepdim=True)
    n2 = z.shape[0]
    sim = z @ z.T / temperature
    off = ~torch.eye(n2, dtype=torch.bool, device=z.device)
    others = sim[off].reshape(n2, n2 - 1)  # each row without its diagonal
    positive = sim.roll(n2 // 2, dims=1).diagonal()  # sim[i, (i + N) % 2N]
    return (torch.logsumexp(others, dim=1) - positive).mean()


@variant("ch8.info_nce_loss")
def info_nce_loss__cross_entropy(z1, z2, temperature):
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    labels = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(sim, labels)


@variant("ch8.info_nce_loss")
def info_nce_loss__loop_over_anchors(z1, z2, temperature):
    n = z1.shape[0]
    z = torch.cat([z1, z2])
    total = torch.zeros((), dtype=z.dtype, device=z.device)
    for i in range(2 * n):
        others = [j for j in range(2 * n) if j != i]
        sims = F.cosine_similarity(z[i].unsqueeze(0), z[others], dim=1) / temperature
        positive = others.index((i + n) % (2 * n))
        total = total + torch.logsumexp(sims, dim=0) - sims[positive]
    return total / (2 * n)
