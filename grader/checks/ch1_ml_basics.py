"""Checks for chapter 1: softmax, log-softmax, conditionals, the Boltzmann distribution,
k-means and PCA.

Expected values come from PyTorch (F.softmax, F.log_softmax), scikit-learn (KMeans, PCA,
in the hidden checks only, so `dlcourse check` does not pay for importing it) or the
reference, computed in float64. Known mistakes are student code registered in
`solutions/mistakes/ch1_ml_basics.py`, and `expect_close` names the one a wrong answer
matches; the checks name here only the mistakes no one function expresses (message
parameters such as k-means' iteration count, PCA's sign, second forms). Inputs where the contract does not decide the answer in floating point (k-means
points almost exactly between two centroids, principal directions of nearly equal
variance) are discarded, so a correct solution never fails. The defaults of the signatures
(dim=-1, temperature=1.0) are promises too: a call without the argument must give the
answer of the same call with it.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st

from grader import diagnose
from grader.checks import exercise
from grader.compare import expect, expect_close, expect_default_kept, expect_stable, fail
from grader.precision import tolerance, truth
from grader.strategies import float_dtypes, generator, labels, seeds, shapes, sizes, tensors

EPS = {torch.float32: torch.finfo(torch.float32).eps, torch.float64: torch.finfo(torch.float64).eps}


def _name(dtype: torch.dtype) -> str:
    """"float32" for torch.float32: how a dtype travels to `ref` (recorded as data)."""
    return str(dtype).removeprefix("torch.")


def _reveal(inputs: dict | None) -> dict:
    return {"inputs": diagnose.show(inputs)} if inputs else {}


# --- softmax and log-softmax ------------------------------------------------------------


@st.composite
def logits_case(draw, max_side: int = 5, scale: float = 3.0):
    """A tensor of 1 to 3 dims and a dim (negative or not) to normalise along."""
    dtype = draw(float_dtypes())
    ndim = draw(st.integers(1, 3))
    shape = draw(shapes(ndim, 1, max_side))
    dim = draw(st.integers(-ndim, ndim - 1))
    return draw(tensors(shape, dtype, scale=scale, edges=(0.0, -0.0))), dim


@st.composite
def large_logits_case(draw):
    """Logits of magnitude up to 1e4, and slices offset far from each other (so one
    global maximum leaves some slice with nothing but exp(-huge) = 0)."""
    x, dim = draw(logits_case(scale=1.0))
    big = draw(st.sampled_from([1e2, 1e3, 1e4]))
    per_slice = list(x.shape)
    per_slice[dim] = 1
    offsets = draw(tensors(tuple(per_slice), torch.float64, scale=big))
    return (x.double() * big / 10 + offsets).to(x.dtype), dim


@exercise("ch1.softmax", points=1)
@given(case=logits_case())
def check_softmax_matches_pytorch(student, ref, case):
    x, dim = case
    e = truth(lambda x: torch.exp(x - x.amax(dim=dim, keepdim=True)), x)
    expect_close(
        student.softmax(x, dim=dim),
        truth(F.softmax, x, dim=dim),
        name="out",
        inputs=dict(logits=x, dim=dim),
        # never divided; the registered form is one total for all slices
        named=[("mistake.ch1.softmax.not_normalised", e, {})],
    )
    # the signature's default, dim=-1: right with dim=-1 given, then the same without it
    expected = truth(F.softmax, x, dim=-1)
    expect_close(student.softmax(x, dim=-1), expected, name="out", inputs=dict(logits=x, dim=-1))
    expect_default_kept(lambda: student.softmax(x), expected, function="softmax", argument="dim", default=-1, name="out", inputs=dict(logits=x))


@exercise("ch1.softmax", points=1)
@given(case=large_logits_case())
def check_softmax_finite_for_large_logits(student, ref, case):
    x, dim = case
    expect_close(student.softmax(x, dim=dim), truth(F.softmax, x, dim=dim), name="out", inputs=dict(logits=x, dim=dim))


@exercise("ch1.softmax", points=1, hidden=True)
@given(case=logits_case(max_side=9, scale=30.0), shift=st.sampled_from([0.0, 500.0, -3000.0]))
def check_softmax_invariant_to_a_shift_on_larger_tensors(student, ref, case, shift):
    x, dim = case
    x = x + shift  # softmax(x + c) = softmax(x): the answer does not move
    expect_close(student.softmax(x, dim=dim), truth(F.softmax, x, dim=dim), name="out")


def _log_softmax_mistakes(x, dim):
    """The mistake whose message needs a parameter, the offset at the failing index (the
    others are registered in `solutions/mistakes/`)."""
    m = x.amax(dim=dim, keepdim=True)
    not_added_back = truth(lambda x, m: x - torch.log(torch.exp(x - m).sum(dim=dim, keepdim=True)), x, m)
    offset = m.expand_as(x)
    return dict(
        named=[
            (
                "mistake.ch1.log_softmax.max_not_added_back",
                not_added_back,
                lambda p: {"offset": f"{float(offset[p['index']]):.6g}" if offset.dim() else f"{float(offset):.6g}"},
            )
        ],
    )


@exercise("ch1.log_softmax", points=2)
@given(case=logits_case())
def check_log_softmax_matches_pytorch(student, ref, case):
    x, dim = case
    expect_close(
        student.log_softmax(x, dim=dim),
        truth(F.log_softmax, x, dim=dim),
        name="out",
        inputs=dict(logits=x, dim=dim),
        **_log_softmax_mistakes(x, dim),
    )
    # the signature's default, dim=-1: right with dim=-1 given, then the same without it
    expected = truth(F.log_softmax, x, dim=-1)
    expect_close(student.log_softmax(x, dim=-1), expected, name="out", inputs=dict(logits=x, dim=-1), **_log_softmax_mistakes(x, -1))
    expect_default_kept(lambda: student.log_softmax(x), expected, function="log_softmax", argument="dim", default=-1, name="out", inputs=dict(logits=x))


@st.composite
def far_apart_logits_case(draw):
    """float64 logits (cast to each dtype by the check) whose slices along `dim` have at
    least two entries, one of them at least 2 * big (big >= 1000) above the rest and
    above 0: exp() of it overflows in float32 and float64 alike, and the softmax of the
    others underflows to 0, while every log-softmax stays finite."""
    ndim = draw(st.integers(1, 3))
    dim = draw(st.integers(-ndim, ndim - 1))
    shape = list(draw(shapes(ndim, 1, 4)))
    shape[dim] = max(2, shape[dim])
    big = draw(st.sampled_from([1e3, 1e4]))
    per_slice = list(shape)
    per_slice[dim] = 1
    x = draw(tensors(tuple(shape), torch.float64)) * big / 10 + draw(tensors(tuple(per_slice), torch.float64, scale=big))
    top = x.amax(dim=dim, keepdim=True).clamp(min=0) + 2 * big
    return x.index_copy(dim % ndim, torch.tensor([0]), top), dim


@exercise("ch1.log_softmax", points=1)
@given(case=far_apart_logits_case())
def check_log_softmax_finite_for_large_logits(student, ref, case):
    x, dim = case
    # the one stability rule: finite and right in float64 and float32
    expect_stable(
        student.log_softmax,
        lambda logits, dim: truth(F.log_softmax, logits, dim=dim),
        dict(logits=x, dim=dim),
        name="out",
        per_dtype=lambda logits, dim: _log_softmax_mistakes(logits, dim) | {"causes": ref.log_softmax_stability_causes(logits, dim)},
    )


@exercise("ch1.log_softmax", points=1, hidden=True)
@given(case=logits_case(max_side=9, scale=40.0), shift=st.sampled_from([0.0, 800.0, -5000.0]))
def check_log_softmax_larger_tensors_with_large_gaps(student, ref, case, shift):
    x, dim = case
    x = x + shift
    expect_close(student.log_softmax(x, dim=dim), truth(F.log_softmax, x, dim=dim), name="out", **_log_softmax_mistakes(x, dim))


# --- conditional from a joint table ---------------------------------------------------------


@st.composite
def joint_tables(draw, max_side: int = 6, zero_row: bool = False, counts: bool = False):
    """A joint table P(x, y) (X, Y) with some exact zeros and, sometimes, rows of zero mass;
    a probability table summing to 1, or a table of counts when `counts`."""
    dtype = draw(float_dtypes())
    rows, cols = draw(sizes(2 if zero_row else 1, max_side)), draw(sizes(1, max_side))
    if counts:
        joint = draw(tensors((rows, cols), torch.float64, low=0.0, high=6.0)).floor()
    else:
        joint = draw(tensors((rows, cols), torch.float64, low=0.0, high=1.0, edges=(0.0,)))
    empty = draw(st.lists(st.booleans(), min_size=rows, max_size=rows))
    if zero_row:
        keep = draw(st.integers(0, rows - 1))
        empty = [e if i != keep else False for i, e in enumerate(empty)]
        empty[(keep + 1) % rows] = True
        joint[keep, draw(st.integers(0, cols - 1))] += 0.5  # one row surely has mass
    joint[torch.tensor(empty)] = 0.0
    if not counts and joint.sum() > 0:
        joint = joint / joint.sum()
    return joint.to(dtype)


@exercise("ch1.conditional_from_joint", points=1)
@given(joint=joint_tables())
def check_conditional_from_joint_matches_definition(student, ref, joint):
    expect_close(student.conditional_from_joint(joint), truth(ref.conditional_from_joint, joint), name="out", inputs=dict(joint=joint))


@exercise("ch1.conditional_from_joint", points=1)
@given(joint=joint_tables(zero_row=True))
def check_conditional_from_joint_rows_of_zero_mass(student, ref, joint):
    got = student.conditional_from_joint(joint)
    expected = truth(ref.conditional_from_joint, joint)
    expect_close(got, expected, name="out", inputs=dict(joint=joint))
    # rows sum to 1 where P(x) > 0 and to 0 elsewhere (implied by the comparison above)
    mass = joint.sum(dim=1) > 0
    expect(bool(torch.allclose(got.double().sum(dim=1), mass.double(), atol=1e-4)), "mistake.ch1.conditional_from_joint.not_normalised")


@exercise("ch1.conditional_from_joint", points=1, hidden=True)
@given(joint=joint_tables(max_side=12, counts=True))
def check_conditional_from_joint_tables_of_counts(student, ref, joint):
    # the conditional of a table of counts is that of the normalised table
    expect_close(student.conditional_from_joint(joint), truth(ref.conditional_from_joint, joint), name="out")


# --- Boltzmann distribution ---------------------------------------------------------------------

TEMPERATURES = [0.05, 0.3, 1.0, 2.5, 10.0]


@st.composite
def energies_case(draw, max_side: int = 5, scale: float = 2.0):
    dtype = draw(float_dtypes())
    shape = draw(shapes(draw(st.integers(1, 3)), 1, max_side))
    return draw(tensors(shape, dtype, scale=scale)), draw(st.sampled_from(TEMPERATURES))


@exercise("ch1.boltzmann", points=1)
@given(case=energies_case())
def check_boltzmann_is_softmax_of_minus_energy_over_temperature(student, ref, case):
    energies, temperature = case
    expect_close(
        student.boltzmann(energies, temperature),
        truth(ref.boltzmann_softmax_of_minus_energy, energies, temperature),
        name="p",
        inputs=dict(energies=energies, temperature=temperature),
    )
    # the signature's default, temperature=1.0: right with it given, then the same without it
    expected = truth(ref.boltzmann_softmax_of_minus_energy, energies, 1.0)
    expect_close(student.boltzmann(energies, 1.0), expected, name="p", inputs=dict(energies=energies, temperature=1.0))
    expect_default_kept(lambda: student.boltzmann(energies), expected, function="boltzmann", argument="temperature", default=1.0, name="p", inputs=dict(energies=energies))


@exercise("ch1.boltzmann", points=1)
@given(case=energies_case(scale=1.0), offset=st.sampled_from([1e3, -1e3, 1e4, -2e4]))
def check_boltzmann_stable_for_large_energies(student, ref, case, offset):
    energies, temperature = case
    temperature = max(temperature, 0.5)
    energies = (energies.double() + offset).to(energies.dtype)
    # -E / T rounds each exponent by about eps |E| / T before any shift can help (the
    # reference too): a relative error of that size in p is the dtype's, not a mistake
    rtol = max(tolerance(energies.dtype)[0], 8 * EPS[energies.dtype] * abs(offset) / temperature)
    expect_close(
        student.boltzmann(energies, temperature),
        truth(ref.boltzmann_softmax_of_minus_energy, energies, temperature),
        name="p",
        inputs=dict(energies=energies, temperature=temperature),
        rtol=rtol,
        atol=rtol,
    )


@exercise("ch1.boltzmann", points=1, hidden=True)
@given(case=energies_case(max_side=8), temperatures=st.lists(st.sampled_from(TEMPERATURES), min_size=2, max_size=2, unique=True))
def check_boltzmann_sharpens_as_temperature_falls(student, ref, case, temperatures):
    energies, _ = case
    low, high = sorted(temperatures)
    p_low, p_high = (student.boltzmann(energies, t) for t in (low, high))
    for t, p in ((low, p_low), (high, p_high)):
        expect_close(p, truth(ref.boltzmann_softmax_of_minus_energy, energies, t), name="p")
    # the most likely state (lowest energy) only gains probability as T falls
    best = energies.argmin(dim=-1, keepdim=True)
    gain = p_low.double().gather(-1, best) - p_high.double().gather(-1, best)
    expect(bool((gain >= -1e-5).all()), "mistake.ch1.boltzmann.temperature")


# --- k-means ------------------------------------------------------------------------------------


@st.composite
def kmeans_case(draw, max_n: int = 10, max_k: int = 4, max_d: int = 3, max_iters: int = 4):
    """Points around K blob centres; the initial centroids are distinct data points."""
    dtype = draw(float_dtypes())
    k, d = draw(sizes(1, max_k)), draw(sizes(1, max_d))
    n = draw(sizes(k, max_n))
    centres = draw(tensors((k, d), torch.float64, scale=4.0))
    x = centres[draw(labels(n, k))] + draw(tensors((n, d), torch.float64))
    init = x[draw(st.permutations(range(n)))[:k]]
    return x.to(dtype), init.to(dtype), draw(st.integers(0, max_iters))


@st.composite
def kmeans_tie_case(draw):
    """Points and centroids on a small integer grid, where exact ties are common, and
    sometimes two identical initial centroids."""
    dtype = draw(float_dtypes())
    d, k = draw(sizes(1, 2)), draw(sizes(2, 3))
    n = draw(sizes(2, 8))
    x = draw(tensors((n, d), torch.float64, low=-3.0, high=4.0)).floor()
    init = draw(tensors((k, d), torch.float64, low=-3.0, high=4.0)).floor()
    if draw(st.booleans()):
        init[1] = init[0]
    return x.to(dtype), init.to(dtype), draw(st.integers(0, 2))


@st.composite
def kmeans_empty_case(draw):
    """Initial centroids of which one never wins a point: far away, or a duplicate of a
    lower-index centroid (a tie it always loses)."""
    x, init, _ = draw(kmeans_case(max_k=3))
    far = draw(st.booleans()) or init.shape[0] == 1
    extra = (torch.full_like(init[:1], 50.0) if far else init[:1].clone())
    init = torch.cat([init, extra]) if draw(st.booleans()) else torch.cat([init[:1], extra, init[1:]])
    return x, init, draw(st.integers(1, 4))


def _kmeans_mistakes(ref, x, init, iters):
    """Another number of iterations, whose message names it (the other mistakes are
    registered in `solutions/mistakes/`): its centroids only, so that right centroids
    with the assignments of the previous ones are named stale, not an iteration short."""
    return [
        ("mistake.ch1.kmeans.iterations", (truth(ref.kmeans, x, init, n)[0], None), {"found": n, "expected": iters})
        for n in (iters + 1, iters - 1, 2 * iters)
        if n >= 0 and n != iters
    ]


def _expect_kmeans(ref, got, expected, x, init, iters, public=True):
    inputs = dict(x=x, init_centroids=init, iters=iters) if public else None
    centroids = got[0] if isinstance(got, (tuple, list)) and got else None
    if isinstance(centroids, torch.Tensor) and centroids.is_floating_point() and centroids.isnan().any():
        # nan centroids come from the mean of an empty cluster (0 / 0); the registered
        # form of this mistake is the other one, an empty cluster's centroid moved to 0
        fail("mistake.ch1.kmeans.empty_cluster", _reveal(inputs))
    expect_close(
        got,
        expected,
        name=("centroids", "assignments"),
        inputs=inputs,
        named=_kmeans_mistakes(ref, x, init, iters),
    )


@exercise("ch1.kmeans", points=2)
@given(case=kmeans_case())
def check_kmeans_matches_lloyd(student, ref, case):
    x, init, iters = case
    assume(not ref.kmeans_is_ambiguous(x, init, iters, _name(x.dtype)))
    _expect_kmeans(ref, student.kmeans(x, init, iters), truth(ref.kmeans, x, init, iters), x, init, iters)


@exercise("ch1.kmeans", points=1)
@given(case=kmeans_tie_case())
def check_kmeans_ties_go_to_the_lower_index(student, ref, case):
    x, init, iters = case
    assume(not ref.kmeans_is_ambiguous(x, init, iters, _name(x.dtype)))
    _expect_kmeans(ref, student.kmeans(x, init, iters), truth(ref.kmeans, x, init, iters), x, init, iters)


@exercise("ch1.kmeans", points=1)
@given(case=kmeans_empty_case())
def check_kmeans_empty_cluster_keeps_its_centroid(student, ref, case):
    x, init, iters = case
    assume(not ref.kmeans_is_ambiguous(x, init, iters, _name(x.dtype)))
    _expect_kmeans(ref, student.kmeans(x, init, iters), truth(ref.kmeans, x, init, iters), x, init, iters)


@exercise("ch1.kmeans", points=2, hidden=True)
@given(case=kmeans_case(max_n=30, max_k=5, max_d=4, max_iters=6))
def check_kmeans_matches_scikit_learn(student, ref, case):
    from sklearn.cluster import KMeans

    x, init, iters = case
    iters = max(iters, 1)  # scikit-learn needs max_iter >= 1
    # scikit-learn moves the centroid of an empty cluster elsewhere: compare where none empties
    assume(not ref.kmeans_is_ambiguous(x, init, iters, _name(x.dtype)) and not ref.kmeans_empties_a_cluster(x, init, iters))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km = KMeans(init.shape[0], init=init.double().numpy(), n_init=1, max_iter=iters, tol=0.0, algorithm="lloyd")
        km.fit(x.double().numpy())
    expected = (torch.from_numpy(km.cluster_centers_).to(x.dtype), torch.from_numpy(km.labels_).to(torch.int64))
    _expect_kmeans(ref, student.kmeans(x, init, iters), expected, x, init, iters, public=False)


# --- PCA ------------------------------------------------------------------------------------------


@st.composite
def pca_case(draw, max_n: int = 8, max_d: int = 5, offset: float = 2.0):
    """Data with spread-out variances along random orthogonal directions, off-centre."""
    dtype = draw(float_dtypes())
    d = draw(sizes(1, max_d))
    n = draw(sizes(2, max_n))
    k = draw(sizes(1, min(n - 1, d)))
    g = generator(draw(seeds()))
    rotation = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))[0]
    spread = 0.5 ** torch.arange(d, dtype=torch.float64) * (1 + 0.3 * torch.rand(d, generator=g, dtype=torch.float64))
    x = torch.randn(n, d, generator=g, dtype=torch.float64) * spread @ rotation.T
    x = x + offset * torch.randn(d, generator=g, dtype=torch.float64)
    return x.to(dtype), k


def _pca_mistakes(ref, x, k, got, expected):
    """The PCA mistakes no one registered function expresses: the variance denominator
    (its factor in the message), the top k in reverse order (the registered form of
    `order` is the k smallest, as eigh gives them) and the sign (either sign of each
    component); `not_centred`, `order` and `transposed` are registered in
    `solutions/mistakes/`."""
    n = x.shape[0]
    components, variance = expected
    named = [
        ("mistake.ch1.pca.order", (components.flip(0), variance.flip(0)), {}),
        ("mistake.ch1.pca.variance_denominator", (None, variance * (n - 1) / n), {"factor": f"(N - 1) / N = {(n - 1) / n:.4g}"}),
        ("mistake.ch1.pca.variance_denominator", (None, variance * (n - 1)), {"factor": f"N - 1 = {n - 1}"}),
    ]
    got_components = got[0] if isinstance(got, (tuple, list)) and got else None
    if isinstance(got_components, torch.Tensor) and got_components.shape == components.shape and got_components.is_floating_point():
        # right directions, some pointing the other way: the sign rule was not applied
        flip = torch.where((got_components.double() * components.double()).sum(dim=1, keepdim=True) < 0, -1.0, 1.0)
        named.insert(0, ("mistake.ch1.pca.sign", ((components.double() * flip).to(components.dtype), None), {}))
    return named


def _expect_pca(ref, got, expected, x, k, public=True):
    expect_close(
        got,
        expected,
        name=("components", "explained_variance"),
        inputs=dict(x=x, k=k) if public else None,
        named=_pca_mistakes(ref, x, k, got, expected),
    )


@exercise("ch1.pca", points=3)
@given(case=pca_case())
def check_pca_matches_reference(student, ref, case):
    x, k = case
    assume(ref.pca_is_well_posed(x, k))
    _expect_pca(ref, student.pca(x, k), truth(ref.pca, x, k), x, k)


@exercise("ch1.pca", points=1)
@given(dtype=float_dtypes(), d=sizes(1, 5), seed=seeds(), offset=st.sampled_from([0.0, 3.0, -10.0]))
def check_pca_of_two_points_is_their_difference(student, ref, dtype, d, seed, offset):
    # two points: one direction of variance, x1 - x0, with variance |x1 - x0|^2 / 2
    x = (torch.randn(2, d, generator=generator(seed), dtype=torch.float64) + offset).to(dtype)
    assume(ref.pca_is_well_posed(x, 1))
    diff = (x[1] - x[0]).double()
    expected = (ref.pca_sign_rule((diff / diff.norm())[None]).to(dtype), (diff @ diff / 2).reshape(1).to(dtype))
    _expect_pca(ref, student.pca(x, 1), expected, x, 1)


@exercise("ch1.pca", points=1, hidden=True)
@given(case=pca_case(max_n=40, max_d=6, offset=5.0))
def check_pca_matches_scikit_learn(student, ref, case):
    from sklearn.decomposition import PCA

    x, k = case
    assume(ref.pca_is_well_posed(x, k))
    sk = PCA(n_components=k, svd_solver="full").fit(x.double().numpy())
    expected = (ref.pca_sign_rule(torch.from_numpy(sk.components_)).to(x.dtype), torch.from_numpy(sk.explained_variance_).to(x.dtype))
    _expect_pca(ref, student.pca(x, k), expected, x, k, public=False)
