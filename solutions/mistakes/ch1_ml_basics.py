"""Chapter 1, the reference side of known mistakes and of the truths the checks compare
against: Lloyd's algorithm with the contract's rules or a known mistake's, the
eigen-pairs of a covariance, and the tests that discard inputs the contract does not
decide. Reached through `ref` (`ref.kmeans_lloyd(...)`), never shipped in a release.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# --- boltzmann ----------------------------------------------------------------------------


def boltzmann_softmax_of_minus_energy(energies: torch.Tensor, temperature: float) -> torch.Tensor:
    """p = softmax(-E / T) over the last dim (the truth, computed by F.softmax)."""
    return F.softmax(-energies / temperature, dim=-1)


# --- k-means --------------------------------------------------------------------------------


def _lloyd(x, c, iters, ties="lower", empty="keep", trace=None):
    def assign(c):
        d = ((x[:, None, :] - c[None, :, :]) ** 2).sum(dim=-1)  # (N, K)
        if trace is not None:
            trace.append((d, c))
        if ties == "lower":
            return d.argmin(dim=1)
        return d.shape[1] - 1 - d.flip(1).argmin(dim=1)

    for _ in range(iters):
        a = assign(c)
        new = c.clone()
        for j in range(c.shape[0]):
            members = a == j
            if members.any():
                new[j] = x[members].mean(dim=0)
            elif empty == "nan":
                new[j] = float("nan")
            elif empty == "zero":
                new[j] = 0.0
        c = new
    return c, assign(c)


def kmeans_lloyd(x: torch.Tensor, c: torch.Tensor, iters: int, ties: str = "lower", empty: str = "keep") -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's algorithm with the contract's rules (ties to the lower index, an empty
    cluster keeps its centroid), or with a known mistake's: `ties="higher"`,
    `empty="nan"` (mean of nothing) or `empty="zero"`."""
    return _lloyd(x, c, iters, ties, empty)


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


def pca_mistake_outputs(x: torch.Tensor, k: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """(components, explained_variance) of the usual PCA mistakes: data not centred (the
    eigen-pairs of X^T X / (N - 1), what an SVD of the raw data gives), the k smallest
    directions, the top k in reverse order."""
    values, vectors = _eig(x)
    raw_values, raw_vectors = _eig(x, centre=False)
    d = vectors.shape[0]
    return {
        "not_centred": (pca_sign_rule(raw_vectors[:k]), raw_values[:k]),
        "smallest": (pca_sign_rule(vectors[d - k :].flip(0)), values[d - k :].flip(0)),
        "reversed": (pca_sign_rule(vectors[:k]).flip(0), values[:k].flip(0)),
    }


# --- log-softmax ------------------------------------------------------------------------


def log_softmax_stability_causes(logits: torch.Tensor, dim: int) -> dict[str, torch.Tensor]:
    """Catalogue key -> the output of an unstable log-softmax whose NaN/inf pattern names a
    non-finite answer, in the logits' own dtype (that is where exp() overflows): no max
    shift at all, x - log(sum(exp(x))), is -inf (overflow) or +inf (every term
    underflowed) but never NaN, so the general rule (NaN means no shift) would miss it.
    As `causes` of `expect_stable`."""
    return {"mistake.ch1.log_softmax.overflow": logits - torch.log(torch.exp(logits).sum(dim=dim, keepdim=True))}
