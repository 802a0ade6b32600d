"""Chapter 1, the reference side of known mistakes and of the truths the checks compare
against.

Known mistakes: realistic student code for each `mistake.ch1.*` message of the
catalogue, registered by its key (`solutions.mistakes.mistake`). Each is written as a
student would write the exercise function in `solutions/ch1_ml_basics.py`, and runs in
that module's namespace (torch and the chapter's other functions, as the references
define them), so the mutant suite can grade it as a submission unchanged. Mistakes the
checks name themselves stay in `grader/checks/ch1_ml_basics.py`: those whose message
has parameters (`log_softmax.max_not_added_back`, `kmeans.iterations`,
`pca.variance_denominator`), PCA's `sign` (either sign of each component is the same
mistake) and the second forms of `softmax.not_normalised`, `kmeans.empty_cluster` (NaN
centroids) and `pca.order`; their mutants stay in `tests/mutants/ch1_mutants.py`.

Truths: the Boltzmann distribution by F.softmax, the eigen-pairs of a covariance, and the
tests that discard inputs the contract does not decide, reached through `ref`
(`ref.kmeans_is_ambiguous(...)`).

Never shipped in a release: the release carries the recorded outputs only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from solutions.mistakes import mistake

# --- boltzmann ----------------------------------------------------------------------------


def boltzmann_softmax_of_minus_energy(energies: torch.Tensor, temperature: float) -> torch.Tensor:
    """p = softmax(-E / T) over the last dim (the truth, computed by F.softmax)."""
    return F.softmax(-energies / temperature, dim=-1)


# --- k-means --------------------------------------------------------------------------------


def _lloyd(x, c, iters, trace=None):
    """Lloyd's algorithm with the contract's rules (ties to the lower index, an empty
    cluster keeps its centroid), appending each assignment step's (distances, centroids)
    to `trace`."""

    def assign(c):
        d = ((x[:, None, :] - c[None, :, :]) ** 2).sum(dim=-1)  # (N, K)
        if trace is not None:
            trace.append((d, c))
        return d.argmin(dim=1)

    for _ in range(iters):
        a = assign(c)
        new = c.clone()
        for j in range(c.shape[0]):
            members = a == j
            if members.any():
                new[j] = x[members].mean(dim=0)
        c = new
    return c, assign(c)


def _exact(t: torch.Tensor) -> bool:
    """Small multiples of 1/8: squared distances between such points are exact in float32."""
    return bool((t.abs() <= 16).all() and ((t * 8) == (t * 8).round()).all())


def kmeans_is_ambiguous(x: torch.Tensor, c0: torch.Tensor, iters: int, dtype: str) -> bool:
    """True when some assignment step has a point (almost) equally far from two centroids
    and floating point in `dtype` ("float32"/"float64"), not the contract, would decide
    it. An exact tie is decided by the contract (lower index) when it is computed
    exactly: between identical centroids, or between small multiples of 1/8."""
    trace: list = []
    _lloyd(x.double(), c0.double(), iters, trace=trace)
    x_exact = _exact(x.double())
    for d, c in trace:
        if d.shape[1] < 2:
            continue
        scale = float((x.double() ** 2).sum(1).max() + (c**2).sum(1).max()) + 1.0
        best, order = d.sort(dim=1)
        gap = best[:, 1] - best[:, 0]
        near = gap <= (1e-3 if dtype == "float32" else 1e-9) * scale
        for i in near.nonzero().flatten().tolist():
            same = torch.equal(c[order[i, 0]], c[order[i, 1]])
            if gap[i] == 0 and (same or (x_exact and _exact(c))):
                continue
            return True
    return False


def kmeans_empties_a_cluster(x: torch.Tensor, c0: torch.Tensor, iters: int) -> bool:
    """True when some cluster receives no point in some iteration."""
    trace: list = []
    _lloyd(x.double(), c0.double(), iters, trace=trace)
    return any(len(d.argmin(dim=1).unique()) < d.shape[1] for d, _ in trace[:-1])


# --- PCA ------------------------------------------------------------------------------------


def pca_sign_rule(components: torch.Tensor) -> torch.Tensor:
    """The contract's sign rule: the entry of largest magnitude of each row is positive."""
    picked = components.gather(1, components.abs().argmax(dim=1, keepdim=True))
    return components * torch.where(picked < 0, -1.0, 1.0).to(components.dtype)


def _eig(x, centre=True):
    """Eigenvalues (descending) and eigenvectors (rows) of the covariance."""
    xc = x - x.mean(dim=0) if centre else x
    cov = xc.T @ xc / (x.shape[0] - 1)
    values, vectors = torch.linalg.eigh(cov)
    return values.flip(0), vectors.flip(1).T


def pca_is_well_posed(x: torch.Tensor, k: int) -> bool:
    """The top k directions are well separated (relative eigen-gaps of at least 5%), carry
    real variance, and each has one clearly largest entry, so the contract fixes them."""
    values, vectors = _eig(x.double())
    top = float(values[0])
    if top <= 1e-6:
        return False
    gaps = values[:k] - torch.cat([values[1 : k + 1], values.new_zeros(max(0, k + 1 - len(values)))])[:k]
    if (gaps < 0.05 * top).any() or values[k - 1] < 1e-2 * top:
        return False
    mags = vectors[:k].abs().sort(dim=1, descending=True).values
    return mags.shape[1] < 2 or bool((mags[:, 0] - mags[:, 1] > 1e-3).all())


# --- log-softmax ------------------------------------------------------------------------


def log_softmax_stability_causes(logits: torch.Tensor, dim: int) -> dict[str, torch.Tensor]:
    """Catalogue key -> the output of an unstable log-softmax whose NaN/inf pattern names a
    non-finite answer, in the logits' own dtype (that is where exp() overflows): no max
    shift at all, x - log(sum(exp(x))), is -inf (overflow) or +inf (every term
    underflowed) but never NaN, so the general rule (NaN means no shift) would miss it.
    As `causes` of `expect_stable`."""
    return {"mistake.ch1.log_softmax.overflow": logits - torch.log(torch.exp(logits).sum(dim=dim, keepdim=True))}


# === known mistakes =========================================================================
# Each mistake's message is about its own output: those that are NaN or inf for large
# inputs (softmax.overflow, softmax.global_max, log_softmax.overflow,
# log_softmax.log_of_softmax, conditional_from_joint.zero_row_nan, boltzmann.unstable) say
# so; the stability check of log_softmax names a non-finite answer by the stability rule
# and its causes (`expect_stable`) whatever it matches. The others stay finite wherever the
# reference is.

# --- softmax --------------------------------------------------------------------------------


@mistake("ch1.softmax.overflow")
def softmax(logits, dim=-1):
    e = torch.exp(logits)  # no shift: exp(1000.) = inf, and inf / inf = nan
    return e / e.sum(dim=dim, keepdim=True)


@mistake("ch1.softmax.wrong_dim")
def softmax(logits, dim=-1):
    # always the last axis, whatever `dim` says
    e = torch.exp(logits - logits.amax(dim=-1, keepdim=True))
    return e / e.sum(dim=-1, keepdim=True)


@mistake("ch1.softmax.global_max")
def softmax(logits, dim=-1):
    # one maximum for the whole tensor: a slice far below it underflows to 0 / 0
    e = torch.exp(logits - logits.max())
    return e / e.sum(dim=dim, keepdim=True)


@mistake("ch1.softmax.not_normalised")
def softmax(logits, dim=-1):
    e = torch.exp(logits - logits.amax(dim=dim, keepdim=True))
    return e / e.sum()  # one total for every slice


# --- log_softmax ----------------------------------------------------------------------------


@mistake("ch1.log_softmax.overflow")
def log_softmax(logits, dim=-1):
    return logits - torch.log(torch.exp(logits).sum(dim=dim, keepdim=True))


@mistake("ch1.log_softmax.log_of_softmax")
def log_softmax(logits, dim=-1):
    return torch.log(softmax(logits, dim=dim))  # log(0) = -inf where the softmax underflows


@mistake("ch1.log_softmax.wrong_dim")
def log_softmax(logits, dim=-1):
    shifted = logits - logits.amax(dim=-1, keepdim=True)
    return shifted - torch.log(torch.exp(shifted).sum(dim=-1, keepdim=True))


# --- conditional_from_joint -----------------------------------------------------------------


@mistake("ch1.conditional_from_joint.zero_row_nan")
def conditional_from_joint(joint):
    return joint / joint.sum(dim=1, keepdim=True)  # 0 / 0 = nan in a row of zero mass


# before column_marginal (the first registered mistake an answer matches names it): on a
# table of one column both divide by the total; column_marginal still shows on tables of
# one row, where not_normalised is right
@mistake("ch1.conditional_from_joint.not_normalised")
def conditional_from_joint(joint):
    total = joint.sum()  # the total of the table, not of each row
    return joint / total if total > 0 else torch.zeros_like(joint)


@mistake("ch1.conditional_from_joint.column_marginal")
def conditional_from_joint(joint):
    p_y = joint.sum(dim=0, keepdim=True)  # the column sums
    safe = torch.where(p_y > 0, p_y, torch.ones_like(p_y))
    return torch.where(p_y > 0, joint / safe, torch.zeros_like(joint))


@mistake("ch1.conditional_from_joint.zero_row_filled")
def conditional_from_joint(joint):
    p_x = joint.sum(dim=1, keepdim=True)
    uniform = torch.full_like(joint, 1.0 / joint.shape[1])  # a uniform row where P(x) = 0
    return torch.where(p_x > 0, joint / p_x, uniform)


# --- boltzmann ------------------------------------------------------------------------------


@mistake("ch1.boltzmann.sign")
def boltzmann(energies, temperature=1.0):
    return softmax(energies / temperature, dim=-1)  # high energy made likely


@mistake("ch1.boltzmann.temperature")
def boltzmann(energies, temperature=1.0):
    return softmax(-energies * temperature, dim=-1)


@mistake("ch1.boltzmann.unstable")
def boltzmann(energies, temperature=1.0):
    e = torch.exp(-energies / temperature)  # every term underflows to 0 for large energies
    return e / e.sum(dim=-1, keepdim=True)


# --- kmeans ---------------------------------------------------------------------------------


@mistake("ch1.kmeans.stale_assignments")
def kmeans(x, init_centroids, iters):
    centroids = init_centroids.clone()
    assignments = ((x[:, None, :] - centroids[None, :, :]) ** 2).sum(-1).argmin(dim=1)
    for _ in range(iters):
        assignments = ((x[:, None, :] - centroids[None, :, :]) ** 2).sum(-1).argmin(dim=1)
        new = centroids.clone()
        for j in range(centroids.shape[0]):
            members = x[assignments == j]
            if len(members) > 0:
                new[j] = members.mean(dim=0)
        centroids = new
    return centroids, assignments  # the assignments of the centroids before the last update


@mistake("ch1.kmeans.ties")
def kmeans(x, init_centroids, iters):
    def assign(c):
        best = torch.full((x.shape[0],), float("inf"), dtype=x.dtype, device=x.device)
        idx = torch.zeros(x.shape[0], dtype=torch.int64, device=x.device)
        for j in range(c.shape[0]):
            d = ((x - c[j]) ** 2).sum(dim=1)
            better = d <= best  # `<=` hands ties to the later centroid
            best = torch.where(better, d, best)
            idx = torch.where(better, torch.full_like(idx, j), idx)
        return idx

    centroids = init_centroids.clone()
    for _ in range(iters):
        a = assign(centroids)
        new = centroids.clone()
        for j in range(centroids.shape[0]):
            if (a == j).any():
                new[j] = x[a == j].mean(dim=0)
        centroids = new
    return centroids, assign(centroids)


# the other form, nan centroids (a mean of nothing), is named by the checks themselves
@mistake("ch1.kmeans.empty_cluster")
def kmeans(x, init_centroids, iters):
    k = init_centroids.shape[0]
    centroids = init_centroids.clone()

    def assign(c):
        return ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1).argmin(dim=1)

    for _ in range(iters):
        one_hot = torch.nn.functional.one_hot(assign(centroids), k).to(x.dtype)  # (N, K)
        # sum / max(count, 1): an empty cluster's centroid becomes 0 instead of staying
        centroids = (one_hot.T @ x) / one_hot.sum(0).clamp(min=1)[:, None]
    return centroids, assign(centroids)


# --- pca ------------------------------------------------------------------------------------


@mistake("ch1.pca.not_centred")
def pca(x, k):
    _, s, vh = torch.linalg.svd(x, full_matrices=False)  # the raw data, not x - mean
    components = vh[:k]
    signs = torch.sign(components.gather(1, components.abs().argmax(dim=1, keepdim=True)))
    return components * signs, s[:k] ** 2 / (x.shape[0] - 1)


@mistake("ch1.pca.order")
def pca(x, k):
    xc = x - x.mean(dim=0)
    cov = xc.T @ xc / (x.shape[0] - 1)
    values, vectors = torch.linalg.eigh(cov)  # ascending: the k smallest, smallest first
    components = vectors[:, :k].T
    signs = torch.sign(components.gather(1, components.abs().argmax(dim=1, keepdim=True)))
    return components * signs, values[:k]


@mistake("ch1.pca.transposed")
def pca(x, k):
    xc = x - x.mean(dim=0)
    _, s, vh = torch.linalg.svd(xc, full_matrices=False)
    components = vh[:k]
    signs = torch.sign(components.gather(1, components.abs().argmax(dim=1, keepdim=True)))
    return (components * signs).T, s[:k] ** 2 / (x.shape[0] - 1)  # one component per column
