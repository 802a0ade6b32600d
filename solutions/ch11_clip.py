"""Chapter 11: multi-modal models, the contrastive image-text objective of CLIP.

Covers what happens after the two encoders: the symmetric contrastive loss over a
batch of matching image/text embeddings, zero-shot classification by comparing an
image with the embeddings of class prompts, and image-to-text retrieval recall@k.

Leaves out: the image and text encoders themselves, the learnable log temperature
(`logit_scale` is given here as the multiplier itself, already exponentiated), prompt
ensembling and distributed (all-gather) batches.
"""

from __future__ import annotations

import torch


def _l2_normalize(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Rows of x divided by their Euclidean norm (at least eps, like F.normalize)."""
    return x / x.norm(dim=-1, keepdim=True).clamp_min(eps)


def clip_loss(
    image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: float | torch.Tensor
) -> torch.Tensor:
    """Symmetric InfoNCE loss of CLIP for a batch of N matching image/text pairs.

    Both embeddings are L2-normalised row-wise, then

        logits = logit_scale * img @ txt^T                       (N, N)
        loss = (CE_rows(logits) + CE_columns(logits)) / 2

    where CE_rows is the mean cross-entropy of each row (image -> which text?) with
    target its diagonal entry, and CE_columns the same for each column (text -> which
    image?). The cross-entropies use a stable log-sum-exp.

    Args:
        image_emb: (N, d).
        text_emb: (N, d); row i describes image i.
        logit_scale: the multiplier of the cosine similarities (CLIP's exp(t)).

    Returns:
        0-d tensor, the embeddings' dtype and device.

    Example:
        image_emb = text_emb = eye(2), logit_scale = 1: logits = eye(2), each row and
        column has CE = log(e + 1) - 1 = 0.3133 -> loss 0.3133.
    """
    img = _l2_normalize(image_emb)
    txt = _l2_normalize(text_emb)
    logits = logit_scale * (img @ txt.transpose(0, 1))  # (N, N)
    diag = torch.diagonal(logits)  # (N,), the matching pairs
    ce_rows = torch.logsumexp(logits, dim=1) - diag  # image i against all texts
    ce_cols = torch.logsumexp(logits, dim=0) - diag  # text j against all images
    return (ce_rows.mean() + ce_cols.mean()) / 2


def zero_shot_classify(
    image_emb: torch.Tensor,
    class_text_emb: torch.Tensor,
    logit_scale: float = 100.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-shot classification: compare each image with one text embedding per class.

        logits = logit_scale * cos(image_emb[n], class_text_emb[c])      (N, C)
        probs = softmax(logits) over the classes,  preds = argmax_c logits

    preds is taken on the logits, which order the classes like probs but without the
    rounding of the softmax. Where classes tie for the best (up to rounding), any of
    them is accepted (torch.argmax gives the lowest index).

    Args:
        image_emb: (N, d).
        class_text_emb: (C, d), e.g. embeddings of "a photo of a {class}".
        logit_scale: the multiplier of the cosine similarities.

    Returns:
        (probs (N, C) in the embeddings' dtype, preds (N,) int64).

    Example:
        image_emb = [[1., 0.]], class_text_emb = [[0., 2.], [3., 0.]], logit_scale = 1:
        cos = [[0, 1]] -> probs = [[0.2689, 0.7311]], preds = [1].
    """
    img = _l2_normalize(image_emb)
    txt = _l2_normalize(class_text_emb)
    logits = logit_scale * (img @ txt.transpose(0, 1))  # (N, C)
    probs = torch.softmax(logits, dim=-1)
    preds = torch.argmax(logits, dim=-1)
    return probs, preds


def retrieval_recall_at_k(image_emb: torch.Tensor, text_emb: torch.Tensor, k: int) -> torch.Tensor:
    """Image-to-text retrieval recall@k, with text i the match of image i.

    For image i with cosine similarities s_ij to every text j, the match is retrieved
    when fewer than k OTHER texts are at least as similar as the match:

        hit_i = #{j != i : s_ij >= s_ii} < k,          recall@k = mean_i hit_i

    A text exactly as similar as the match counts against the image (a pessimistic
    rank), so the score does not depend on how a sort would break ties.

    Args:
        image_emb: (N, d).
        text_emb: (M, d) with M >= N; text i matches image i (usually M = N).
        k: >= 1.

    Returns:
        0-d tensor, the fraction of hits, in the embeddings' dtype.

    Example:
        image_emb = [[1., 0.], [0., 1.]], text_emb = [[1., 0.1], [1., 0.]], k = 1:
        image 0 prefers text 1 (cos 1 > 0.995), image 1 prefers text 0 -> recall 0.0;
        with k = 2 both are hits -> recall 1.0.
    """
    n = image_emb.shape[0]
    sims = _l2_normalize(image_emb) @ _l2_normalize(text_emb).transpose(0, 1)  # (N, M)
    rows = torch.arange(n, device=sims.device)
    match = sims[rows, rows]  # (N,)
    at_least_as_similar = sims >= match[:, None]  # (N, M), the match itself included
    others = at_least_as_similar.sum(dim=1) - 1
    return (others < k).to(image_emb.dtype).mean()
