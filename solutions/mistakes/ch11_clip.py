"""Chapter 11, the reference side of known mistakes and of the truths the checks compare
against.

Known mistakes: realistic student code for each `mistake.ch11.*` message of the
catalogue, registered by its key (`solutions.mistakes.mistake`). Each is written as a
student would write the exercise function in `solutions/ch11_clip.py`, and runs in that
module's namespace (torch and the chapter's helpers, as the references define them), so
the mutant suite can grade it as a submission unchanged. Mistakes the grader recognises
otherwise (a non-finite loss, named by the stability rule and `clip_loss_stability_causes`
below) stay mutants in `tests/mutants/ch11_mutants.py`.

Truths: the CLIP loss as open_clip writes it, zero-shot probabilities and recall@k with
the contract's tie rule, reached through `ref` (`ref.clip_loss_by_cross_entropy(...)`).

Never shipped in a release: the release carries the recorded outputs only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from grader.precision import truth  # computed in float64, given back in the inputs' dtype
from solutions.mistakes import mistake

# --- truths ---------------------------------------------------------------------------------


def _cosines(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T


def clip_loss_by_cross_entropy(img, txt, scale):
    """open_clip's formulation: F.normalize, then F.cross_entropy both ways."""

    def run(img, txt):
        logits = scale * _cosines(img, txt)
        labels = torch.arange(img.shape[0])
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2

    return truth(run, img, txt)


def zero_shot_softmax_of_cosines(img, classes, scale):
    """softmax over classes of logit_scale * cosine(image, class)."""
    return truth(lambda img, classes: torch.softmax(scale * _cosines(img, classes), dim=-1), img, classes)


def recall_at_k_of_sims(sims: torch.Tensor, k: int) -> torch.Tensor:
    """recall@k from an (N, M) similarity matrix, M >= N, the match of row i in column i:
    fewer than k other columns at least as similar as the match (ties against the row)."""
    match = sims.diagonal()[:, None]
    others = (sims >= match).sum(dim=1) - 1
    return (others < k).double().mean()


def recall_at_k_of_cosines(img, txt, k):
    return truth(lambda i, t: recall_at_k_of_sims(_cosines(i, t), k), img, txt)


def clip_loss_stability_causes(img, txt, scale):
    """Catalogue key -> the CLIP loss with log(sum(exp(logits))) unshifted, in the inputs'
    own dtype (that is where exp() overflows): +inf, never NaN, once a logit passes ~88
    (float32) or ~709 (float64), which the general rule would call a log of an underflow.
    A loss is one number: where the log of a max-shifted softmax is inf too, the inf is
    named by a message that covers both mistakes, and where only that one is inf, by the
    general rule. As `causes` of `expect_stable`."""
    logits = scale * _cosines(img, txt)
    diag = logits.diagonal()

    def log_of_shifted_softmax(dim):
        e = torch.exp(logits - logits.amax(dim=dim, keepdim=True))
        return torch.log((e / e.sum(dim=dim, keepdim=True)).diagonal())

    rows = torch.log(torch.exp(logits).sum(dim=1)) - diag
    cols = torch.log(torch.exp(logits).sum(dim=0)) - diag
    unshifted = (rows.mean() + cols.mean()) / 2
    if bool(torch.isfinite(log_of_shifted_softmax(0)).all() and torch.isfinite(log_of_shifted_softmax(1)).all()):
        return {"mistake.ch11.clip_loss.naive_softmax": unshifted}
    # both mistakes give inf here: a message that names both
    return {"mistake.ch11.clip_loss.unstable": unshifted} if not bool(torch.isfinite(unshifted)) else {}


# --- clip_loss ------------------------------------------------------------------------------
# A mistake's loss that is inf or NaN on a call's inputs (exp(logit_scale) overflows float32
# at logit_scale = 100) names nothing: the checks name a non-finite loss by the stability
# rule (`grader.checks.ch11_clip._expect_loss`, `expect_stable`).


@mistake("ch11.clip_loss.image_to_text_only")
def clip_loss(image_emb, text_emb, logit_scale):
    img = image_emb / image_emb.norm(dim=-1, keepdim=True)
    txt = text_emb / text_emb.norm(dim=-1, keepdim=True)
    logits = logit_scale * img @ txt.T
    # each image against all texts: the rows only
    return (torch.logsumexp(logits, dim=1) - logits.diagonal()).mean()


@mistake("ch11.clip_loss.text_to_image_only")
def clip_loss(image_emb, text_emb, logit_scale):
    img = image_emb / image_emb.norm(dim=-1, keepdim=True)
    txt = text_emb / text_emb.norm(dim=-1, keepdim=True)
    logits = logit_scale * img @ txt.T
    # each text against all images: the columns only
    return (torch.logsumexp(logits, dim=0) - logits.diagonal()).mean()


@mistake("ch11.clip_loss.not_normalised")
def clip_loss(image_emb, text_emb, logit_scale):
    logits = logit_scale * image_emb @ text_emb.T  # dot products, not cosines
    diag = logits.diagonal()
    rows = torch.logsumexp(logits, dim=1) - diag
    cols = torch.logsumexp(logits, dim=0) - diag
    return (rows.mean() + cols.mean()) / 2


@mistake("ch11.clip_loss.divides_by_scale")
def clip_loss(image_emb, text_emb, logit_scale):
    # treats logit_scale as a temperature
    img = image_emb / image_emb.norm(dim=-1, keepdim=True)
    txt = text_emb / text_emb.norm(dim=-1, keepdim=True)
    logits = img @ txt.T / logit_scale
    diag = logits.diagonal()
    rows = torch.logsumexp(logits, dim=1) - diag
    cols = torch.logsumexp(logits, dim=0) - diag
    return (rows.mean() + cols.mean()) / 2


@mistake("ch11.clip_loss.exponentiated_scale")
def clip_loss(image_emb, text_emb, logit_scale):
    # takes logit_scale for CLIP's log temperature t and exponentiates it
    img = image_emb / image_emb.norm(dim=-1, keepdim=True)
    txt = text_emb / text_emb.norm(dim=-1, keepdim=True)
    logits = torch.exp(torch.as_tensor(logit_scale, dtype=img.dtype)) * img @ txt.T
    diag = logits.diagonal()
    rows = torch.logsumexp(logits, dim=1) - diag
    cols = torch.logsumexp(logits, dim=0) - diag
    return (rows.mean() + cols.mean()) / 2


# --- zero_shot_classify ---------------------------------------------------------------------


@mistake("ch11.zero_shot_classify.text_not_normalised")
def zero_shot_classify(image_emb, class_text_emb, logit_scale=100.0):
    img = image_emb / image_emb.norm(dim=-1, keepdim=True)
    logits = logit_scale * img @ class_text_emb.T  # the class prompts keep their norms
    return torch.softmax(logits, dim=-1), logits.argmax(dim=-1)


@mistake("ch11.zero_shot_classify.image_not_normalised")
def zero_shot_classify(image_emb, class_text_emb, logit_scale=100.0):
    # normalises the class prompts only: the argmax is right, the probabilities are not
    txt = class_text_emb / class_text_emb.norm(dim=-1, keepdim=True)
    logits = logit_scale * image_emb @ txt.T
    return torch.softmax(logits, dim=-1), logits.argmax(dim=-1)


@mistake("ch11.zero_shot_classify.softmax_over_images")
def zero_shot_classify(image_emb, class_text_emb, logit_scale=100.0):
    img = image_emb / image_emb.norm(dim=-1, keepdim=True)
    txt = class_text_emb / class_text_emb.norm(dim=-1, keepdim=True)
    logits = logit_scale * img @ txt.T
    probs = torch.softmax(logits, dim=0)  # over the images, not the classes
    return probs, probs.argmax(dim=-1)


@mistake("ch11.zero_shot_classify.scale_ignored")
def zero_shot_classify(image_emb, class_text_emb, logit_scale=100.0):
    img = image_emb / image_emb.norm(dim=-1, keepdim=True)
    txt = class_text_emb / class_text_emb.norm(dim=-1, keepdim=True)
    logits = img @ txt.T  # cosines, never multiplied by logit_scale
    return torch.softmax(logits, dim=-1), logits.argmax(dim=-1)


# --- retrieval_recall_at_k ------------------------------------------------------------------


@mistake("ch11.retrieval_recall_at_k.ties_in_favour")
def retrieval_recall_at_k(image_emb, text_emb, k):
    # counts only strictly more similar texts: ties go in the image's favour
    img = image_emb / image_emb.norm(dim=-1, keepdim=True)
    txt = text_emb / text_emb.norm(dim=-1, keepdim=True)
    sims = img @ txt.T
    n = sims.shape[0]
    match = sims[torch.arange(n), torch.arange(n)]
    better = (sims > match[:, None]).sum(dim=1)
    return (better < k).to(image_emb.dtype).mean()


@mistake("ch11.retrieval_recall_at_k.match_not_excluded")
def retrieval_recall_at_k(image_emb, text_emb, k):
    # forgets that the match is among the texts at least as similar as itself
    img = image_emb / image_emb.norm(dim=-1, keepdim=True)
    txt = text_emb / text_emb.norm(dim=-1, keepdim=True)
    sims = img @ txt.T
    n = sims.shape[0]
    match = sims[torch.arange(n), torch.arange(n)]
    at_least = (sims >= match[:, None]).sum(dim=1)
    return (at_least < k).to(image_emb.dtype).mean()


@mistake("ch11.retrieval_recall_at_k.dot_product")
def retrieval_recall_at_k(image_emb, text_emb, k):
    sims = image_emb @ text_emb.T  # raw dot products, not cosines
    n = sims.shape[0]
    match = sims[torch.arange(n), torch.arange(n)]
    others = (sims >= match[:, None]).sum(dim=1) - 1
    return (others < k).to(image_emb.dtype).mean()


@mistake("ch11.retrieval_recall_at_k.text_to_image")
def retrieval_recall_at_k(image_emb, text_emb, k):
    # ranks the images for each text (columns) instead of the texts for each image (rows)
    img = image_emb / image_emb.norm(dim=-1, keepdim=True)
    txt = text_emb / text_emb.norm(dim=-1, keepdim=True)
    sims = txt @ img.T
    n = sims.shape[0]
    match = sims[torch.arange(n), torch.arange(n)]
    others = (sims >= match[:, None]).sum(dim=1) - 1
    return (others < k).to(image_emb.dtype).mean()
