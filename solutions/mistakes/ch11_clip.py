"""Chapter 11, the reference side of known mistakes and of the truths the checks compare
against: the CLIP loss as open_clip writes it, zero-shot probabilities, recall@k with
the contract's tie rule, and one function per exercise giving each known mistake's output
(`ref.clip_loss_mistake_outputs(...)`). Reached through `ref`, never shipped in a release.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from grader.precision import truth  # computed in float64, given back in the inputs' dtype


def _cosines(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T


def clip_loss_by_cross_entropy(img, txt, scale):
    """open_clip's formulation: F.normalize, then F.cross_entropy both ways."""

    def run(img, txt):
        logits = scale * _cosines(img, txt)
        labels = torch.arange(img.shape[0])
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2

    return truth(run, img, txt)


def clip_loss_mistake_outputs(img, txt, scale):
    def ce_both(logits):
        labels = torch.arange(logits.shape[0])
        return F.cross_entropy(logits, labels), F.cross_entropy(logits.T, labels)

    def run(img, txt):
        cos = _cosines(img, txt)
        rows, cols = ce_both(scale * cos)
        return {
            "mistake.ch11.clip_loss.image_to_text_only": rows,
            "mistake.ch11.clip_loss.text_to_image_only": cols,
            "mistake.ch11.clip_loss.not_normalised": sum(ce_both(scale * img @ txt.T)) / 2,
            "mistake.ch11.clip_loss.divides_by_scale": sum(ce_both(cos / scale)) / 2,
            "mistake.ch11.clip_loss.exponentiated_scale": sum(ce_both(torch.exp(torch.tensor(scale, dtype=torch.float64)) * cos)) / 2,
        }

    # a mistake whose output is inf or NaN names nothing (any unstable answer would match it)
    return {key: out for key, out in truth(run, img, txt).items() if bool(torch.isfinite(out))}


def zero_shot_softmax_of_cosines(img, classes, scale):
    """softmax over classes of logit_scale * cosine(image, class)."""
    return truth(lambda img, classes: torch.softmax(scale * _cosines(img, classes), dim=-1), img, classes)


def zero_shot_classify_mistake_outputs(img, classes, scale):
    def run(img, classes):
        unit_img = F.normalize(img, dim=-1)
        logits = scale * _cosines(img, classes)
        return {
            "mistake.ch11.zero_shot_classify.text_not_normalised": (torch.softmax(scale * unit_img @ classes.T, dim=-1), None),
            "mistake.ch11.zero_shot_classify.image_not_normalised": (torch.softmax(scale * img @ F.normalize(classes, dim=-1).T, dim=-1), None),
            "mistake.ch11.zero_shot_classify.softmax_over_images": (torch.softmax(logits, dim=0), None),
            "mistake.ch11.zero_shot_classify.scale_ignored": (torch.softmax(logits / scale, dim=-1), None),
        }

    return truth(run, img, classes)


def recall_at_k_variant(sims: torch.Tensor, k: int, strict: bool = False, count_match: bool = False) -> torch.Tensor:
    """recall@k from an (N, N) similarity matrix, the contract's rule unless told."""
    match = sims.diagonal()[:, None]
    rivals = (sims > match) if strict else (sims >= match)
    others = rivals.sum(dim=1) - (0 if count_match or strict else 1)
    return (others < k).double().mean()


def recall_at_k_of_cosines(img, txt, k):
    return truth(lambda i, t: recall_at_k_variant(_cosines(i, t), k), img, txt)


def retrieval_recall_at_k_mistake_outputs(img, txt, k):
    def run(img, txt):
        cos = _cosines(img, txt)
        return {
            "mistake.ch11.retrieval_recall_at_k.ties_in_favour": recall_at_k_variant(cos, k, strict=True),
            "mistake.ch11.retrieval_recall_at_k.match_not_excluded": recall_at_k_variant(cos, k, count_match=True),
            "mistake.ch11.retrieval_recall_at_k.dot_product": recall_at_k_variant(img @ txt.T, k),
            "mistake.ch11.retrieval_recall_at_k.text_to_image": recall_at_k_variant(cos.T, k),
        }

    return truth(run, img, txt)



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
