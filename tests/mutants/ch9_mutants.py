"""Chapter 9 variants (correct, written differently) and the mutants the grader
recognises without a mistake of its own: a crash (k larger than the vocabulary, b=None
always added), a non-finite answer (softmax without the max shift, the log of an
underflowed probability), the leading dims. The known mistakes, each with its catalogue
message, are student code registered in `solutions/mistakes/ch9_llm.py`; they are
mutants too (`tests.mutants.mistake_cases`).

Each function is graded as the exercise of the same name with the reference module
`solutions/ch9_llm.py` around it, so it may use torch, math and that module's names;
the imports below only make this file readable on its own.
"""

from __future__ import annotations

import math

import torch

from tests.mutants import mutant, variant

# --------------------------------------------------------------------------- bpe_train


@variant("ch9.bpe_train")
def bpe_train__first_index_bookkeeping(text, num_merges):
    # Explicit (count, -first position) ranking and an in-place style merge with slicing.
    ids = list(text.encode("utf-8"))
    merges = []
    while len(merges) < num_merges:
        count, first = {}, {}
        for i in range(len(ids) - 1):
            pair = (ids[i], ids[i + 1])
            count[pair] = count.get(pair, 0) + 1
            first.setdefault(pair, i)
        ranked = sorted(count, key=lambda p: (-count[p], first[p]))
        if not ranked or count[ranked[0]] < 2:
            break
        pair, new_id = ranked[0], 256 + len(merges)
        i = 0
        while i < len(ids) - 1:
            if (ids[i], ids[i + 1]) == pair:
                ids[i : i + 2] = [new_id]
            i += 1
        merges.append(pair)
    return merges


# -------------------------------------------------------------------------- bpe_encode


@variant("ch9.bpe_encode")
def bpe_encode__lowest_rank_first(text, merges):
    # minbpe style: repeatedly merge the present pair with the lowest merge rank.
    ids = list(text.encode("utf-8"))
    rank = {tuple(p): k for k, p in enumerate(merges)}
    while len(ids) >= 2:
        present = {pair for pair in zip(ids, ids[1:]) if pair in rank}
        if not present:
            break
        pair = min(present, key=rank.__getitem__)
        new_id = 256 + rank[pair]
        out, i = [], 0
        while i < len(ids):
            if ids[i : i + 2] == list(pair):
                out.append(new_id)
                i += 2
            else:
                out.append(ids[i])
                i += 1
        ids = out
    return ids


# -------------------------------------------------------------------------- bpe_decode


@variant("ch9.bpe_decode")
def bpe_decode__expand_with_stack(ids, merges):
    # Expand every id down to bytes with an explicit stack, no vocabulary table.
    out = bytearray()
    stack = list(reversed(ids))
    while stack:
        i = stack.pop()
        if i < 256:
            out.append(i)
        else:
            a, b = merges[i - 256]
            stack.extend([b, a])
    return bytes(out).decode("utf-8", errors="replace")


# ------------------------------------------------------------------------ top_k_filter


@mutant("ch9.top_k_filter", expect=r"k >= V|k > V|larger|vocab|out of range")
def top_k_filter__k_larger_than_vocab(logits, k):
    # No clamp: torch.topk raises when k > V.
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


@variant("ch9.top_k_filter")
def top_k_filter__sort_threshold(logits, k):
    sorted_logits = torch.sort(logits, dim=-1, descending=True).values
    kth = sorted_logits[..., min(k, logits.shape[-1]) - 1].unsqueeze(-1)
    return torch.where(logits >= kth, logits, torch.full_like(logits, -math.inf))


# ------------------------------------------------------------------------ top_p_filter


@variant("ch9.top_p_filter")
def top_p_filter__row_loop(logits, p):
    # One row at a time in plain Python: sort indices by (-probability, index), then
    # walk down while the mass accumulated so far is below p.
    probs = torch.softmax(logits, dim=-1)
    flat_probs = probs.reshape(-1, probs.shape[-1]).tolist()
    keep = torch.zeros(len(flat_probs), probs.shape[-1], dtype=torch.bool)
    for row, prob_row in enumerate(flat_probs):
        order = sorted(range(len(prob_row)), key=lambda i: (-prob_row[i], i))
        total = 0.0
        for rank, i in enumerate(order):
            if rank > 0 and not total < p:
                break
            keep[row, i] = True
            total += prob_row[i]
    keep = keep.reshape(logits.shape).to(logits.device)
    return torch.where(keep, logits, torch.full_like(logits, float("-inf")))


# ------------------------------------------------------------------------ sample_token


@variant("ch9.sample_token")
def sample_token__searchsorted(logits, temperature, u):
    if temperature == 0:
        # max, then the first position holding it
        is_max = logits == logits.amax(dim=-1, keepdim=True)
        return is_max.to(torch.int64).argmax(dim=-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    cdf = torch.cumsum(probs, dim=-1).contiguous()
    u = torch.as_tensor(u, device=cdf.device, dtype=cdf.dtype)
    idx = torch.searchsorted(cdf, u.unsqueeze(-1).contiguous(), right=True).squeeze(-1)
    return torch.clamp(idx, max=logits.shape[-1] - 1)


# -------------------------------------------------------------------------- perplexity


@mutant("ch9.perplexity", expect=r"NaN .*overflowed.*maximum")
def perplexity__naive_softmax(logits, targets, ignore_index=-100):
    # exp without subtracting the max: overflows for large logits.
    valid = targets != ignore_index
    probs = torch.exp(logits) / torch.exp(logits).sum(dim=-1, keepdim=True)
    safe = torch.where(valid, targets, torch.zeros_like(targets))
    nll = -torch.log(probs.gather(-1, safe.unsqueeze(-1)).squeeze(-1))
    return torch.exp(nll[valid].mean())


@mutant("ch9.perplexity", expect=r"log of a probability that underflowed")
def perplexity__log_of_shifted_softmax(logits, targets, ignore_index=-100):
    # Shifts by the max (no overflow) but takes the log of the softmax: a target far
    # below the max has probability 0 in float32, and log(0) = -inf.
    valid = targets != ignore_index
    z = logits - logits.max(dim=-1, keepdim=True).values
    probs = torch.exp(z) / torch.exp(z).sum(dim=-1, keepdim=True)
    safe = torch.where(valid, targets, torch.zeros_like(targets))
    nll = -torch.log(probs.gather(-1, safe.unsqueeze(-1)).squeeze(-1))
    return torch.exp(nll[valid].mean())


@variant("ch9.perplexity")
def perplexity__masked_sum_over_count(logits, targets, ignore_index=-100):
    # A loop-free masked mean: sum of the kept cross-entropies over their count.
    valid = targets != ignore_index
    lse = torch.logsumexp(logits, dim=-1)
    picked = logits.gather(-1, torch.where(valid, targets, 0).unsqueeze(-1)).squeeze(-1)
    ce = torch.where(valid, lse - picked, torch.zeros_like(lse))
    return torch.exp(ce.sum() / valid.sum())


@variant("ch9.perplexity")
def perplexity__log_softmax_masked_select(logits, targets, ignore_index=-100):
    valid = targets != ignore_index
    logp = torch.log_softmax(logits[valid], dim=-1)  # (M, V) for the M kept tokens
    nll = -logp.gather(-1, targets[valid].unsqueeze(-1))
    return nll.mean().exp()


@variant("ch9.perplexity")
def perplexity__builtin_cross_entropy(logits, targets, ignore_index=-100):
    ce = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=ignore_index
    )
    return torch.exp(ce)


# --------------------------------------------------------------------- kv_cache_attend


@variant("ch9.kv_cache_attend")
def kv_cache_attend__einsum(q_t, k_t, v_t, cache_k, cache_v):
    keys = torch.cat((cache_k, k_t), dim=2)
    values = torch.cat((cache_v, v_t), dim=2)
    scores = torch.einsum("nhqd,nhkd->nhqk", q_t, keys) * q_t.shape[-1] ** -0.5
    scores = scores - scores.amax(dim=-1, keepdim=True)
    weights = scores.exp() / scores.exp().sum(dim=-1, keepdim=True)
    return torch.einsum("nhqk,nhkd->nhqd", weights, values), keys, values


@variant("ch9.kv_cache_attend")
def kv_cache_attend__builtin_sdpa(q_t, k_t, v_t, cache_k, cache_v):
    keys = torch.cat([cache_k, k_t], dim=-2)
    values = torch.cat([cache_v, v_t], dim=-2)
    out = torch.nn.functional.scaled_dot_product_attention(q_t, keys, values)
    return out, keys, values


# -------------------------------------------------------------------------------- rope


@variant("ch9.rope")
def rope__complex_multiplication(x, positions, base=10000.0):
    # LLaMA style: view pairs as complex numbers and multiply by e^{i theta}.
    d = x.shape[-1]
    exponent = torch.arange(0, d, 2, device=x.device, dtype=x.dtype) / d
    theta = torch.outer(positions.to(x.dtype), 1.0 / base**exponent)  # (T, d/2)
    rotation = torch.polar(torch.ones_like(theta), theta)
    z = torch.view_as_complex(x.reshape(*x.shape[:-1], d // 2, 2).contiguous())
    return torch.view_as_real(z * rotation).reshape(x.shape)


# ------------------------------------------------------------------------ lora_forward


@variant("ch9.lora_forward")
def lora_forward__merged_weight(x, W, b, A, B, alpha):
    # The merged layer used at deployment: W + (alpha / r) B A.
    W_merged = W + (alpha / A.shape[0]) * (B @ A)
    return torch.nn.functional.linear(x, W_merged, b)


@mutant("ch9.lora_forward", expect=r"promises x \(\.\.\., D_in\)")
def lora_forward__flattens_leading_dims(x, W, b, A, B, alpha):
    # Written for (N, D_in) rows: flattens the leading dims and never puts them back.
    x2 = x.reshape(-1, x.shape[-1])
    y = x2 @ W.T + (alpha / A.shape[0]) * (x2 @ A.T @ B.T)
    return y if b is None else y + b


@mutant("ch9.lora_forward", expect=r"NoneType")
def lora_forward__bias_always_added(x, W, b, A, B, alpha):
    # Always adds b: a frozen layer without bias (b=None) crashes.
    return x @ W.T + b + (alpha / A.shape[0]) * ((x @ A.T) @ B.T)


@variant("ch9.lora_forward")
def lora_forward__einsum_any_leading_dims(x, W, b, A, B, alpha):
    # einsum with an ellipsis: any leading dims; the bias only when there is one.
    down = torch.einsum("...i,ri->...r", x, A)
    y = torch.einsum("...i,oi->...o", x, W) + (alpha / A.shape[0]) * torch.einsum("...r,or->...o", down, B)
    if b is not None:
        y = y + b
    return y


@variant("ch9.lora_forward")
def lora_forward__two_linear_calls(x, W, b, A, B, alpha):
    # F.linear handles b=None and leading dims itself.
    F = torch.nn.functional
    return F.linear(x, W, b) + F.linear(F.linear(x, A), B) * (alpha / A.shape[0])
