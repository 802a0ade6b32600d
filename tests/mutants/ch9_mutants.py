"""Chapter 9 mutants (realistic student mistakes) and variants (correct, written differently).

Each function is graded as the exercise of the same name with the reference module
`solutions/ch9_llm.py` around it, so it may use torch, math and that module's names
(`_merge_pair` included); the imports below only make this file readable on its own.
"""

from __future__ import annotations

import math

import torch

from solutions.ch9_llm import _merge_pair
from tests.mutants import mutant, variant

# --------------------------------------------------------------------------- bpe_train


@mutant("ch9.bpe_train", expect=r"overlap")
def bpe_train__non_overlapping_counts(text, num_merges):
    # Counts like str.count: "aaa" holds (a, a) once instead of twice.
    ids = list(text.encode("utf-8"))
    merges = []
    for k in range(num_merges):
        counts = {}
        last_start = {}
        for i, pair in enumerate(zip(ids, ids[1:])):
            if last_start.get(pair, -2) == i - 1:
                continue
            last_start[pair] = i
            counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            break
        best = max(counts, key=counts.__getitem__)
        if counts[best] < 2:
            break
        ids = _merge_pair(ids, best, 256 + k)
        merges.append(best)
    return merges


@mutant("ch9.bpe_train", expect=r"tie")
def bpe_train__tie_smallest_pair(text, num_merges):
    # Ties go to the numerically smallest pair, not to the first one in the text.
    ids = list(text.encode("utf-8"))
    merges = []
    for k in range(num_merges):
        counts = {}
        for pair in zip(ids, ids[1:]):
            counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        if counts[best] < 2:
            break
        ids = _merge_pair(ids, best, 256 + k)
        merges.append(best)
    return merges


@mutant("ch9.bpe_train", expect=r"left to right|skip")
def bpe_train__merge_does_not_skip(text, num_merges):
    # The merge loop advances by one after a match, so the pair's second element stays.
    ids = list(text.encode("utf-8"))
    merges = []
    for k in range(num_merges):
        counts = {}
        for pair in zip(ids, ids[1:]):
            counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            break
        best = max(counts, key=counts.__getitem__)
        if counts[best] < 2:
            break
        new_ids = []
        i = 0
        while i < len(ids):
            if i + 1 < len(ids) and (ids[i], ids[i + 1]) == best:
                new_ids.append(256 + k)
            else:
                new_ids.append(ids[i])
            i += 1
        ids = new_ids
        merges.append(best)
    return merges


@mutant("ch9.bpe_train", expect=r"stop|twice")
def bpe_train__no_early_stop(text, num_merges):
    # Keeps merging pairs that occur only once.
    ids = list(text.encode("utf-8"))
    merges = []
    for k in range(num_merges):
        counts = {}
        for pair in zip(ids, ids[1:]):
            counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            break
        best = max(counts, key=counts.__getitem__)
        ids = _merge_pair(ids, best, 256 + k)
        merges.append(best)
    return merges


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


@mutant("ch9.bpe_encode", expect=r"order")
def bpe_encode__merges_in_reverse_order(text, merges):
    ids = list(text.encode("utf-8"))
    for k in reversed(range(len(merges))):
        ids = _merge_pair(ids, tuple(merges[k]), 256 + k)
    return ids


@mutant("ch9.bpe_encode", expect=r"256|\bid")
def bpe_encode__ids_from_255(text, merges):
    # Off by one: merge k becomes id 255 + k, colliding with the byte 0xFF.
    ids = list(text.encode("utf-8"))
    for k, pair in enumerate(merges):
        ids = _merge_pair(ids, tuple(pair), 255 + k)
    return ids


@mutant("ch9.bpe_encode", expect=r"order|repeat|most frequent")
def bpe_encode__most_frequent_first(text, merges):
    # Re-runs training-style selection (most frequent known pair) instead of merge order.
    ids = list(text.encode("utf-8"))
    rank = {tuple(p): k for k, p in enumerate(merges)}
    while True:
        counts = {}
        for pair in zip(ids, ids[1:]):
            if pair in rank:
                counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            return ids
        best = max(counts, key=counts.__getitem__)
        ids = _merge_pair(ids, best, 256 + rank[best])


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


@mutant("ch9.bpe_decode", expect=r"byte|split|join")
def bpe_decode__decode_each_token(ids, merges):
    # Decodes token by token: a character split across two tokens becomes two U+FFFD.
    vocab = [bytes([i]) for i in range(256)]
    for a, b in merges:
        vocab.append(vocab[a] + vocab[b])
    return "".join(vocab[i].decode("utf-8", errors="replace") for i in ids)


@mutant("ch9.bpe_decode", expect=r"replace|invalid|undecodable")
def bpe_decode__errors_ignored(ids, merges):
    vocab = [bytes([i]) for i in range(256)]
    for a, b in merges:
        vocab.append(vocab[a] + vocab[b])
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="ignore")


@mutant("ch9.bpe_decode", expect=r"order|swap")
def bpe_decode__pair_swapped(ids, merges):
    vocab = [bytes([i]) for i in range(256)]
    for a, b in merges:
        vocab.append(vocab[b] + vocab[a])
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")


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


@mutant("ch9.top_k_filter", expect=r"tie")
def top_k_filter__exactly_k(logits, k):
    # Keeps exactly k indices from topk: logits tied with the k-th largest are dropped.
    k = min(k, logits.shape[-1])
    idx = torch.topk(logits, k, dim=-1).indices
    out = torch.full_like(logits, float("-inf"))
    return out.scatter(-1, idx, logits.gather(-1, idx))


@mutant("ch9.top_k_filter", expect=r"-inf|\binf")
def top_k_filter__zero_instead_of_inf(logits, k):
    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, 0.0)


@mutant("ch9.top_k_filter", expect=r"k >= V|k > V|larger|vocab|out of range")
def top_k_filter__k_larger_than_vocab(logits, k):
    # No clamp: torch.topk raises when k > V.
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


@mutant("ch9.top_k_filter", expect=r">=|k-th largest logit itself")
def top_k_filter__strict_threshold(logits, k):
    # Keeps only logits strictly above the k-th largest: the k-th itself is dropped.
    kth = torch.topk(logits, min(k, logits.shape[-1]), dim=-1).values[..., -1:]
    return logits.masked_fill(logits <= kth, float("-inf"))


@variant("ch9.top_k_filter")
def top_k_filter__sort_threshold(logits, k):
    sorted_logits = torch.sort(logits, dim=-1, descending=True).values
    kth = sorted_logits[..., min(k, logits.shape[-1]) - 1].unsqueeze(-1)
    return torch.where(logits >= kth, logits, torch.full_like(logits, -math.inf))


# ------------------------------------------------------------------------ top_p_filter


@mutant("ch9.top_p_filter", expect=r"before|cross|inclusive")
def top_p_filter__inclusive_cumsum(logits, p):
    # Keeps tokens whose cumulative mass INCLUDING themselves is < p: the token that
    # crosses p is dropped.
    probs = torch.softmax(logits, dim=-1)
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True, stable=True)
    keep_sorted = sorted_probs.cumsum(dim=-1) < p
    keep_sorted[..., 0] = True
    keep = torch.empty_like(keep_sorted).scatter_(-1, order, keep_sorted)
    return logits.masked_fill(~keep, float("-inf"))


@mutant("ch9.top_p_filter", expect=r"tie|equal")
def top_p_filter__ties_higher_index_first(logits, p):
    # Ascending sort then flip: among equal probabilities the higher index comes first.
    probs = torch.softmax(logits, dim=-1)
    sorted_probs, order = torch.sort(probs, dim=-1, stable=True)
    sorted_probs, order = sorted_probs.flip(-1), order.flip(-1)
    cumulative = sorted_probs.cumsum(dim=-1)
    keep_sorted = (cumulative - sorted_probs) < p
    keep_sorted[..., 0] = True
    keep = torch.empty_like(keep_sorted).scatter_(-1, order, keep_sorted)
    return logits.masked_fill(~keep, float("-inf"))


@mutant("ch9.top_p_filter", expect=r"sort|order|position")
def top_p_filter__mask_left_in_sorted_order(logits, p):
    # The mask is computed in sorted order but applied to the unsorted logits.
    probs = torch.softmax(logits, dim=-1)
    sorted_probs = torch.sort(probs, dim=-1, descending=True, stable=True).values
    cumulative = sorted_probs.cumsum(dim=-1)
    keep = (cumulative - sorted_probs) < p
    keep[..., 0] = True
    return logits.masked_fill(~keep, float("-inf"))


@mutant("ch9.top_p_filter", expect=r"sort|order")
def top_p_filter__unsorted_cumsum(logits, p):
    # Forgets to sort: accumulates the mass in vocabulary order.
    probs = torch.softmax(logits, dim=-1)
    before = probs.cumsum(dim=-1) - probs
    return logits.masked_fill(~(before < p), float("-inf"))


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


@mutant("ch9.sample_token", expect=r"exceed|strict|boundary")
def sample_token__cdf_at_least_u(logits, temperature, u):
    # First index with cdf >= u instead of cdf > u.
    if temperature == 0:
        return torch.argmax(logits, dim=-1)
    cdf = torch.softmax(logits / temperature, dim=-1).cumsum(dim=-1)
    u = torch.as_tensor(u, device=cdf.device, dtype=cdf.dtype)
    idx = (cdf < u.unsqueeze(-1)).sum(dim=-1)
    return idx.clamp(max=logits.shape[-1] - 1)


@mutant("ch9.sample_token", expect=r"temperature")
def sample_token__temperature_multiplies(logits, temperature, u):
    if temperature == 0:
        return torch.argmax(logits, dim=-1)
    cdf = torch.softmax(logits * temperature, dim=-1).cumsum(dim=-1)
    u = torch.as_tensor(u, device=cdf.device, dtype=cdf.dtype)
    idx = (cdf <= u.unsqueeze(-1)).sum(dim=-1)
    return idx.clamp(max=logits.shape[-1] - 1)


@mutant("ch9.sample_token", expect=r"temperature|argmax|greedy")
def sample_token__no_greedy_case(logits, temperature, u):
    # Divides by a zero temperature: inf / nan logits instead of argmax.
    cdf = torch.softmax(logits / temperature, dim=-1).cumsum(dim=-1)
    u = torch.as_tensor(u, device=cdf.device, dtype=cdf.dtype)
    idx = (cdf <= u.unsqueeze(-1)).sum(dim=-1)
    return idx.clamp(max=logits.shape[-1] - 1)


@mutant("ch9.sample_token", expect=r"shape|0-d")
def sample_token__always_batched(logits, temperature, u):
    # Treats (V,) as (1, V) and forgets to squeeze the result back to 0-d.
    logits2d = logits.reshape(-1, logits.shape[-1])
    if temperature == 0:
        return torch.argmax(logits2d, dim=-1)
    cdf = torch.softmax(logits2d / temperature, dim=-1).cumsum(dim=-1)
    u = torch.as_tensor(u, device=cdf.device, dtype=cdf.dtype).reshape(-1, 1)
    return (cdf <= u).sum(dim=-1).clamp(max=logits.shape[-1] - 1)


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


@mutant("ch9.perplexity", expect=r"ignore|padding")
def perplexity__ignored_tokens_counted(logits, targets, ignore_index=-100):
    # Zero loss on padding, but the mean still divides by every position.
    valid = targets != ignore_index
    logp = torch.log_softmax(logits, dim=-1)
    safe = torch.where(valid, targets, torch.zeros_like(targets))
    nll = -logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    return torch.exp(torch.where(valid, nll, torch.zeros_like(nll)).mean())


@mutant("ch9.perplexity", expect=r"exp|cross.entropy")
def perplexity__no_exp(logits, targets, ignore_index=-100):
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=ignore_index
    )


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


@mutant("ch9.perplexity", expect=r"mean|average|token|sequence")
def perplexity__mean_of_sequence_perplexities(logits, targets, ignore_index=-100):
    # Averages per-sequence perplexities instead of exponentiating the mean over tokens.
    valid = targets != ignore_index
    logp = torch.log_softmax(logits, dim=-1)
    safe = torch.where(valid, targets, torch.zeros_like(targets))
    nll = -logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1) * valid
    per_seq = nll.sum(dim=1) / valid.sum(dim=1)
    return torch.exp(per_seq).mean()


@mutant("ch9.perplexity", expect=r"every target.*ignore_index.*nan")
def perplexity__count_clamped_to_one(logits, targets, ignore_index=-100):
    # Guards the division: a batch of padding only gives exp(0) = 1 instead of nan.
    valid = targets != ignore_index
    logp = torch.log_softmax(logits, dim=-1)
    safe = torch.where(valid, targets, torch.zeros_like(targets))
    nll = -logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1) * valid
    return torch.exp(nll.sum() / valid.sum().clamp(min=1))


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


@mutant("ch9.kv_cache_attend", expect=r"scal|sqrt")
def kv_cache_attend__no_scaling(q_t, k_t, v_t, cache_k, cache_v):
    cache_k = torch.cat([cache_k, k_t], dim=-2)
    cache_v = torch.cat([cache_v, v_t], dim=-2)
    weights = torch.softmax(q_t @ cache_k.transpose(-2, -1), dim=-1)
    return weights @ cache_v, cache_k, cache_v


@mutant("ch9.kv_cache_attend", expect=r"current|itself|new|append")
def kv_cache_attend__attend_before_append(q_t, k_t, v_t, cache_k, cache_v):
    # Attends over the old cache only, then appends: the token never sees itself.
    scores = q_t @ cache_k.transpose(-2, -1) / math.sqrt(q_t.shape[-1])
    out = torch.softmax(scores, dim=-1) @ cache_v
    return out, torch.cat([cache_k, k_t], dim=-2), torch.cat([cache_v, v_t], dim=-2)


@mutant("ch9.kv_cache_attend", expect=r"cache|append")
def kv_cache_attend__old_caches_returned(q_t, k_t, v_t, cache_k, cache_v):
    keys = torch.cat([cache_k, k_t], dim=-2)
    values = torch.cat([cache_v, v_t], dim=-2)
    scores = q_t @ keys.transpose(-2, -1) / math.sqrt(q_t.shape[-1])
    return torch.softmax(scores, dim=-1) @ values, cache_k, cache_v


@mutant("ch9.kv_cache_attend", expect=r"front|end of the time")
def kv_cache_attend__prepended(q_t, k_t, v_t, cache_k, cache_v):
    # Puts the new step in front of the cache: the output is right, the caches are not.
    keys = torch.cat([k_t, cache_k], dim=-2)
    values = torch.cat([v_t, cache_v], dim=-2)
    weights = torch.softmax(q_t @ keys.transpose(-2, -1) / math.sqrt(q_t.shape[-1]), dim=-1)
    return weights @ values, keys, values


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


@mutant("ch9.rope", expect=r"pair|interleav|adjacent|half")
def rope__half_split_pairs(x, positions, base=10000.0):
    # GPT-NeoX layout: pairs (x[i], x[i + d/2]) instead of (x[2i], x[2i + 1]).
    d = x.shape[-1]
    i = torch.arange(d // 2, device=x.device, dtype=x.dtype)
    theta = positions.to(x.dtype)[:, None] * base ** (-2.0 * i / d)
    cos, sin = theta.cos(), theta.sin()
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


@mutant("ch9.rope", expect=r"sign|direction|clockwise")
def rope__clockwise(x, positions, base=10000.0):
    d = x.shape[-1]
    i = torch.arange(d // 2, device=x.device, dtype=x.dtype)
    theta = positions.to(x.dtype)[:, None] * base ** (-2.0 * i / d)
    cos, sin = theta.cos(), theta.sin()
    xe, xo = x[..., 0::2], x[..., 1::2]
    return torch.stack([xe * cos + xo * sin, -xe * sin + xo * cos], dim=-1).flatten(-2)


@mutant("ch9.rope", expect=r"frequenc|exponent|2i")
def rope__exponent_without_two(x, positions, base=10000.0):
    d = x.shape[-1]
    i = torch.arange(d // 2, device=x.device, dtype=x.dtype)
    theta = positions.to(x.dtype)[:, None] * base ** (-i / d)
    cos, sin = theta.cos(), theta.sin()
    xe, xo = x[..., 0::2], x[..., 1::2]
    return torch.stack([xe * cos - xo * sin, xe * sin + xo * cos], dim=-1).flatten(-2)


@mutant("ch9.rope", expect=r"position")
def rope__ignores_positions(x, positions, base=10000.0):
    # Uses 0..T-1 whatever positions says (wrong for an offset or a KV cache step).
    d, T = x.shape[-1], x.shape[-2]
    i = torch.arange(d // 2, device=x.device, dtype=x.dtype)
    p = torch.arange(T, device=x.device, dtype=x.dtype)
    theta = p[:, None] * base ** (-2.0 * i / d)
    cos, sin = theta.cos(), theta.sin()
    xe, xo = x[..., 0::2], x[..., 1::2]
    return torch.stack([xe * cos - xo * sin, xe * sin + xo * cos], dim=-1).flatten(-2)


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


@mutant("ch9.lora_forward", expect=r"alpha|rank|scal")
def lora_forward__scaled_by_alpha(x, W, b, A, B, alpha):
    # Forgets to divide by the rank r.
    return x @ W.T + b + alpha * (x @ A.T @ B.T)


@mutant("ch9.lora_forward", expect=r"bias")
def lora_forward__bias_dropped(x, W, b, A, B, alpha):
    return x @ W.T + (alpha / A.shape[0]) * (x @ A.T @ B.T)


@mutant("ch9.lora_forward", expect=r"alpha|rank|scal")
def lora_forward__rank_over_alpha(x, W, b, A, B, alpha):
    return x @ W.T + b + (A.shape[0] / alpha) * (x @ A.T @ B.T)


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
