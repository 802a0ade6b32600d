"""Chapter 9, the reference side of known mistakes and of the truths the checks compare
against: BPE with the contract's rules or a known mistake's, the logit filters, sampling,
perplexity, RoPE and LoRA written with switches for the usual mistakes.

Reached through `ref` (`ref.bpe_train_variant(text, 5, tie="smallest")`), so it runs in
the grader process and a student release ships only its recorded outputs, never this
code. Arguments and results are wire data: tensors, numbers, strings, lists.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# --- BPE -------------------------------------------------------------------------------------


def _merge(ids: list[int], pair: tuple[int, int], new_id: int, skip: bool = True) -> list[int]:
    """Replace `pair` by `new_id` left to right; without `skip`, the mistake of stepping
    one position after a match (the pair's second element stays, overlaps merge)."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2 if skip else 1
        else:
            out.append(ids[i])
            i += 1
    return out


def bpe_train_variant(
    text: str,
    num_merges: int,
    overlapping: bool = True,
    tie: str = "first",
    skip: bool = True,
    early_stop: bool = True,
    first_id: int = 256,
) -> list[tuple[int, int]]:
    """The contract's training loop, or a known mistake's: counts that skip overlaps,
    another tie rule (`tie` in first/last/smallest/largest), a merge that does not skip
    the pair's second element, no stop when the best count is 1, new ids from `first_id`."""
    ids = list(text.encode("utf-8"))
    merges: list[tuple[int, int]] = []
    for k in range(num_merges):
        counts: dict[tuple[int, int], int] = {}  # insertion order = order of first occurrence
        last: dict[tuple[int, int], int] = {}
        for i, pair in enumerate(zip(ids, ids[1:])):
            if not overlapping:
                if last.get(pair, -2) == i - 1:
                    continue  # overlaps the previous counted occurrence
                last[pair] = i
            counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            break
        top = max(counts.values())
        tied = [p for p, c in counts.items() if c == top]
        best = {"first": tied[0], "last": tied[-1], "smallest": min(tied), "largest": max(tied)}[tie]
        if early_stop and top < 2:
            break
        ids = _merge(ids, best, first_id + k, skip)
        merges.append(best)
    return merges


def bpe_encode_variant(text: str, merges: list, reverse: bool = False, first_id: int = 256) -> list[int]:
    """Apply the merges in creation order (or `reverse`d), new ids from `first_id`."""
    ids = list(text.encode("utf-8"))
    order = range(len(merges) - 1, -1, -1) if reverse else range(len(merges))
    for k in order:
        ids = _merge(ids, tuple(merges[k]), first_id + k)
    return ids


def bpe_encode_most_frequent_first(text: str, merges: list) -> list[int]:
    """The mistake of re-running training: merge the most frequent known pair first."""
    ids = list(text.encode("utf-8"))
    rank = {tuple(p): k for k, p in enumerate(merges)}
    while True:
        counts: dict[tuple[int, int], int] = {}
        for pair in zip(ids, ids[1:]):
            if pair in rank:
                counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            return ids
        best = max(counts, key=counts.__getitem__)
        ids = _merge(ids, best, 256 + rank[best])


def bpe_decode_variant(ids: list[int], merges: list, per_token: bool = False, errors: str = "replace", swapped: bool = False) -> str:
    """Decode through the byte table, or with a known mistake: each token decoded on
    its own (`per_token`), another error handler, a merged pair's bytes `swapped`."""
    vocab = [bytes([i]) for i in range(256)]
    for a, b in merges:
        vocab.append(vocab[b] + vocab[a] if swapped else vocab[a] + vocab[b])
    if per_token:
        return "".join(vocab[i].decode("utf-8", errors=errors) for i in ids)
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors=errors)


# --- logit filters ---------------------------------------------------------------------------


def top_k_filter_variant(logits: torch.Tensor, k: int, zero_fill: bool = False, strict: bool = False, dim: int = -1) -> torch.Tensor:
    """Keep the logits at least the k-th largest along `dim`, the rest -inf; or a known
    mistake's: the rest set to 0 (`zero_fill`), only those above it (`strict`), the
    wrong `dim`."""
    kth = torch.topk(logits, min(k, logits.shape[dim]), dim=dim).values.narrow(dim, -1, 1)
    drop = logits <= kth if strict else logits < kth
    return logits.masked_fill(drop, 0.0 if zero_fill else float("-inf"))


def top_p_filter_variant(
    logits: torch.Tensor, p: float, inclusive: bool = False, higher_first: bool = False, sorted_mask: bool = False, unsorted: bool = False
) -> torch.Tensor:
    """Top-p in float64 (the contract's rule unless told), or a known mistake's: the
    token crossing p counted in (`inclusive`), ties broken to the higher index, the mask
    left in sorted order, the mass accumulated in vocabulary order (`unsorted`)."""
    probs = torch.softmax(logits.double(), dim=-1)
    if unsorted:
        keep = probs.cumsum(-1) - probs < p
    else:
        if higher_first:
            sp, order = torch.sort(probs.flip(-1), dim=-1, descending=True, stable=True)
            order = probs.shape[-1] - 1 - order
        else:
            sp, order = torch.sort(probs, dim=-1, descending=True, stable=True)
        cumulative = sp.cumsum(-1)
        keep_sorted = (cumulative if inclusive else cumulative - sp) < p
        keep_sorted[..., 0] = True
        keep = keep_sorted if sorted_mask else torch.empty_like(keep_sorted).scatter_(-1, order, keep_sorted)
    return logits.masked_fill(~keep, float("-inf"))


# --- sampling --------------------------------------------------------------------------------


def sample_token_variant(logits: torch.Tensor, temperature: float, u: torch.Tensor, at_least: bool = False, multiply: bool = False) -> torch.Tensor:
    """Inverse-CDF sampling (cdf <= u counted), or a known mistake's: cdf < u counted
    (`at_least`), the logits multiplied by the temperature (`multiply`)."""
    scaled = logits * temperature if multiply else logits / temperature
    cdf = torch.softmax(scaled, dim=-1).cumsum(-1)
    u = torch.as_tensor(u, dtype=cdf.dtype).unsqueeze(-1)
    idx = ((cdf < u) if at_least else (cdf <= u)).sum(-1)
    return idx.clamp(max=logits.shape[-1] - 1)


# --- perplexity ------------------------------------------------------------------------------


def perplexity_variant(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int, mistake: str = "") -> torch.Tensor:
    """exp(mean NLL over the scored tokens), or a known mistake's (`mistake`):
    "ignored_tokens_counted", "no_exp", "mean_of_sequence_perplexities"."""
    valid = targets != ignore_index
    safe = torch.where(valid, targets, torch.zeros_like(targets))
    nll = -torch.log_softmax(logits, dim=-1).gather(-1, safe.unsqueeze(-1)).squeeze(-1) * valid  # (N, T)
    if mistake == "ignored_tokens_counted":
        return torch.exp(nll.sum() / nll.numel())
    if mistake == "no_exp":
        return nll.sum() / valid.sum()
    if mistake == "mean_of_sequence_perplexities":
        return torch.exp(nll.sum(1) / valid.sum(1)).mean()
    return torch.exp(nll.sum() / valid.sum())


# --- RoPE ------------------------------------------------------------------------------------


def rope_variant(
    x: torch.Tensor,
    positions: torch.Tensor,
    base: float,
    split: bool = False,
    sign: float = 1.0,
    exponent: float = 2.0,
    direction: float = -1.0,
) -> torch.Tensor:
    """RoPE (the contract's rule by default), or a known mistake's: halves paired instead
    of adjacent entries (`split`), a clockwise turn (`sign=-1`), theta_i = base^(-i/d)
    (`exponent=1`), base^(+2i/d) (`direction=1`)."""
    d = x.shape[-1]
    i = torch.arange(d // 2, dtype=x.dtype)
    theta = positions.to(x.dtype)[:, None] * base ** (direction * exponent * i / d)
    cos, sin = theta.cos(), sign * theta.sin()
    if split:
        a, b = x[..., : d // 2], x[..., d // 2 :]
        return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1).flatten(-2)


# --- LoRA ------------------------------------------------------------------------------------


def lora_merged_layer(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor | None, A: torch.Tensor, B: torch.Tensor, alpha: float) -> torch.Tensor:
    """The merged layer W + (alpha / r) B A applied to x: an independent formulation."""
    return F.linear(x, W + (alpha / A.shape[0]) * B @ A, b)


def lora_forward_variant(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor | None, A: torch.Tensor, B: torch.Tensor, alpha: float, scale: str = "alpha/r", bias: bool = True) -> torch.Tensor:
    """x W^T + b + s x A^T B^T with s = alpha / r, or a known mistake's `scale`
    ("alpha", "r/alpha", "1") or the bias dropped; b may be None (no bias)."""
    r = A.shape[0]
    s = {"alpha/r": alpha / r, "alpha": alpha, "r/alpha": r / alpha, "1": 1.0}[scale]
    y = x @ W.T + s * (x @ A.T @ B.T)
    return y + b if bias and b is not None else y
