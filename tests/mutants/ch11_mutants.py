"""Chapter 11 mutants (realistic student mistakes) and variants (correct, written differently).

Each function is graded as the exercise of the same name with the reference module
`solutions/ch11_clip.py` around it, so it may use torch, math and that module's names;
the imports below only make this file readable on its own.

The known mistakes of the catalogue (`mistake.ch11.*`) are registered student code in
`solutions/mistakes/ch11_clip.py`, graded as mutants by `mistake_cases()`. Kept here: the
variants and the mutants the grader names otherwise: the non-finite losses (named by the
stability rule and its causes) and recall written for as many texts as images (named by
the check of the docstring's M >= N).
"""

from __future__ import annotations

import torch

from tests.mutants import mutant, variant

# --------------------------------------------------------------------------- clip_loss


@mutant("ch11.clip_loss", expect=r"(?s)^(?!.*Shifting by the max is not enough).*overflow")
def clip_loss__naive_softmax(image_emb, text_emb, logit_scale):
    img = image_emb / image_emb.norm(dim=-1, keepdim=True)
    txt = text_emb / text_emb.norm(dim=-1, keepdim=True)
    e = torch.exp(logit_scale * img @ txt.T)
    rows = -torch.log(e.diagonal() / e.sum(dim=1))
    cols = -torch.log(e.diagonal() / e.sum(dim=0))
    return (rows.mean() + cols.mean()) / 2


@mutant("ch11.clip_loss", expect=r"(?s)^(?!.*Shifting by the max is not enough).*overflow")
def clip_loss__logsumexp_without_max_shift(image_emb, text_emb, logit_scale):
    img = image_emb / image_emb.norm(dim=-1, keepdim=True)
    txt = text_emb / text_emb.norm(dim=-1, keepdim=True)
    logits = logit_scale * img @ txt.T
    e = torch.exp(logits)  # overflows to inf: log(inf) - diag = inf, not NaN
    rows = torch.log(e.sum(dim=1)) - logits.diagonal()
    cols = torch.log(e.sum(dim=0)) - logits.diagonal()
    return (rows.mean() + cols.mean()) / 2


# shifts by the max, then takes log(softmax): told about the underflow, not to shift
@mutant("ch11.clip_loss", expect=r"(?s)^(?!.*before exponentiating).*underflowed to 0")
def clip_loss__log_of_shifted_softmax(image_emb, text_emb, logit_scale):
    img = image_emb / image_emb.norm(dim=-1, keepdim=True)
    txt = text_emb / text_emb.norm(dim=-1, keepdim=True)
    logits = logit_scale * img @ txt.T
    e_rows = torch.exp(logits - logits.amax(dim=1, keepdim=True))
    e_cols = torch.exp(logits - logits.amax(dim=0, keepdim=True))
    p_rows = (e_rows / e_rows.sum(dim=1, keepdim=True)).diagonal()  # underflows to 0 for a far match
    p_cols = (e_cols / e_cols.sum(dim=0, keepdim=True)).diagonal()
    return -(torch.log(p_rows).mean() + torch.log(p_cols).mean()) / 2


@variant("ch11.clip_loss")
def clip_loss__logsumexp_both_ways(image_emb, text_emb, logit_scale):
    img = image_emb / image_emb.norm(dim=-1, keepdim=True)
    txt = text_emb / text_emb.norm(dim=-1, keepdim=True)
    logits = logit_scale * img @ txt.T
    diag = logits.diagonal()
    rows = torch.logsumexp(logits, dim=1) - diag
    cols = torch.logsumexp(logits, dim=0) - diag
    return (rows.mean() + cols.mean()) / 2


@variant("ch11.clip_loss")
def clip_loss__builtin_cross_entropy(image_emb, text_emb, logit_scale):
    F = torch.nn.functional
    img = F.normalize(image_emb, dim=-1)
    txt = F.normalize(text_emb, dim=-1)
    logits_per_image = logit_scale * img @ txt.T
    labels = torch.arange(img.shape[0], device=img.device)
    return (
        F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_image.T, labels)
    ) / 2


@variant("ch11.clip_loss")
def clip_loss__log_softmax_both_ways(image_emb, text_emb, logit_scale):
    img = image_emb * torch.rsqrt((image_emb * image_emb).sum(-1, keepdim=True))
    txt = text_emb * torch.rsqrt((text_emb * text_emb).sum(-1, keepdim=True))
    logits = logit_scale * torch.einsum("id,jd->ij", img, txt)
    i2t = torch.log_softmax(logits, dim=1).diagonal()
    t2i = torch.log_softmax(logits, dim=0).diagonal()
    return -(i2t + t2i).mean() / 2


# ------------------------------------------------------------------ zero_shot_classify


@variant("ch11.zero_shot_classify")
def zero_shot_classify__namedtuple_topk(image_emb, class_text_emb, logit_scale=100.0):
    # a namedtuple where a tuple is asked, and preds from topk (any of the tied best classes)
    from collections import namedtuple

    Prediction = namedtuple("Prediction", "probs preds")
    img = image_emb / image_emb.norm(dim=1, keepdim=True)
    txt = class_text_emb / class_text_emb.norm(dim=1, keepdim=True)
    logits = logit_scale * img @ txt.T
    return Prediction(torch.log_softmax(logits, dim=1).exp(), logits.topk(1, dim=1).indices[:, 0])


@variant("ch11.zero_shot_classify")
def zero_shot_classify__cosine_similarity_broadcast(image_emb, class_text_emb, logit_scale=100.0):
    F = torch.nn.functional
    cos = F.cosine_similarity(image_emb[:, None, :], class_text_emb[None, :, :], dim=-1)
    logits = logit_scale * cos  # (N, C)
    probs = F.softmax(logits, dim=1)
    return probs, torch.argmax(probs, dim=1)


# --------------------------------------------------------------- retrieval_recall_at_k


@variant("ch11.retrieval_recall_at_k")
def retrieval_recall_at_k__loop_over_images(image_emb, text_emb, k):
    F = torch.nn.functional
    img = F.normalize(image_emb, dim=-1)
    txt = F.normalize(text_emb, dim=-1)
    sims = img @ txt.T
    hits = 0
    for i in range(img.shape[0]):
        rivals = sum(1 for j in range(txt.shape[0]) if j != i and bool(sims[i, j] >= sims[i, i]))
        hits += rivals < k
    return torch.tensor(hits / img.shape[0], dtype=image_emb.dtype, device=image_emb.device)


# --- promises of the docstrings: text_emb (M, d) with M >= N ----------------------------


@mutant("ch11.retrieval_recall_at_k", expect=r"more rows than image_emb.*handles as many texts as images")
def retrieval_recall_at_k__rivals_among_the_first_n_texts(image_emb, text_emb, k):
    # written for M = N: the loop over rivals stops at the N-th text, so the extra texts
    # never outrank a match
    F = torch.nn.functional
    sims = F.normalize(image_emb, dim=-1) @ F.normalize(text_emb, dim=-1).T
    n = image_emb.shape[0]
    hits = 0
    for i in range(n):
        rivals = sum(1 for j in range(n) if j != i and bool(sims[i, j] >= sims[i, i]))
        hits += rivals < k
    return torch.tensor(hits / n, dtype=image_emb.dtype, device=image_emb.device)


@mutant("ch11.retrieval_recall_at_k", expect=r"more rows than image_emb|must match|size of tensor")
def retrieval_recall_at_k__square_mask(image_emb, text_emb, k):
    # masks the match out with an (N, N) identity: right for M = N; for M > N texts it
    # crashes, or (N = 1) broadcasts and masks every text
    F = torch.nn.functional
    sims = F.normalize(image_emb, dim=-1) @ F.normalize(text_emb, dim=-1).T
    match = sims.diagonal()[:, None]
    eye = torch.eye(sims.shape[0], dtype=torch.bool, device=sims.device)
    others = ((sims >= match) & ~eye).sum(dim=1)
    return (others < k).to(image_emb.dtype).mean()


@variant("ch11.retrieval_recall_at_k")
def retrieval_recall_at_k__rectangular_mask(image_emb, text_emb, k):
    # an (N, M) identity masks the match out, whatever the number of texts
    F = torch.nn.functional
    sims = F.normalize(image_emb, dim=-1) @ F.normalize(text_emb, dim=-1).T
    n, m = sims.shape
    match = sims.diagonal()[:, None]
    eye = torch.eye(n, m, dtype=torch.bool, device=sims.device)
    others = ((sims >= match) & ~eye).sum(dim=1)
    return (others < k).to(image_emb.dtype).mean()
