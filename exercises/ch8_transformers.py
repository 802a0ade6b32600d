"""Chapter 8: NLP basics, Transformers and self-supervised learning.

The building blocks of a Transformer encoder, written from tensor operations:
the gradient of an embedding lookup, causal masks, scaled dot-product and
multi-head attention, sinusoidal positional encodings, one pre-LayerNorm encoder
layer, and SimCLR's InfoNCE (NT-Xent) contrastive loss.

Conventions (see docs/curriculum.md): boolean masks are True where attention is
ALLOWED (as in `torch.nn.functional.scaled_dot_product_attention`); linear maps
use the `nn.Linear` layout `y = x @ W.T + b`; sequences are batch-first.

Left out: attention dropout, key-padding masks as a separate argument, the
decoder and cross-attention blocks, KV caches and rotary embeddings (chapter 9),
tokenisation (chapter 9) and any training loop.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = [
    "embedding_backward",
    "causal_mask",
    "scaled_dot_product_attention",
    "multi_head_attention",
    "sinusoidal_positional_encoding",
    "transformer_encoder_layer",
    "info_nce_loss",
]


def embedding_backward(dout: torch.Tensor, idx: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Gradient of an embedding lookup `out = W[idx]` with respect to the table W.

    Maths: out[n, t] = W[idx[n, t]], so dL/dW[v] = sum over all (n, t) with
    idx[n, t] == v of dout[n, t]. A token that appears several times collects the
    sum of all its upstream gradients; a token that never appears gets zeros.

    Shapes: dout (N, T, E), idx (N, T) int64 with values in [0, V) -> dW (V, E),
    with the dtype and device of dout.

    Example: dout = [[[1., 2.], [3., 4.]]], idx = [[1, 1]], vocab_size = 3
    -> dW = [[0., 0.], [4., 6.], [0., 0.]].
    """
    # TODO: implement ch8.embedding_backward (hint: `dlcourse hint ch8.embedding_backward`).
    raise NotImplementedError("ch8.embedding_backward")


def causal_mask(T: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean causal (look-ahead) mask: position i may attend to positions j <= i.

    Maths: mask[i, j] = (j <= i), True on and below the diagonal (True = allowed).

    Shapes: -> (T, T) bool on `device` (the default device, normally the CPU, when None).

    Example: causal_mask(3) -> [[True, False, False],
                                [True, True,  False],
                                [True, True,  True ]].
    """
    # TODO: implement ch8.causal_mask (hint: `dlcourse hint ch8.causal_mask`).
    raise NotImplementedError("ch8.causal_mask")


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention with an optional boolean mask.

    Maths: scores = q k^T / sqrt(d); positions where `mask` is False get weight 0;
    weights = softmax(scores) over the key dimension (computed after subtracting
    the row maximum, so large scores do not overflow); out = weights v. A query row
    whose keys are all masked gets all-zero weights and an all-zero output.

    Shapes: q (..., Tq, d), k (..., Tk, d), v (..., Tk, dv), mask a bool tensor
    broadcastable to (..., Tq, Tk) -> out (..., Tq, dv), weights (..., Tq, Tk).

    Example: q = [[1., 0.]], k = [[1., 0.], [0., 1.]], v = [[1.], [3.]], no mask:
    scores = [[1/sqrt 2, 0]], weights ~ [[0.670, 0.330]], out ~ [[1.66]].
    """
    # TODO: implement ch8.scaled_dot_product_attention (hint: `dlcourse hint ch8.scaled_dot_product_attention`).
    raise NotImplementedError("ch8.scaled_dot_product_attention")


def multi_head_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    W_q: torch.Tensor,
    W_k: torch.Tensor,
    W_v: torch.Tensor,
    W_o: torch.Tensor,
    b_q: torch.Tensor,
    b_k: torch.Tensor,
    b_v: torch.Tensor,
    b_o: torch.Tensor,
    num_heads: int,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Multi-head attention, equal to `nn.MultiheadAttention(E, num_heads, batch_first=True)`.

    Maths: Q = query W_q^T + b_q, K = key W_k^T + b_k, V = value W_v^T + b_v; each
    of the E features is split into `num_heads` heads of width d = E / num_heads
    (head h owns features h*d .. (h+1)*d - 1); every head runs scaled dot-product
    attention with scale 1 / sqrt(d); the heads are concatenated back in the same
    feature order and projected: out = concat W_o^T + b_o. A query row with every
    key masked attends to nothing, so its output is b_o.

    Shapes: query (N, T, E), key and value (N, S, E), W_* (E, E), b_* (E,), mask
    bool (T, S) or broadcastable to (N, num_heads, T, S), True = allowed
    (nn.MultiheadAttention's attn_mask is ~mask) -> out (N, T, E).

    Example: with num_heads = 1, W_q = W_k = W_v = W_o = I and zero biases this is
    plain self-attention: query = key = value = [[[1., 0.], [0., 1.]]] gives
    out ~ [[[0.670, 0.330], [0.330, 0.670]]].
    """
    # TODO: implement ch8.multi_head_attention (hint: `dlcourse hint ch8.multi_head_attention`).
    raise NotImplementedError("ch8.multi_head_attention")


def sinusoidal_positional_encoding(T: int, d: int) -> torch.Tensor:
    """Sinusoidal positional encoding of "Attention Is All You Need".

    Maths: PE[p, 2i] = sin(p / 10000^(2i / d)) and PE[p, 2i + 1] = cos(p / 10000^(2i / d)),
    so columns alternate sin, cos with one frequency per pair; for odd d the last
    column (index d - 1, even) is a sin column. Computed in float64, returned as float32.

    Shapes: -> (T, d) float32 (on the CPU).

    Example: sinusoidal_positional_encoding(2, 2) -> [[0., 1.], [sin 1, cos 1]]
    = [[0., 1.], [0.8415, 0.5403]].
    """
    # TODO: implement ch8.sinusoidal_positional_encoding (hint: `dlcourse hint ch8.sinusoidal_positional_encoding`).
    raise NotImplementedError("ch8.sinusoidal_positional_encoding")


def transformer_encoder_layer(
    x: torch.Tensor,
    params: dict[str, torch.Tensor],
    num_heads: int,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """One pre-LayerNorm Transformer encoder layer (no dropout).

    Maths (norm_first=True, LayerNorm eps 1e-5):
        h   = x + MHA(LN1(x), LN1(x), LN1(x), mask)
        out = h + relu(LN2(h) W_1^T + b_1) W_2^T + b_2
    with LN the layer norm over the last dim; equal to `nn.TransformerEncoderLayer(E, num_heads, dim_feedforward,
    dropout=0, activation="relu", batch_first=True, norm_first=True)` called with
    src_mask = ~mask.

    Shapes: x (N, T, E); params: W_q W_k W_v W_o (E, E), b_q b_k b_v b_o (E,),
    ln1_w ln1_b ln2_w ln2_b (E,), W_1 (F, E), b_1 (F,), W_2 (E, F), b_2 (E,);
    mask as in `multi_head_attention` -> out (N, T, E).

    Example: if W_o, b_o, W_2 and b_2 are all zero, both sublayers add zero and
    the layer returns x unchanged.
    """
    # TODO: implement ch8.transformer_encoder_layer (hint: `dlcourse hint ch8.transformer_encoder_layer`).
    raise NotImplementedError("ch8.transformer_encoder_layer")


def info_nce_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's NT-Xent (normalised temperature-scaled cross-entropy) loss.

    Maths: stack the two views z = [z1; z2] (2N rows) and L2-normalise each row;
    s_ij = cos(z_i, z_j) / temperature. Anchor i's positive is its other view
    p(i) = i + N (i < N) or i - N (i >= N); its negatives are the other 2N - 2 rows;
    itself is excluded. loss_i = -s_{i,p(i)} + log sum_{j != i} exp(s_ij), and the
    loss is the mean of loss_i over the 2N anchors (a 0-d tensor).

    Shapes: z1 (N, d), z2 (N, d) -> 0-d tensor.

    Stability: the loss is finite wherever the true value is, for small temperatures
    (1e-3 and below: logits up to 1 / temperature) and embeddings of any norm, in
    float32 as in float64: compute log sum_j exp(s_ij) in log-sum-exp form,
    m + log(sum_j exp(s_ij - m)) with m the row's maximum (torch.logsumexp,
    F.cross_entropy), never log(softmax(...)) (a max shift alone does not stop the
    positive's probability underflowing to 0).

    Example: N = 1 has no negatives, so each anchor's softmax has one term and the
    loss is 0 for any z1, z2. With z1 = [[1, 0], [0, 1]] = z2 and temperature 1,
    each anchor scores 1 with its positive and 0 with two negatives:
    loss = log(e + 2) - 1 ~ 0.5514.
    """
    # TODO: implement ch8.info_nce_loss (hint: `dlcourse hint ch8.info_nce_loss`).
    raise NotImplementedError("ch8.info_nce_loss")
