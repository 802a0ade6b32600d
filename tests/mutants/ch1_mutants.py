"""Chapter 1 mutants (realistic student mistakes) and variants (correct, written differently).

Each function is appended to `solutions/ch1_ml_basics.py` under its exercise's name, so it
may use torch, math and that module's functions, nothing else from here.

The known mistakes of the catalogue (`mistake.ch1.*`) are registered student code in
`solutions/mistakes/ch1_ml_basics.py`, graded as mutants by `mistake_cases()`. Kept here:
the variants and the mutants the grader names otherwise: the log-softmax stability
mutants (named by the stability rule, whose wording their `expect` pins), the mistakes the
checks name themselves (a constant offset, another number of iterations, nan centroids,
the variance denominator, the sign), a temperature left out, and defaults of the
signature changed (named by `mistake.default_argument`).
"""

from __future__ import annotations

import torch

from solutions.ch1_ml_basics import softmax
from tests.mutants import mutant, variant

# ---------------------------------------------------------------- ch1.softmax


@variant("ch1.softmax")
def softmax__exp_of_log_normaliser(logits, dim=-1):
    shifted = logits - logits.amax(dim=dim, keepdim=True)
    log_z = torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))
    return torch.exp(shifted - log_z)


@variant("ch1.softmax")
def softmax__moved_to_last_dim(logits, dim=-1):
    x = logits.movedim(dim, -1)
    e = torch.exp(x - x.max(dim=-1, keepdim=True).values)
    return (e / e.sum(dim=-1, keepdim=True)).movedim(-1, dim)


# ---------------------------------------------------------------- ch1.log_softmax


# the stability check must name the real mistake: code that already shifts by the max is
# told that the log of an underflowed probability is the problem, never to shift by the max
@mutant("ch1.log_softmax", expect=r"(?s)^(?!.*before exponentiating).*(underflowed to 0|log of a softmax)")
def log_softmax__log_of_softmax(logits, dim=-1):
    e = torch.exp(logits - logits.amax(dim=dim, keepdim=True))
    return torch.log(e / e.sum(dim=dim, keepdim=True))  # log(0) = -inf for large gaps


@mutant("ch1.log_softmax", expect=r"(?s)^(?!.*Shifting by the max is not enough).*overflow")
def log_softmax__no_max_shift(logits, dim=-1):
    return logits - torch.log(torch.exp(logits).sum(dim=dim, keepdim=True))


@mutant("ch1.log_softmax", expect=r"(?s)^(?!.*Shifting by the max is not enough).*overflow")
def log_softmax__naive_log_of_softmax(logits, dim=-1):
    e = torch.exp(logits)  # no shift: inf / inf = NaN, then log(NaN)
    return torch.log(e / e.sum(dim=dim, keepdim=True))


@mutant("ch1.log_softmax", expect=r"max|shift|constant|offset")
def log_softmax__max_not_added_back(logits, dim=-1):
    m = logits.amax(dim=dim, keepdim=True)
    return logits - torch.log(torch.exp(logits - m).sum(dim=dim, keepdim=True))


@variant("ch1.log_softmax")
def log_softmax__pairwise_logaddexp(logits, dim=-1):
    shifted = logits - logits.amax(dim=dim, keepdim=True)
    lse = shifted.narrow(dim, 0, 1)  # log-sum-exp accumulated one entry at a time
    for i in range(1, shifted.shape[dim]):
        lse = torch.logaddexp(lse, shifted.narrow(dim, i, 1))
    return shifted - lse


@variant("ch1.log_softmax")
def log_softmax__moved_to_last_dim_log1p(logits, dim=-1):
    x = logits.movedim(dim, -1)
    shifted = x - x.max(dim=-1, keepdim=True).values
    # the largest term is exp(0) = 1: log(1 + rest) with log1p
    rest = torch.exp(shifted).sum(dim=-1, keepdim=True) - 1
    return (shifted - torch.log1p(rest)).movedim(-1, dim)


# ---------------------------------------------------------------- ch1.conditional_from_joint


@variant("ch1.conditional_from_joint")
def conditional_from_joint__row_loop(joint):
    out = torch.zeros_like(joint)
    for i in range(joint.shape[0]):
        total = joint[i].sum()
        if total > 0:
            out[i] = joint[i] / total
    return out


# ---------------------------------------------------------------- ch1.boltzmann


@variant("ch1.boltzmann")
def boltzmann__shift_by_min_energy(energies, temperature=1.0):
    e_min = energies.amin(dim=-1, keepdim=True)
    w = torch.exp(-(energies - e_min) / temperature)
    return w / w.sum(dim=-1, keepdim=True)


# ---------------------------------------------------------------- ch1.kmeans


@mutant("ch1.kmeans", expect=r"empty|nan")
def kmeans__empty_cluster_nan(x, init_centroids, iters):
    centroids = init_centroids.clone()
    k = centroids.shape[0]
    for _ in range(iters):
        dist = ((x[:, None, :] - centroids[None, :, :]) ** 2).sum(-1)
        assignments = dist.argmin(dim=1)
        centroids = torch.stack([x[assignments == j].mean(dim=0) for j in range(k)])
    dist = ((x[:, None, :] - centroids[None, :, :]) ** 2).sum(-1)
    return centroids, dist.argmin(dim=1)


@mutant("ch1.kmeans", expect=r"iter")
def kmeans__one_iteration_too_many(x, init_centroids, iters):
    centroids = init_centroids.clone()
    k = centroids.shape[0]
    for _ in range(iters + 1):
        dist = ((x[:, None, :] - centroids[None, :, :]) ** 2).sum(-1)
        assignments = dist.argmin(dim=1)
        new = centroids.clone()
        for j in range(k):
            members = x[assignments == j]
            if len(members) > 0:
                new[j] = members.mean(dim=0)
        centroids = new
    dist = ((x[:, None, :] - centroids[None, :, :]) ** 2).sum(-1)
    return centroids, dist.argmin(dim=1)


@variant("ch1.kmeans")
def kmeans__loops_and_index_add(x, init_centroids, iters):
    def assign(c):
        best = torch.full((x.shape[0],), float("inf"), dtype=x.dtype, device=x.device)
        idx = torch.zeros(x.shape[0], dtype=torch.int64, device=x.device)
        for j in range(c.shape[0]):
            d = ((x - c[j]) ** 2).sum(dim=1)
            better = d < best  # strict: ties stay with the earlier centroid
            best = torch.where(better, d, best)
            idx = torch.where(better, torch.full_like(idx, j), idx)
        return idx

    centroids = init_centroids.clone()
    k = centroids.shape[0]
    for _ in range(iters):
        a = assign(centroids)
        sums = torch.zeros_like(centroids).index_add(0, a, x)
        counts = torch.bincount(a, minlength=k).to(x.dtype)
        centroids = torch.where(
            (counts > 0)[:, None], sums / counts.clamp(min=1)[:, None], centroids
        )
    return centroids, assign(centroids)


# ---------------------------------------------------------------- ch1.pca


@mutant("ch1.pca", expect=r"N ?- ?1|denominator|unbiased|biased|ddof|factor|scale|variance")
def pca__biased_variance(x, k):
    xc = x - x.mean(dim=0)
    _, s, vh = torch.linalg.svd(xc, full_matrices=False)
    comps = vh[:k]
    signs = torch.sign(comps.gather(1, comps.abs().argmax(dim=1, keepdim=True)))
    return comps * signs, s[:k] ** 2 / x.shape[0]


@mutant("ch1.pca", expect=r"sign")
def pca__no_sign_fix(x, k):
    xc = x - x.mean(dim=0)
    _, s, vh = torch.linalg.svd(xc, full_matrices=False)
    comps = vh[:k]
    # a fixed but wrong convention: the first entry made positive
    return comps * torch.sign(comps[:, :1]), s[:k] ** 2 / (x.shape[0] - 1)


@variant("ch1.pca")
def pca__covariance_eigh(x, k):
    n = x.shape[0]
    xc = x - x.mean(dim=0)
    cov = xc.T @ xc / (n - 1)
    evals, evecs = torch.linalg.eigh(cov)
    order = torch.argsort(evals, descending=True)[:k]
    comps = evecs[:, order].T.contiguous()
    for i in range(k):
        j = int(comps[i].abs().argmax())
        if comps[i, j] < 0:
            comps[i] = -comps[i]
    return comps, evals[order]


# ---------------------------------------------------------------- more cases, found while writing the checks


@mutant("ch1.boltzmann", expect=r"temperature")
def boltzmann__ignores_temperature(energies, temperature=1.0):
    return softmax(-energies, dim=-1)


@variant("ch1.kmeans")
def kmeans__expanded_squared_distances(x, init_centroids, iters):
    def assign(c):
        # |x|^2 - 2 x.c + |c|^2: a different rounding than direct differences
        d = (x * x).sum(1, keepdim=True) - 2 * x @ c.T + (c * c).sum(1)[None, :]
        return d.argmin(dim=1)

    centroids = init_centroids.clone()
    for _ in range(iters):
        a = assign(centroids)
        new = centroids.clone()
        for j in range(centroids.shape[0]):
            if (a == j).any():
                new[j] = x[a == j].mean(dim=0)
        centroids = new
    return centroids, assign(centroids)


@variant("ch1.kmeans")
def kmeans__cdist(x, init_centroids, iters):
    centroids = init_centroids.clone()
    k = centroids.shape[0]
    for _ in range(iters):
        a = torch.cdist(x, centroids).argmin(dim=1)
        counts = torch.bincount(a, minlength=k)
        sums = torch.zeros_like(centroids).index_add_(0, a, x)
        mask = counts > 0
        centroids = centroids.clone()
        centroids[mask] = sums[mask] / counts[mask, None].to(x.dtype)
    return centroids, torch.cdist(x, centroids).argmin(dim=1)


@variant("ch1.pca")
def pca__svd_of_covariance(x, k):
    xc = x - x.mean(dim=0, keepdim=True)
    cov = xc.T @ xc / (x.shape[0] - 1)
    u, s, _ = torch.linalg.svd(cov)  # symmetric PSD: singular values are the eigenvalues
    comps = u[:, :k].T
    idx = comps.abs().argmax(dim=1, keepdim=True)
    return comps * torch.sign(comps.gather(1, idx)), s[:k]


# ---------------------------------------------------------------- promises of the signatures: defaults


@mutant("ch1.log_softmax", expect=r"Called without `dim`|default|out of range")
def log_softmax__batch_dim_default(logits, dim=1):
    # nn.LogSoftmax(dim=1) of a classifier as the default: right for (N, C), wrong for
    # log_softmax(x) on a 3-D tensor (or a crash on a 1-D one)
    m = logits.amax(dim=dim, keepdim=True)
    return logits - m - torch.log(torch.exp(logits - m).sum(dim=dim, keepdim=True))


@mutant("ch1.boltzmann", expect=r"Called without `temperature`.*temperature=1\.0")
def boltzmann__temperature_in_kelvin(energies, temperature=300.0):
    # room temperature as the default: boltzmann(E) is almost uniform instead of T = 1
    z = -energies / temperature
    e = torch.exp(z - z.amax(dim=-1, keepdim=True))
    return e / e.sum(dim=-1, keepdim=True)


@variant("ch1.softmax")
def softmax__dim_none_means_the_last(logits, dim=None):
    # a None default resolved to the last dim: the same as dim=-1
    dim = logits.dim() - 1 if dim is None else dim
    e = torch.exp(logits - logits.amax(dim=dim, keepdim=True))
    return e / e.sum(dim=dim, keepdim=True)
