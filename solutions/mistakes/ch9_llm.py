"""Chapter 9, the reference side of known mistakes and of the truths the checks compare
against.

Known mistakes: realistic student code for each `mistake.ch9.*` message of the
catalogue, registered by its key (`solutions.mistakes.mistake`). Each is written as a
student would write the exercise function in `solutions/ch9_llm.py`, and runs in that
module's namespace (torch, math and the chapter's helpers such as `_merge_pair`, as the
references define them), so the mutant suite can grade it as a submission unchanged.
Mistakes the grader recognises otherwise (a crash, a non-finite answer, the leading
dims) stay mutants in `tests/mutants/ch9_mutants.py`.

Truths: LoRA's merged layer, reached through `ref` (`ref.lora_merged_layer(...)`).

Never shipped in a release: the release carries the recorded outputs only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from solutions.ch9_llm import _merge_pair  # noqa: F401  (the mistakes run in that module's namespace anyway)
from solutions.mistakes import mistake

# --- truths ---------------------------------------------------------------------------------


def lora_merged_layer(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor | None, A: torch.Tensor, B: torch.Tensor, alpha: float) -> torch.Tensor:
    """The merged layer W + (alpha / r) B A applied to x: an independent formulation."""
    return F.linear(x, W + (alpha / A.shape[0]) * B @ A, b)


# --- bpe_train ------------------------------------------------------------------------------


@mistake("ch9.bpe_train.non_overlapping_counts")
def bpe_train(text, num_merges):
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


@mistake("ch9.bpe_train.tie_smallest_pair")
def bpe_train(text, num_merges):
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


@mistake("ch9.bpe_train.merge_does_not_skip")
def bpe_train(text, num_merges):
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


@mistake("ch9.bpe_train.no_early_stop")
def bpe_train(text, num_merges):
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


@mistake("ch9.bpe_train.wrong_new_id")
def bpe_train(text, num_merges):
    # Off by one: merge k becomes id 255 + k, so later merges name the wrong tokens.
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
        ids = _merge_pair(ids, best, 255 + k)
        merges.append(best)
    return merges


# --- bpe_encode -----------------------------------------------------------------------------


@mistake("ch9.bpe_encode.merges_in_reverse_order")
def bpe_encode(text, merges):
    ids = list(text.encode("utf-8"))
    for k in reversed(range(len(merges))):
        ids = _merge_pair(ids, tuple(merges[k]), 256 + k)
    return ids


@mistake("ch9.bpe_encode.ids_from_255")
def bpe_encode(text, merges):
    # Off by one: merge k becomes id 255 + k, colliding with the byte 0xFF.
    ids = list(text.encode("utf-8"))
    for k, pair in enumerate(merges):
        ids = _merge_pair(ids, tuple(pair), 255 + k)
    return ids


@mistake("ch9.bpe_encode.most_frequent_first")
def bpe_encode(text, merges):
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


# --- bpe_decode -----------------------------------------------------------------------------


@mistake("ch9.bpe_decode.decode_each_token")
def bpe_decode(ids, merges):
    # Decodes token by token: a character split across two tokens becomes two U+FFFD.
    vocab = [bytes([i]) for i in range(256)]
    for a, b in merges:
        vocab.append(vocab[a] + vocab[b])
    return "".join(vocab[i].decode("utf-8", errors="replace") for i in ids)


@mistake("ch9.bpe_decode.errors_ignored")
def bpe_decode(ids, merges):
    vocab = [bytes([i]) for i in range(256)]
    for a, b in merges:
        vocab.append(vocab[a] + vocab[b])
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="ignore")


@mistake("ch9.bpe_decode.pair_swapped")
def bpe_decode(ids, merges):
    vocab = [bytes([i]) for i in range(256)]
    for a, b in merges:
        vocab.append(vocab[b] + vocab[a])
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")


# --- top_k_filter ---------------------------------------------------------------------------


@mistake("ch9.top_k_filter.exactly_k")
def top_k_filter(logits, k):
    # Keeps exactly k indices from topk: logits tied with the k-th largest are dropped.
    k = min(k, logits.shape[-1])
    idx = torch.topk(logits, k, dim=-1).indices
    out = torch.full_like(logits, float("-inf"))
    return out.scatter(-1, idx, logits.gather(-1, idx))


@mistake("ch9.top_k_filter.zero_instead_of_inf")
def top_k_filter(logits, k):
    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, 0.0)


@mistake("ch9.top_k_filter.strict_threshold")
def top_k_filter(logits, k):
    # Keeps only logits strictly above the k-th largest: the k-th itself is dropped.
    kth = torch.topk(logits, min(k, logits.shape[-1]), dim=-1).values[..., -1:]
    return logits.masked_fill(logits <= kth, float("-inf"))


@mistake("ch9.top_k_filter.wrong_dim")
def top_k_filter(logits, k):
    # topk down the first dimension (the batch, for (N, V) logits) instead of the vocabulary.
    kth = torch.topk(logits, min(k, logits.shape[0]), dim=0).values[-1:]
    return logits.masked_fill(logits < kth, float("-inf"))


# --- top_p_filter ---------------------------------------------------------------------------


@mistake("ch9.top_p_filter.inclusive_cumsum")
def top_p_filter(logits, p):
    # Keeps tokens whose cumulative mass INCLUDING themselves is < p: the token that
    # crosses p is dropped.
    probs = torch.softmax(logits, dim=-1)
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True, stable=True)
    keep_sorted = sorted_probs.cumsum(dim=-1) < p
    keep_sorted[..., 0] = True
    keep = torch.empty_like(keep_sorted).scatter_(-1, order, keep_sorted)
    return logits.masked_fill(~keep, float("-inf"))


@mistake("ch9.top_p_filter.ties_higher_index_first")
def top_p_filter(logits, p):
    # Ascending sort then flip: among equal probabilities the higher index comes first.
    probs = torch.softmax(logits, dim=-1)
    sorted_probs, order = torch.sort(probs, dim=-1, stable=True)
    sorted_probs, order = sorted_probs.flip(-1), order.flip(-1)
    cumulative = sorted_probs.cumsum(dim=-1)
    keep_sorted = (cumulative - sorted_probs) < p
    keep_sorted[..., 0] = True
    keep = torch.empty_like(keep_sorted).scatter_(-1, order, keep_sorted)
    return logits.masked_fill(~keep, float("-inf"))


@mistake("ch9.top_p_filter.mask_left_in_sorted_order")
def top_p_filter(logits, p):
    # The mask is computed in sorted order but applied to the unsorted logits.
    probs = torch.softmax(logits, dim=-1)
    sorted_probs = torch.sort(probs, dim=-1, descending=True, stable=True).values
    cumulative = sorted_probs.cumsum(dim=-1)
    keep = (cumulative - sorted_probs) < p
    keep[..., 0] = True
    return logits.masked_fill(~keep, float("-inf"))


@mistake("ch9.top_p_filter.unsorted_cumsum")
def top_p_filter(logits, p):
    # Forgets to sort: accumulates the mass in vocabulary order.
    probs = torch.softmax(logits, dim=-1)
    before = probs.cumsum(dim=-1) - probs
    return logits.masked_fill(~(before < p), float("-inf"))


# --- sample_token ---------------------------------------------------------------------------


@mistake("ch9.sample_token.cdf_at_least_u")
def sample_token(logits, temperature, u):
    # First index with cdf >= u instead of cdf > u.
    if temperature == 0:
        return torch.argmax(logits, dim=-1)
    cdf = torch.softmax(logits / temperature, dim=-1).cumsum(dim=-1)
    u = torch.as_tensor(u, device=cdf.device, dtype=cdf.dtype)
    idx = (cdf < u.unsqueeze(-1)).sum(dim=-1)
    return idx.clamp(max=logits.shape[-1] - 1)


@mistake("ch9.sample_token.temperature_multiplies")
def sample_token(logits, temperature, u):
    if temperature == 0:
        return torch.argmax(logits, dim=-1)
    cdf = torch.softmax(logits * temperature, dim=-1).cumsum(dim=-1)
    u = torch.as_tensor(u, device=cdf.device, dtype=cdf.dtype)
    idx = (cdf <= u.unsqueeze(-1)).sum(dim=-1)
    return idx.clamp(max=logits.shape[-1] - 1)


@mistake("ch9.sample_token.no_greedy_case")
def sample_token(logits, temperature, u):
    # Divides by a zero temperature: inf / nan logits instead of argmax.
    cdf = torch.softmax(logits / temperature, dim=-1).cumsum(dim=-1)
    u = torch.as_tensor(u, device=cdf.device, dtype=cdf.dtype)
    idx = (cdf <= u.unsqueeze(-1)).sum(dim=-1)
    return idx.clamp(max=logits.shape[-1] - 1)


@mistake("ch9.sample_token.always_batched")
def sample_token(logits, temperature, u):
    # Treats (V,) as (1, V) and forgets to squeeze the result back to 0-d.
    logits2d = logits.reshape(-1, logits.shape[-1])
    if temperature == 0:
        return torch.argmax(logits2d, dim=-1)
    cdf = torch.softmax(logits2d / temperature, dim=-1).cumsum(dim=-1)
    u = torch.as_tensor(u, device=cdf.device, dtype=cdf.dtype).reshape(-1, 1)
    return (cdf <= u).sum(dim=-1).clamp(max=logits.shape[-1] - 1)


# --- perplexity -----------------------------------------------------------------------------


@mistake("ch9.perplexity.ignored_tokens_counted")
def perplexity(logits, targets, ignore_index=-100):
    # Zero loss on padding, but the mean still divides by every position.
    valid = targets != ignore_index
    logp = torch.log_softmax(logits, dim=-1)
    safe = torch.where(valid, targets, torch.zeros_like(targets))
    nll = -logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    return torch.exp(torch.where(valid, nll, torch.zeros_like(nll)).mean())


@mistake("ch9.perplexity.no_exp")
def perplexity(logits, targets, ignore_index=-100):
    # The mean cross-entropy itself, never exponentiated.
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=ignore_index
    )


@mistake("ch9.perplexity.mean_of_sequence_perplexities")
def perplexity(logits, targets, ignore_index=-100):
    # Averages per-sequence perplexities instead of exponentiating the mean over tokens.
    valid = targets != ignore_index
    logp = torch.log_softmax(logits, dim=-1)
    safe = torch.where(valid, targets, torch.zeros_like(targets))
    nll = -logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1) * valid
    per_seq = nll.sum(dim=1) / valid.sum(dim=1)
    return torch.exp(per_seq).mean()


@mistake("ch9.perplexity.all_ignored")
def perplexity(logits, targets, ignore_index=-100):
    # Guards the division: a batch of padding only gives exp(0) = 1 instead of nan.
    valid = targets != ignore_index
    logp = torch.log_softmax(logits, dim=-1)
    safe = torch.where(valid, targets, torch.zeros_like(targets))
    nll = -logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1) * valid
    return torch.exp(nll.sum() / valid.sum().clamp(min=1))


# --- kv_cache_attend ------------------------------------------------------------------------


@mistake("ch9.kv_cache_attend.no_scaling")
def kv_cache_attend(q_t, k_t, v_t, cache_k, cache_v):
    cache_k = torch.cat([cache_k, k_t], dim=-2)
    cache_v = torch.cat([cache_v, v_t], dim=-2)
    weights = torch.softmax(q_t @ cache_k.transpose(-2, -1), dim=-1)
    return weights @ cache_v, cache_k, cache_v


@mistake("ch9.kv_cache_attend.attend_before_append")
def kv_cache_attend(q_t, k_t, v_t, cache_k, cache_v):
    # Attends over the old cache only, then appends: the token never sees itself.
    scores = q_t @ cache_k.transpose(-2, -1) / math.sqrt(q_t.shape[-1])
    out = torch.softmax(scores, dim=-1) @ cache_v
    return out, torch.cat([cache_k, k_t], dim=-2), torch.cat([cache_v, v_t], dim=-2)


@mistake("ch9.kv_cache_attend.old_caches_returned")
def kv_cache_attend(q_t, k_t, v_t, cache_k, cache_v):
    # Attends over the extended caches but gives back the old ones.
    keys = torch.cat([cache_k, k_t], dim=-2)
    values = torch.cat([cache_v, v_t], dim=-2)
    scores = q_t @ keys.transpose(-2, -1) / math.sqrt(q_t.shape[-1])
    return torch.softmax(scores, dim=-1) @ values, cache_k, cache_v


@mistake("ch9.kv_cache_attend.prepended")
def kv_cache_attend(q_t, k_t, v_t, cache_k, cache_v):
    # Puts the new step in front of the cache: the output is right, the caches are not.
    keys = torch.cat([k_t, cache_k], dim=-2)
    values = torch.cat([v_t, cache_v], dim=-2)
    weights = torch.softmax(q_t @ keys.transpose(-2, -1) / math.sqrt(q_t.shape[-1]), dim=-1)
    return weights @ values, keys, values


# --- rope -----------------------------------------------------------------------------------


@mistake("ch9.rope.half_split_pairs")
def rope(x, positions, base=10000.0):
    # GPT-NeoX layout: pairs (x[i], x[i + d/2]) instead of (x[2i], x[2i + 1]).
    d = x.shape[-1]
    i = torch.arange(d // 2, device=x.device, dtype=x.dtype)
    theta = positions.to(x.dtype)[:, None] * base ** (-2.0 * i / d)
    cos, sin = theta.cos(), theta.sin()
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


@mistake("ch9.rope.clockwise")
def rope(x, positions, base=10000.0):
    d = x.shape[-1]
    i = torch.arange(d // 2, device=x.device, dtype=x.dtype)
    theta = positions.to(x.dtype)[:, None] * base ** (-2.0 * i / d)
    cos, sin = theta.cos(), theta.sin()
    xe, xo = x[..., 0::2], x[..., 1::2]
    return torch.stack([xe * cos + xo * sin, -xe * sin + xo * cos], dim=-1).flatten(-2)


@mistake("ch9.rope.exponent_without_two")
def rope(x, positions, base=10000.0):
    d = x.shape[-1]
    i = torch.arange(d // 2, device=x.device, dtype=x.dtype)
    theta = positions.to(x.dtype)[:, None] * base ** (-i / d)
    cos, sin = theta.cos(), theta.sin()
    xe, xo = x[..., 0::2], x[..., 1::2]
    return torch.stack([xe * cos - xo * sin, xe * sin + xo * cos], dim=-1).flatten(-2)


@mistake("ch9.rope.positive_exponent")
def rope(x, positions, base=10000.0):
    # theta_i = base^(+2i / d): the frequencies grow with the pair index.
    d = x.shape[-1]
    i = torch.arange(d // 2, device=x.device, dtype=x.dtype)
    theta = positions.to(x.dtype)[:, None] * base ** (2.0 * i / d)
    cos, sin = theta.cos(), theta.sin()
    xe, xo = x[..., 0::2], x[..., 1::2]
    return torch.stack([xe * cos - xo * sin, xe * sin + xo * cos], dim=-1).flatten(-2)


@mistake("ch9.rope.ignores_positions")
def rope(x, positions, base=10000.0):
    # Uses 0..T-1 whatever positions says (wrong for an offset or a KV cache step).
    d, T = x.shape[-1], x.shape[-2]
    i = torch.arange(d // 2, device=x.device, dtype=x.dtype)
    p = torch.arange(T, device=x.device, dtype=x.dtype)
    theta = p[:, None] * base ** (-2.0 * i / d)
    cos, sin = theta.cos(), theta.sin()
    xe, xo = x[..., 0::2], x[..., 1::2]
    return torch.stack([xe * cos - xo * sin, xe * sin + xo * cos], dim=-1).flatten(-2)


# --- lora_forward ---------------------------------------------------------------------------


@mistake("ch9.lora_forward.scaled_by_alpha")
def lora_forward(x, W, b, A, B, alpha):
    # Forgets to divide by the rank r.
    return x @ W.T + b + alpha * (x @ A.T @ B.T)


@mistake("ch9.lora_forward.rank_over_alpha")
def lora_forward(x, W, b, A, B, alpha):
    return x @ W.T + b + (A.shape[0] / alpha) * (x @ A.T @ B.T)


@mistake("ch9.lora_forward.not_scaled")
def lora_forward(x, W, b, A, B, alpha):
    # The low-rank update added as it is, without alpha / r.
    return x @ W.T + b + x @ A.T @ B.T


@mistake("ch9.lora_forward.bias_dropped")
def lora_forward(x, W, b, A, B, alpha):
    return x @ W.T + (alpha / A.shape[0]) * (x @ A.T @ B.T)
