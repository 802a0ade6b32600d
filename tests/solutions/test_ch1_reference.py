"""The chapter 1 reference (`solutions/ch1_ml_basics.py`) against PyTorch, scikit-learn and
plain NumPy, the stubs in `exercises/`, and a sanity check of the chapter's mutants and
variants (each mutant differs from the reference somewhere, each variant agrees)."""

from __future__ import annotations

import ast
import inspect
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA

import solutions.ch1_ml_basics as ref
import tests.mutants.ch1_mutants  # noqa: F401  (registers the chapter's cases)
from tests.mutants import CASES

ROOT = Path(__file__).resolve().parents[2]
DTYPES = [torch.float32, torch.float64]


def tol(dtype: torch.dtype) -> dict:
    return {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-12}


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- softmax, log_softmax


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [-1, 0, 1])
def test_softmax_matches_torch(dtype, dim):
    x = torch.randn(3, 4, 5, generator=gen(dim + 1), dtype=dtype) * 5
    before = x.clone()
    out = ref.softmax(x, dim=dim)
    torch.testing.assert_close(out, F.softmax(x, dim=dim), **tol(dtype))
    assert out.dtype == dtype and torch.equal(x, before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_finite_for_huge_logits(dtype):
    x = torch.tensor([[1000.0, 1000.0, -1000.0], [-5000.0, -5001.0, -5002.0]], dtype=dtype)
    out = ref.softmax(x)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, F.softmax(x, dim=-1), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [-1, 0])
def test_log_softmax_matches_torch(dtype, dim):
    x = torch.randn(6, 7, generator=gen(3), dtype=dtype) * 4
    before = x.clone()
    out = ref.log_softmax(x, dim=dim)
    torch.testing.assert_close(out, F.log_softmax(x, dim=dim), **tol(dtype))
    assert out.dtype == dtype and torch.equal(x, before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_large_gaps_and_magnitudes(dtype):
    x = torch.tensor([[0.0, 1000.0], [1e4, 1e4 + 1.0], [-3000.0, -3000.5]], dtype=dtype)
    out = ref.log_softmax(x)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, F.log_softmax(x, dim=-1), **tol(dtype))


# ---------------------------------------------------------------- conditional_from_joint


@pytest.mark.parametrize("dtype", DTYPES)
def test_conditional_from_joint_matches_categorical_and_zero_rows(dtype):
    joint = torch.rand(5, 4, generator=gen(4), dtype=dtype)
    joint[2] = 0.0
    joint = joint / joint.sum()
    before = joint.clone()
    out = ref.conditional_from_joint(joint)
    for i in (0, 1, 3, 4):
        # Categorical normalises its probs: the conditional of row i
        expected = torch.distributions.Categorical(probs=joint[i]).probs
        torch.testing.assert_close(out[i], expected, **tol(dtype))
    assert torch.equal(out[2], torch.zeros(4, dtype=dtype))
    assert out.dtype == dtype and torch.equal(joint, before)
    # P(x) * P(y | x) recovers the joint
    torch.testing.assert_close(joint.sum(1, keepdim=True) * out, joint, **tol(dtype))


# ---------------------------------------------------------------- boltzmann


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("temperature", [1.0, 0.3, 7.0])
def test_boltzmann_matches_categorical(dtype, temperature):
    energies = torch.randn(4, 6, generator=gen(5), dtype=dtype) * 3
    before = energies.clone()
    out = ref.boltzmann(energies, temperature)
    expected = torch.distributions.Categorical(logits=-energies / temperature).probs
    torch.testing.assert_close(out, expected, **tol(dtype))
    assert out.dtype == dtype and torch.equal(energies, before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_boltzmann_stable_for_large_energies(dtype):
    energies = torch.tensor([1000.0, 1001.0, 1000.0 + math.log(3.0)], dtype=dtype)
    out = ref.boltzmann(energies)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, F.softmax(-energies, dim=-1), **tol(dtype))
    # low energy means high probability
    assert out.argmax() == 0


# ---------------------------------------------------------------- kmeans


def blobs(dtype: torch.dtype, seed: int = 6) -> torch.Tensor:
    g = gen(seed)
    centres = torch.tensor([[0.0, 0.0], [6.0, 1.0], [2.0, 7.0]], dtype=dtype)
    return torch.cat([c + torch.randn(15, 2, generator=g, dtype=dtype) for c in centres])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("iters", [1, 2, 10])
def test_kmeans_matches_sklearn_lloyd(dtype, iters):
    x = blobs(dtype)
    init = x[[0, 1, 2]].clone()  # three points of the same blob: several iterations needed
    before = (x.clone(), init.clone())
    centroids, labels = ref.kmeans(x, init, iters)
    km = KMeans(3, init=init.numpy(), n_init=1, max_iter=iters, tol=0.0, algorithm="lloyd")
    km.fit(x.numpy())
    torch.testing.assert_close(centroids, torch.from_numpy(km.cluster_centers_).to(dtype), rtol=1e-4, atol=1e-5)
    assert labels.dtype == torch.int64 and labels.shape == (45,)
    assert torch.equal(labels, torch.from_numpy(km.labels_).to(torch.int64))
    assert centroids.dtype == dtype
    assert torch.equal(x, before[0]) and torch.equal(init, before[1])


def lloyd_numpy(x: np.ndarray, c: np.ndarray, iters: int) -> tuple[np.ndarray, np.ndarray]:
    """Plain loops: ties to the lower index, an empty cluster keeps its centroid."""
    c = c.copy()

    def assign(c):
        return np.array([min(range(len(c)), key=lambda k: (((p - c[k]) ** 2).sum(), k)) for p in x])

    for _ in range(iters):
        a = assign(c)
        for k in range(len(c)):
            if (a == k).any():
                c[k] = x[a == k].mean(axis=0)
    return c, assign(c)


def test_kmeans_empty_cluster_and_ties_match_plain_loops():
    x = torch.tensor([[0.0], [1.0], [2.0], [4.0], [5.0], [6.0]], dtype=torch.float64)
    # centroid 2 is far away and never wins a point; point 1. and 5. tie at times
    init = torch.tensor([[0.0], [2.0], [100.0]], dtype=torch.float64)
    for iters in range(4):
        centroids, labels = ref.kmeans(x, init, iters)
        c_np, a_np = lloyd_numpy(x.numpy(), init.numpy(), iters)
        torch.testing.assert_close(centroids, torch.from_numpy(c_np))
        assert labels.tolist() == a_np.tolist()
    assert ref.kmeans(x, init, 3)[0][2].item() == 100.0
    # a point exactly between two centroids goes to the lower index
    _, labels = ref.kmeans(torch.tensor([[1.0]]), torch.tensor([[0.0], [2.0]]), 0)
    assert labels.tolist() == [0]


# ---------------------------------------------------------------- pca


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 3])
def test_pca_matches_sklearn(dtype, k):
    g = gen(7)
    mixing = torch.randn(5, 5, generator=g, dtype=torch.float64)
    x64 = torch.randn(40, 5, generator=g, dtype=torch.float64) @ mixing + 3.0
    x = x64.to(dtype)
    before = x.clone()
    components, variance = ref.pca(x, k)
    sk = PCA(n_components=k, svd_solver="full").fit(x64.numpy())
    t = {"rtol": 1e-4, "atol": 1e-4} if dtype == torch.float32 else {"rtol": 1e-9, "atol": 1e-10}
    torch.testing.assert_close(components, torch.from_numpy(sk.components_).to(dtype), **t)
    torch.testing.assert_close(variance, torch.from_numpy(sk.explained_variance_).to(dtype), **t)
    assert components.shape == (k, 5) and variance.shape == (k,)
    assert components.dtype == dtype and torch.equal(x, before)
    # the sign convention: the largest-magnitude entry of each component is positive
    picked = components.gather(1, components.abs().argmax(1, keepdim=True))
    assert (picked > 0).all()


# ---------------------------------------------------------------- stubs, catalogue, curriculum


def functions(module) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(inspect.getsource(module))
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


# ---------------------------------------------------------------- mutants and variants


def close(a, b, rtol: float, atol: float) -> bool:
    """Same structure, shapes and dtypes, and values within tolerance (nan equals nan)."""
    if isinstance(a, (tuple, list)):
        return (
            isinstance(b, (tuple, list))
            and len(a) == len(b)
            and all(close(x, y, rtol, atol) for x, y in zip(a, b))
        )
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
        return False
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if not a.is_floating_point():
        return torch.equal(a, b)
    return torch.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


def inputs(exercise: str) -> list[tuple]:
    """Argument tuples for one exercise: ordinary values plus the edge cases of the contract."""
    g = gen(11)
    d64 = torch.float64
    if exercise in ("ch1.softmax", "ch1.log_softmax"):
        return [
            (torch.randn(4, 5, generator=g, dtype=d64) * 3,),
            (torch.randn(3, 4, 5, generator=g, dtype=d64), 1),
            (torch.randn(4, 6, generator=g, dtype=d64) + 2.0, 0),
            (torch.tensor([[1000.0, 999.0, 0.0], [-1000.0, -1001.0, -1002.0]], dtype=d64),),
            (torch.tensor([[0.0, 1000.0], [1000.0, 1001.0]], dtype=torch.float32),),
            (torch.randn(2, 3, 4, generator=g, dtype=d64),),  # dim left to its default, -1
        ]
    if exercise == "ch1.conditional_from_joint":
        joint = torch.rand(5, 3, generator=g, dtype=d64)
        joint[1] = 0.0
        return [(joint / joint.sum(),), (torch.rand(3, 4, generator=g, dtype=d64),)]
    if exercise == "ch1.boltzmann":
        e = torch.randn(4, 5, generator=g, dtype=d64) * 2
        return [(e, 1.0), (e, 2.5), (e, 0.4), (torch.tensor([[1000.0, 1001.0, 1002.0]], dtype=d64), 1.0), (e,)]  # (e,): temperature left to its default
    if exercise == "ch1.kmeans":
        x = blobs(d64, seed=12)
        far = torch.tensor([[0.0], [1.0], [2.0], [4.0], [5.0], [6.0]], dtype=d64)
        return [
            (x, x[[0, 1, 2]].clone(), 1),
            (x, x[[0, 1, 2]].clone(), 3),
            (x, x[[0, 20, 40]].clone(), 2),
            (far, torch.tensor([[0.0], [2.0], [100.0]], dtype=d64), 2),
            (torch.tensor([[1.0], [3.0]], dtype=d64), torch.tensor([[0.0], [2.0]], dtype=d64), 0),
        ]
    if exercise == "ch1.pca":
        mixing = torch.randn(4, 4, generator=g, dtype=d64)
        x = torch.randn(30, 4, generator=g, dtype=d64) @ mixing + torch.tensor([1.0, -2.0, 3.0, 0.5], dtype=d64)
        return [(x, 2), (x, 3), (x * 0.1 - 5.0, 1)]
    raise KeyError(exercise)


def compile_case(case) -> callable:
    """The reference module with the case appended under the exercise's name, as the grader does."""
    source = inspect.getsource(ref) + "\n\n" + case.source()
    namespace: dict = {"__name__": f"ch1_case_{case.slug}"}
    exec(compile(source, f"<{case.slug}>", "exec"), namespace)
    return namespace[case.exercise.split(".", 1)[1]]


CH1_CASES = [c for c in CASES if c.exercise.startswith("ch1.")]


@pytest.mark.parametrize("case", CH1_CASES, ids=lambda c: c.slug)
def test_mutant_differs_and_variant_agrees(case):
    func = compile_case(case)
    reference = getattr(ref, case.exercise.split(".", 1)[1])
    agree = []
    for args in inputs(case.exercise):
        expected = reference(*args)
        with np.errstate(all="ignore"):
            try:
                got = func(*args)
            except Exception:  # a mutant may crash on an edge case: that differs too
                got = None
        agree.append(got is not None and close(got, expected, rtol=1e-6, atol=1e-9))
    if case.correct:
        assert all(agree), f"variant {case.slug} disagrees with the reference: {agree}"
    else:
        assert not all(agree), f"mutant {case.slug} agrees with the reference on every input"
