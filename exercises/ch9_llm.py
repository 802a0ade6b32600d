"""Chapter 9: large language models, from bytes to tokens to sampled text.

Covers the pieces of a decoder-only language model that sit around the Transformer
block of chapter 8: byte-level BPE tokenisation (training, encoding, decoding), the
logit filters and the sampler used at generation time, perplexity, one decoding step
with a key/value cache, rotary position embeddings (RoPE) and a LoRA adapter.

Leaves out: regex pre-tokenisation and special tokens (the BPE works on the raw UTF-8
bytes of the whole text), batched decoding with padding, multi-query / grouped-query
attention, and training a model.
"""

from __future__ import annotations

import math

import torch


def bpe_train(text: str, num_merges: int) -> list[tuple[int, int]]:
    """Learn up to `num_merges` byte-level BPE merges from `text`.

    The text is turned into its UTF-8 bytes, ids 0..255. Merge k (0-based) creates the
    new id 256 + k from the most frequent adjacent pair of the current sequence:

    - every adjacent position counts, overlapping ones included ("aaa" holds (97, 97)
      twice);
    - on a tie, the pair whose first occurrence comes earliest in the current
      sequence wins;
    - the merge replaces the occurrences left to right without overlap
      ("aaa" -> [256, 97]);
    - training stops early when no pair occurs at least twice.

    Args:
        text: the training text.
        num_merges: the largest number of merges to learn (>= 0).

    Returns:
        The merged pairs in order of creation: merges[k] = (a, b) made id 256 + k.

    Example:
        bpe_train("aaabdaaabac", 3) -> [(97, 97), (256, 97), (257, 98)]
        ("aa" -> 256, then "aaa" = (256, 97) -> 257, then (257, 98) -> 258.)
    """
    # TODO: implement ch9.bpe_train (hint: `dlcourse hint ch9.bpe_train`).
    raise NotImplementedError("ch9.bpe_train")


def bpe_encode(text: str, merges: list[tuple[int, int]]) -> list[int]:
    """Encode `text` into token ids with the merges learned by `bpe_train`.

    Start from the UTF-8 bytes of the text and apply the merges in order of creation
    (merges[0] first, which makes id 256, then merges[1], ...), each one replacing its
    pair left to right without overlap. A merge can only produce pairs that contain
    its new id, which no earlier merge uses, so one pass over the merge list suffices.

    Args:
        text: the text to encode.
        merges: merges[k] = (a, b) is the pair that becomes id 256 + k.

    Returns:
        The token ids, a list of Python ints.

    Example:
        bpe_encode("aaab", [(97, 97), (256, 97)]) -> [257, 98]
    """
    # TODO: implement ch9.bpe_encode (hint: `dlcourse hint ch9.bpe_encode`).
    raise NotImplementedError("ch9.bpe_encode")


def bpe_decode(ids: list[int], merges: list[tuple[int, int]]) -> str:
    """Turn token ids back into text.

    Each id stands for a byte string: ids 0..255 for one byte, id 256 + k for the
    bytes of merges[k][0] followed by those of merges[k][1]. The byte strings of all
    ids are joined FIRST and decoded as UTF-8 once (a character may be split across
    tokens); invalid bytes become U+FFFD (errors="replace").

    Args:
        ids: token ids.
        merges: merges[k] = (a, b) is the pair that became id 256 + k.

    Returns:
        The decoded text.

    Example:
        bpe_decode([257, 98], [(97, 97), (256, 97)]) -> "aaab"
        bpe_decode([0xC3], []) -> "\\ufffd" (half of "é")
    """
    # TODO: implement ch9.bpe_decode (hint: `dlcourse hint ch9.bpe_decode`).
    raise NotImplementedError("ch9.bpe_decode")


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest logits along the last dimension, set the others to -inf.

    A logit is kept when it is >= the k-th largest logit of its row, so ties with the
    k-th largest are all kept (a row may keep more than k); k >= V keeps everything.

    Args:
        logits: (..., V).
        k: >= 1.

    Returns:
        (..., V), same dtype and device, kept logits unchanged, the rest -inf.

    Example:
        top_k_filter(tensor([1., 3., 2., 3.]), 2) -> tensor([-inf, 3., -inf, 3.])
        top_k_filter(tensor([1., 3., 2., 3.]), 3) -> tensor([-inf, 3., 2., 3.])
    """
    # TODO: implement ch9.top_k_filter (hint: `dlcourse hint ch9.top_k_filter`).
    raise NotImplementedError("ch9.top_k_filter")


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus (top-p) filter along the last dimension.

    Sort the probabilities softmax(logits) in descending order (equal probabilities:
    lower index first). A token is kept when the total probability of the tokens
    strictly before it in that order is < p; the top token is always kept. The other
    logits become -inf.

    Args:
        logits: (..., V).
        p: the nucleus mass, 0 < p <= 1.

    Returns:
        (..., V), same dtype and device, kept logits unchanged, the rest -inf.

    Example:
        probabilities [0.1, 0.6, 0.3] with p = 0.7: sorted [0.6, 0.3, 0.1], mass before
        each [0, 0.6, 0.9] -> keep indices 1 and 2 -> [-inf, logit_1, logit_2].
    """
    # TODO: implement ch9.top_p_filter (hint: `dlcourse hint ch9.top_p_filter`).
    raise NotImplementedError("ch9.top_p_filter")


def sample_token(logits: torch.Tensor, temperature: float, u: torch.Tensor) -> torch.Tensor:
    """Sample a token per row by inverse-CDF sampling with the given uniform draws.

    With temperature T > 0 the probabilities are softmax(logits / T) and the sample is
    the smallest index i whose cumulative probability sum_{j <= i} p_j exceeds u
    (strictly). With T = 0 it is argmax(logits), the lowest index on ties.

    Args:
        logits: (V,) or (N, V).
        temperature: >= 0.
        u: uniform [0, 1) draws, 0-d for (V,) logits, (N,) for (N, V) logits.

    Returns:
        int64 token ids on the logits' device: 0-d for (V,) logits, (N,) otherwise.

    Example:
        logits = log([0.2, 0.5, 0.3]), T = 1: cumulative [0.2, 0.7, 1.0];
        u = 0.1 -> 0, u = 0.2 -> 1, u = 0.69 -> 1, u = 0.7 -> 2.
    """
    # TODO: implement ch9.sample_token (hint: `dlcourse hint ch9.sample_token`).
    raise NotImplementedError("ch9.sample_token")


def perplexity(
    logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = -100
) -> torch.Tensor:
    """Perplexity of next-token predictions: exp of the mean token cross-entropy.

        ce(n, t) = logsumexp_v(logits[n, t, v]) - logits[n, t, targets[n, t]]
        perplexity = exp(mean of ce over the (n, t) with targets[n, t] != ignore_index)

    Numerically stable (the contract's rule for every softmax-based loss): the answer
    is finite wherever the true value is, in float32 and float64, even for logits of
    +-1000 and a target whose probability underflows to 0. Compute ce in log-sum-exp
    form as above, never log(softmax(...)); shifting by the max alone is not enough.
    If every target is ignored the mean is 0 / 0 and the result is nan.

    Args:
        logits: (N, T, V).
        targets: (N, T) int64, entries in [0, V) or ignore_index.
        ignore_index: target value that marks padding.

    Returns:
        0-d tensor, the logits' dtype and device.

    Example:
        uniform logits (all zeros) over V = 4 tokens -> perplexity 4.0, whatever the
        targets.
    """
    # TODO: implement ch9.perplexity (hint: `dlcourse hint ch9.perplexity`).
    raise NotImplementedError("ch9.perplexity")


def kv_cache_attend(
    q_t: torch.Tensor,
    k_t: torch.Tensor,
    v_t: torch.Tensor,
    cache_k: torch.Tensor,
    cache_v: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One autoregressive decoding step of attention with a key/value cache.

    The new key and value are appended to the caches (new tensors are returned, the
    arguments are left untouched), then the single new query attends to every cached
    position, itself included:

        K = [cache_k; k_t], V = [cache_v; v_t]            (N, h, t + 1, .)
        out = softmax(q_t K^T / sqrt(d)) V                 (N, h, 1, dv)

    No mask is needed: the new query is the last position, so causal attention lets
    it see everything before it. Decoding a sequence this way, one step at a time from
    empty caches, gives the rows of causal attention over the whole sequence.

    Args:
        q_t, k_t: (N, h, 1, d); v_t: (N, h, 1, dv).
        cache_k: (N, h, t, d); cache_v: (N, h, t, dv); t may be 0.

    Returns:
        (out (N, h, 1, dv), cache_k (N, h, t + 1, d), cache_v (N, h, t + 1, dv)).

    Example:
        empty caches (t = 0): the query can only attend to itself, so out == v_t.
    """
    # TODO: implement ch9.kv_cache_attend (hint: `dlcourse hint ch9.kv_cache_attend`).
    raise NotImplementedError("ch9.kv_cache_attend")


def rope(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Rotary position embedding (RoPE), interleaved-pairs convention.

    Feature pairs (x[2i], x[2i + 1]), i = 0 .. d/2 - 1, of the token at position p are
    rotated counter-clockwise by the angle theta = p * base^(-2i / d):

        y[2i]     = x[2i] cos(theta) - x[2i + 1] sin(theta)
        y[2i + 1] = x[2i] sin(theta) + x[2i + 1] cos(theta)

    so that <rope(q, m), rope(k, n)> depends on m - n only. The angles are computed in
    the dtype of x.

    Args:
        x: (..., T, d), d even.
        positions: (T,) int64, the position of each of the T tokens.
        base: the frequency base.

    Returns:
        (..., T, d), same dtype and device as x.

    Example:
        x = [[1., 0.]] (T = 1, d = 2), positions = [1]: theta = 1 rad ->
        [[cos 1, sin 1]] = [[0.5403, 0.8415]].
    """
    # TODO: implement ch9.rope (hint: `dlcourse hint ch9.rope`).
    raise NotImplementedError("ch9.rope")


def lora_forward(
    x: torch.Tensor,
    W: torch.Tensor,
    b: torch.Tensor | None,
    A: torch.Tensor,
    B: torch.Tensor,
    alpha: float,
) -> torch.Tensor:
    """A linear layer with a LoRA adapter: frozen W plus a scaled low-rank update.

        y = x W^T + b + (alpha / r) (x A^T) B^T

    which equals a linear layer with weight W + (alpha / r) B A, never formed here:
    going through the rank-r bottleneck costs O(r (D_in + D_out)) per row.

    Args:
        x: (..., D_in).
        W: (D_out, D_in); b: (D_out,) or None.
        A: (r, D_in), the down projection; B: (D_out, r), the up projection.
        alpha: the LoRA scaling numerator.

    Returns:
        (..., D_out).

    Example:
        B = 0 (the usual initialisation) -> y == x W^T + b, the frozen layer.
    """
    # TODO: implement ch9.lora_forward (hint: `dlcourse hint ch9.lora_forward`).
    raise NotImplementedError("ch9.lora_forward")
