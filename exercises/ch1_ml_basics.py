"""Chapter 1: machine learning overview (probability and unsupervised basics).

Turning scores into probabilities (softmax, log-softmax, the Boltzmann distribution of an
energy-based model), conditioning a discrete joint distribution, and two unsupervised
methods: k-means clustering (Lloyd's algorithm) and principal component analysis.

Everything here is plain tensor arithmetic with no autograd. Left out: sampling, mixture
models and EM, kernel PCA, k-means++ initialisation (the initial centroids are given).
"""

from __future__ import annotations

import torch


def softmax(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax along `dim`: softmax(x)_i = exp(x_i) / sum_j exp(x_j).

    The result must be finite for logits of any magnitude (exp(1000.) overflows).

    Shapes: `logits` any shape; the output has the same shape, and sums to 1 along `dim`.

    Example: softmax(tensor([0., log 3])) -> tensor([0.25, 0.75]);
    softmax(tensor([1000., 1000.])) -> tensor([0.5, 0.5]).
    """
    # TODO: implement ch1.softmax (hint: `dlcourse hint ch1.softmax`).
    raise NotImplementedError("ch1.softmax")


def log_softmax(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Log of the softmax along `dim`: x_i - log sum_j exp(x_j).

    Finite for logits of any magnitude, in float32 as in float64: log(softmax(x)) is not
    enough, even with a max shift, as it gives -inf wherever the softmax underflows to 0.

    Shapes: `logits` any shape; the output has the same shape.

    Example: log_softmax(tensor([0., log 3])) -> tensor([log 0.25, log 0.75])
    = tensor([-1.3863, -0.2877]); log_softmax(tensor([0., 1000.])) -> tensor([-1000., 0.]).
    """
    # TODO: implement ch1.log_softmax (hint: `dlcourse hint ch1.log_softmax`).
    raise NotImplementedError("ch1.log_softmax")


def conditional_from_joint(joint: torch.Tensor) -> torch.Tensor:
    """Conditional table P(y | x) = P(x, y) / P(x) from a joint table P(x, y).

    P(x) = sum_y P(x, y) is the row sum. A row with zero mass (P(x) = 0) has no
    defined conditional; it is returned as all zeros instead of 0 / 0 = nan.

    Shapes: `joint` (X, Y), rows indexed by x and columns by y; returns (X, Y) whose
    rows sum to 1 (or to 0 for a row of zero mass).

    Example: conditional_from_joint(tensor([[0.1, 0.3], [0.0, 0.0], [0.6, 0.0]]))
    -> tensor([[0.25, 0.75], [0.0, 0.0], [1.0, 0.0]]).
    """
    # TODO: implement ch1.conditional_from_joint (hint: `dlcourse hint ch1.conditional_from_joint`).
    raise NotImplementedError("ch1.conditional_from_joint")


def boltzmann(energies: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Boltzmann (Gibbs) distribution of an energy-based model over the last dim.

    p_i = exp(-E_i / T) / sum_j exp(-E_j / T): low energy means high probability, a
    high temperature T flattens the distribution and T -> 0 concentrates it on the
    minimum energy. Finite for energies of any magnitude.

    Shapes: `energies` (..., S) for S states; returns (..., S) summing to 1 on the last dim.

    Example: boltzmann(tensor([0., log 3])) -> tensor([0.75, 0.25]);
    boltzmann(tensor([0., log 3]), temperature=0.5) -> tensor([0.9, 0.1]).
    """
    # TODO: implement ch1.boltzmann (hint: `dlcourse hint ch1.boltzmann`).
    raise NotImplementedError("ch1.boltzmann")


def kmeans(
    x: torch.Tensor, init_centroids: torch.Tensor, iters: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's algorithm for k-means, run for exactly `iters` iterations.

    One iteration: assign each point to its nearest centroid (squared Euclidean
    distance, ties to the lower centroid index), then move every centroid to the mean of
    its points; a centroid with no points keeps its previous position. After the last
    iteration the points are assigned once more, to the final centroids.

    Shapes: `x` (N, D), `init_centroids` (K, D); returns (centroids (K, D),
    assignments (N,) int64). `iters` = 0 returns the initial centroids and their assignments.

    Example: x = tensor([[0.], [1.], [10.], [11.]]), init_centroids = tensor([[0.], [1.]]),
    iters = 1: assignments [0, 1, 1, 1] -> centroids [[0.], [7.3333]]; final
    assignments [0, 0, 1, 1].
    """
    # TODO: implement ch1.kmeans (hint: `dlcourse hint ch1.kmeans`).
    raise NotImplementedError("ch1.kmeans")


def pca(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Principal component analysis: the top `k` directions of variance of `x`.

    With the centred data Xc = x - mean(x), the principal components are the unit
    eigenvectors of the covariance Xc^T Xc / (N - 1) with the k largest eigenvalues, in
    decreasing order, and the explained variances are those eigenvalues, as
    scikit-learn's PCA. A component is only defined up to its sign; the sign is
    fixed so that the entry of largest magnitude of each component is positive.

    Shapes: `x` (N, D) with N >= 2 and k <= min(N, D); returns (components (k, D),
    explained_variance (k,)).

    Example: pca(tensor([[-1., 0.], [1., 0.], [0., 0.5], [0., -0.5]]), 1)
    -> (tensor([[1., 0.]]), tensor([0.6667])).
    """
    # TODO: implement ch1.pca (hint: `dlcourse hint ch1.pca`).
    raise NotImplementedError("ch1.pca")
