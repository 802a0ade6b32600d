"""The chapter 10 reference (`solutions/ch10_generative.py`) against PyTorch, NumPy and
scikit-learn, the stubs against the reference, and the sanity of the chapter's mutants
(each differs from the reference) and variants (each agrees with it)."""

from __future__ import annotations

import inspect
import math
import time
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import make_moons
from torch.distributions import Normal, kl_divergence
from torch.distributions.transforms import AffineTransform

import solutions.ch10_generative as ref
import tests.mutants.ch10_mutants  # noqa: F401  (registers the chapter's cases)
from grader.curriculum.ch10 import CHAPTER
from tests.mutants import CASES, Case

ROOT = Path(__file__).resolve().parents[2]
DTYPES = [torch.float32, torch.float64]
NAMES = [e.name for e in CHAPTER.exercises]
TRAIN = "diffusion_train_sample"


def tol(dtype: torch.dtype) -> dict[str, float]:
    if dtype == torch.float32:
        return {"rtol": 1e-5, "atol": 1e-5}
    return {"rtol": 1e-10, "atol": 1e-10}


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- inputs shared by the generic tests ------------------------------------------------


def example_inputs(name: str, dtype: torch.dtype) -> list[tuple]:
    """Argument tuples for exercise `name`: ordinary cases first, then edge cases."""
    g = gen(1)

    def randn(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return (scale * torch.randn(*shape, generator=g, dtype=torch.float64)).to(dtype)

    betas = torch.linspace(1e-4, 0.02, 50, dtype=torch.float64)
    abar = torch.cumprod(1 - betas, dim=0)
    if name == "reparameterize":
        return [
            (randn(4, 3), randn(4, 3), randn(4, 3)),
            (randn(2, 5), randn(2, 5, scale=3), randn(2, 5)),
        ]
    if name == "gaussian_kl":
        return [
            (randn(4, 3), randn(4, 3)),
            (randn(6, 8, scale=2), randn(6, 8, scale=2)),
            (randn(3, 2, 2, 3), randn(3, 2, 2, 3)),  # an image latent: summed over every non-batch dim
        ]
    if name == "vae_loss":
        x = torch.rand(4, 1, 3, 3, generator=g, dtype=torch.float64).to(dtype)
        binary = (x > 0.5).to(dtype)
        return [
            (x, randn(4, 1, 3, 3, scale=3), randn(4, 2), randn(4, 2)),
            (binary, randn(4, 1, 3, 3, scale=200), randn(4, 2), randn(4, 2)),
        ]
    if name == "gan_discriminator_loss":
        return [
            (randn(5), randn(5)),
            (randn(6, 1, scale=3), randn(3, 1, scale=3)),
            (randn(3, 1, 2, 2, scale=3), randn(2, 4, scale=3)),  # several logits per sample (PatchGAN)
            (  # confident discriminators, right and wrong
                torch.tensor([-1000.0, 1000.0], dtype=dtype),
                torch.tensor([1000.0, -1000.0], dtype=dtype),
            ),
        ]
    if name == "gan_generator_loss":
        extreme = torch.tensor([-1000.0, 1000.0, 0.0], dtype=dtype)
        return [(randn(5),), (randn(7, 1, scale=3),), (randn(3, 1, 2, 2, scale=3),), (extreme,)]
    if name == "linear_beta_schedule":
        return [(10,), (1,), (2, 0.1, 0.3), (1000,)]
    if name == "cosine_beta_schedule":
        return [(10,), (1,), (1000,), (50, 0.1)]
    if name == "q_sample":
        t = torch.tensor([0, 7, 49, 20])
        return [
            (randn(4, 3), t, randn(4, 3), abar),
            (randn(4, 2, 3, 5), t, randn(4, 2, 3, 5), abar),
        ]
    if name == "ddpm_step":
        return [(randn(4, 3), t, randn(4, 3), betas, randn(4, 3)) for t in (0, 1, 25, 49)] + [
            (randn(4, 2, 3), 10, randn(4, 2, 3), betas, randn(4, 2, 3))
        ]
    if name == "ddim_step":
        return [
            (randn(4, 3), t, t_prev, randn(4, 3), abar)
            for t, t_prev in ((49, 39), (10, -1), (0, -1), (5, 4))
        ]
    raise KeyError(name)


def clone_args(args: tuple) -> tuple:
    return tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)


DETERMINISTIC = [n for n in NAMES if n != TRAIN]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", DETERMINISTIC)
def test_reference_keeps_inputs_and_is_finite(name: str, dtype: torch.dtype) -> None:
    for args in example_inputs(name, dtype):
        before = clone_args(args)
        out = getattr(ref, name)(*args)
        for a, b in zip(args, before):
            if isinstance(a, torch.Tensor):
                assert torch.equal(a, b), f"{name} modified an input"
        assert torch.isfinite(out).all()
        tensors = [a for a in args if isinstance(a, torch.Tensor) and a.is_floating_point()]
        if name.endswith("_schedule"):
            assert out.dtype == torch.float64
        else:
            assert out.dtype == tensors[0].dtype  # the first argument's dtype


# --- VAE -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_reparameterize_matches_affine_transform_of_normal(dtype: torch.dtype) -> None:
    mu, logvar, eps = example_inputs("reparameterize", dtype)[1]
    expected = AffineTransform(loc=mu, scale=torch.exp(logvar).sqrt())(eps)
    torch.testing.assert_close(ref.reparameterize(mu, logvar, eps), expected, **tol(dtype))


def test_reparameterize_has_the_moments_and_gradients_of_the_normal() -> None:
    mu = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    logvar = torch.tensor([math.log(4.0), math.log(0.25)], dtype=torch.float64, requires_grad=True)
    eps = torch.randn(200_000, 2, generator=gen(2), dtype=torch.float64)
    z = ref.reparameterize(mu, logvar, eps)
    target = Normal(mu.detach(), torch.exp(0.5 * logvar.detach()))
    torch.testing.assert_close(z.mean(0).detach(), target.mean, atol=0.02, rtol=0)
    torch.testing.assert_close(z.var(0).detach(), target.variance, rtol=0.02, atol=0)
    z.sum().backward()  # d z / d mu = 1, d z / d logvar = 0.5 sigma eps
    torch.testing.assert_close(mu.grad, torch.full_like(mu, eps.shape[0]))
    torch.testing.assert_close(logvar.grad, 0.5 * target.stddev * eps.sum(0))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_kl_matches_torch_distributions(dtype: torch.dtype) -> None:
    for mu, logvar in example_inputs("gaussian_kl", dtype):
        q = Normal(mu, torch.exp(0.5 * logvar))
        p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
        expected = kl_divergence(q, p).flatten(start_dim=1).sum(dim=1)
        out = ref.gaussian_kl(mu, logvar)
        assert out.shape == (mu.shape[0],)
        torch.testing.assert_close(out, expected, **tol(dtype))
        assert (out >= 0).all()
    zero = ref.gaussian_kl(torch.zeros(3, 4, dtype=dtype), torch.zeros(3, 4, dtype=dtype))
    assert torch.equal(zero, torch.zeros(3, dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_vae_loss_matches_bce_with_logits_plus_kl(dtype: torch.dtype) -> None:
    for x, logits, mu, logvar in example_inputs("vae_loss", dtype):
        n = x.shape[0]
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
        kl = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(-1).mean()
        out = ref.vae_loss(x, logits, mu, logvar)
        assert out.shape == ()
        torch.testing.assert_close(out, bce + kl, **tol(dtype))


# --- GAN -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_gan_discriminator_loss_matches_bce_with_logits(dtype: torch.dtype) -> None:
    for real, fake in example_inputs("gan_discriminator_loss", dtype):
        expected = F.binary_cross_entropy_with_logits(
            real, torch.ones_like(real)
        ) + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
        out = ref.gan_discriminator_loss(real, fake)
        assert out.shape == ()
        torch.testing.assert_close(out, expected, **tol(dtype))
    # Both groups wrongly classified with logits +-1000: each mean BCE is 500.
    out = ref.gan_discriminator_loss(
        torch.tensor([-1000.0, 1000.0], dtype=dtype), torch.tensor([1000.0, -1000.0], dtype=dtype)
    )
    torch.testing.assert_close(out, torch.tensor(1000.0, dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gan_generator_loss_matches_bce_with_target_one(dtype: torch.dtype) -> None:
    for (fake,) in example_inputs("gan_generator_loss", dtype):
        expected = F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
        torch.testing.assert_close(ref.gan_generator_loss(fake), expected, **tol(dtype))
        softplus = F.softplus(-fake).mean()
        torch.testing.assert_close(ref.gan_generator_loss(fake), softplus, **tol(dtype))


# --- schedules -------------------------------------------------------------------------


@pytest.mark.parametrize("args", [(10,), (1,), (2, 0.1, 0.3), (1000, 1e-4, 0.02)])
def test_linear_beta_schedule_matches_linspace(args: tuple) -> None:
    out = ref.linear_beta_schedule(*args)
    start, end = (args[1], args[2]) if len(args) == 3 else (1e-4, 0.02)
    assert out.dtype == torch.float64 and out.shape == (args[0],)
    torch.testing.assert_close(out, torch.linspace(start, end, args[0], dtype=torch.float64))
    np.testing.assert_allclose(out.numpy(), np.linspace(start, end, args[0]), rtol=1e-12)
    assert out[0].item() == pytest.approx(start)
    assert out[-1].item() == pytest.approx(end if args[0] > 1 else start)


def _improved_diffusion_betas(T: int, s: float) -> np.ndarray:
    """`betas_for_alpha_bar` of openai/improved-diffusion, with its cosine alpha_bar."""

    def alpha_bar(u: float) -> float:
        return math.cos((u + s) / (1 + s) * math.pi / 2) ** 2

    return np.array([min(1 - alpha_bar((i + 1) / T) / alpha_bar(i / T), 0.999) for i in range(T)])


@pytest.mark.parametrize("T, s", [(1, 0.008), (10, 0.008), (1000, 0.008), (50, 0.1)])
def test_cosine_beta_schedule_matches_improved_diffusion(T: int, s: float) -> None:
    out = ref.cosine_beta_schedule(T, s)
    assert out.dtype == torch.float64 and out.shape == (T,)
    np.testing.assert_allclose(out.numpy(), _improved_diffusion_betas(T, s), rtol=1e-9, atol=1e-12)
    assert (out > 0).all() and (out <= 0.999).all()
    assert out[-1].item() == 0.999  # alpha_bar(T) = 0: the last beta is clipped


# --- forward process and samplers ------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_q_sample_matches_normal_of_closed_form(dtype: torch.dtype) -> None:
    for x0, t, noise, abar in example_inputs("q_sample", dtype):
        a = abar[t].reshape(-1, *([1] * (x0.dim() - 1)))
        expected = AffineTransform(loc=a.sqrt() * x0.double(), scale=(1 - a).sqrt())(noise.double())
        out = ref.q_sample(x0, t, noise, abar)
        assert out.dtype == dtype and out.shape == x0.shape
        torch.testing.assert_close(out, expected.to(dtype), **tol(dtype))


def test_q_sample_has_the_law_of_the_step_by_step_chain() -> None:
    # Run x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) n for t steps and compare moments.
    betas = ref.cosine_beta_schedule(20)
    abar = torch.cumprod(1 - betas, dim=0)
    x0 = torch.tensor([[1.5, -0.5]], dtype=torch.float64).expand(100_000, 2)
    g = gen(3)
    x = x0
    for step in range(12):
        n = torch.randn(x.shape, generator=g, dtype=torch.float64)
        x = (1 - betas[step]).sqrt() * x + betas[step].sqrt() * n
    t = torch.full((x0.shape[0],), 11)
    direct = ref.q_sample(x0, t, torch.randn(x0.shape, generator=g, dtype=torch.float64), abar)
    torch.testing.assert_close(direct.mean(0), x.mean(0), atol=0.015, rtol=0)
    torch.testing.assert_close(direct.var(0), x.var(0), rtol=0.02, atol=0)


def _posterior(x0: torch.Tensor, x_t: torch.Tensor, betas: torch.Tensor, t: int):
    """Mean and variance of q(x_{t-1} | x_t, x_0) by conditioning the joint Gaussian of
    (x_{t-1}, x_t) given x_0 (x_{t-1} ~ N(sqrt(abar_{t-1}) x_0, 1 - abar_{t-1}),
    x_t = sqrt(alpha_t) x_{t-1} + sqrt(beta_t) n), with no DDPM closed form."""
    abar = torch.cumprod(1 - betas, dim=0)
    abar_prev = abar[t - 1]
    alpha = 1 - betas[t]
    m1, v1 = abar_prev.sqrt() * x0, 1 - abar_prev
    m2 = alpha.sqrt() * m1
    c12, c22 = alpha.sqrt() * v1, alpha * v1 + betas[t]
    return m1 + c12 / c22 * (x_t - m2), v1 - c12**2 / c22


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("t", [1, 7, 49])
def test_ddpm_step_with_true_noise_is_the_gaussian_posterior(dtype: torch.dtype, t: int) -> None:
    betas = ref.linear_beta_schedule(50)
    abar = torch.cumprod(1 - betas, dim=0)
    g = gen(4)
    x0, eps, z = (torch.randn(6, 3, generator=g, dtype=torch.float64) for _ in range(3))
    x_t = abar[t].sqrt() * x0 + (1 - abar[t]).sqrt() * eps
    mean, var = _posterior(x0, x_t, betas, t)
    out = ref.ddpm_step(x_t.to(dtype), t, eps.to(dtype), betas, z.to(dtype))
    assert out.dtype == dtype
    torch.testing.assert_close(out, (mean + var.sqrt() * z).to(dtype), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_ddpm_step_at_t0_returns_x0_and_ignores_z(dtype: torch.dtype) -> None:
    betas = ref.cosine_beta_schedule(30)
    abar0 = 1 - betas[0]
    g = gen(5)
    x0, eps, z = (torch.randn(4, 2, 3, generator=g, dtype=torch.float64) for _ in range(3))
    x_t = (abar0.sqrt() * x0 + (1 - abar0).sqrt() * eps).to(dtype)
    out = ref.ddpm_step(x_t, 0, eps.to(dtype), betas, z.to(dtype))
    torch.testing.assert_close(out, x0.to(dtype), **tol(dtype))
    torch.testing.assert_close(out, ref.ddpm_step(x_t, 0, eps.to(dtype), betas, 100 * z.to(dtype)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("t, t_prev", [(49, 39), (20, 19), (10, -1), (0, -1)])
def test_ddim_step_with_true_noise_lands_on_q_sample(
    dtype: torch.dtype, t: int, t_prev: int
) -> None:
    abar = torch.cumprod(1 - ref.linear_beta_schedule(50), dim=0)
    g = gen(6)
    x0, eps = (torch.randn(5, 4, generator=g, dtype=torch.float64) for _ in range(2))
    x_t = (abar[t].sqrt() * x0 + (1 - abar[t]).sqrt() * eps).to(dtype)
    out = ref.ddim_step(x_t, t, t_prev, eps.to(dtype), abar)
    a_prev = abar[t_prev] if t_prev >= 0 else torch.tensor(1.0, dtype=torch.float64)
    expected = AffineTransform(loc=a_prev.sqrt() * x0, scale=(1 - a_prev).sqrt())(eps)
    assert out.dtype == dtype
    rtol = 1e-4 if dtype == torch.float32 else 1e-9  # x0_pred divides by sqrt(abar_t)
    torch.testing.assert_close(out, expected.to(dtype), rtol=rtol, atol=1e-5)


# --- the train exercise ----------------------------------------------------------------


def _energy_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    cross = torch.cdist(a, b).mean()
    return (2 * cross - torch.cdist(a, a).mean() - torch.cdist(b, b).mean()).item()


def _diffusion_verdict(samples: torch.Tensor, train: torch.Tensor, held_out: torch.Tensor) -> dict:
    """The two criteria of the contract: closer to held-out points than a fitted
    Gaussian, and no copies of training points."""
    g = gen(7)
    chol = torch.linalg.cholesky(torch.cov(train.T))
    baseline = train.mean(0) + torch.randn(samples.shape, generator=g, dtype=train.dtype) @ chol.T
    nn_samples = torch.cdist(samples, train).min(dim=1).values.median()
    nn_held_out = torch.cdist(held_out, train).min(dim=1).values.median()
    return {
        "distance": _energy_distance(samples, held_out),
        "baseline": _energy_distance(baseline, held_out),
        "novelty": (nn_samples / nn_held_out).item(),
    }


def _passes(v: dict) -> bool:
    return v["distance"] < 0.5 * v["baseline"] and v["novelty"] > 0.5


def test_diffusion_train_sample_reference_variant_and_mutants() -> None:
    """The one slow test of the chapter: trains the reference and the variant(s) once."""
    torch.set_num_threads(1)
    points = torch.tensor(make_moons(2000, noise=0.05, random_state=0)[0], dtype=torch.float64)
    train, held_out = points[:1000], points[1000:]
    start = time.perf_counter()
    samples = ref.diffusion_train_sample(train, 1000, seed=0)
    elapsed = time.perf_counter() - start
    assert samples.shape == (1000, 2) and samples.dtype == torch.float64
    assert torch.isfinite(samples).all()
    verdict = _diffusion_verdict(samples, train, held_out)
    assert _passes(verdict), verdict
    limit = next(e.timeout for e in CHAPTER.exercises if e.name == "diffusion_train_sample")
    assert elapsed < limit, f"reference took {elapsed:.1f} s, over the {limit:.0f} s limit"
    # a cheat that returns public make_moons samples wins on untransformed moons: only the
    # grader's private rotation, scaling and shift expose it (tests/grader/test_mutants.py)
    for case in (c for c in cases_of(TRAIN) if c.slug != "diffusion_train_sample__public_make_moons"):
        out = load_case(case)(train, 1000, 0)
        v = _diffusion_verdict(out.to(torch.float64), train, held_out)
        assert _passes(v) == case.correct, (case.slug, v)


def test_diffusion_train_sample_is_deterministic_and_leaves_the_global_rng(monkeypatch) -> None:
    monkeypatch.setattr(ref, "_TRAIN_STEPS", 20)
    data = torch.randn(64, 2, generator=gen(8), dtype=torch.float32)
    state = torch.get_rng_state()
    a = ref.diffusion_train_sample(data, 16, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, ref.diffusion_train_sample(data, 16, seed=3))
    assert not torch.equal(a, ref.diffusion_train_sample(data, 16, seed=4))


# --- stubs -----------------------------------------------------------------------------


# --- mutants and variants --------------------------------------------------------------


def cases_of(name: str | None) -> list[Case]:
    """The chapter's mutants and variants, of one exercise or (name None) of all."""
    if name is None:
        return [c for c in CASES if c.exercise.startswith("ch10.")]
    return [c for c in CASES if c.exercise == f"ch10.{name}"]


def load_case(case: Case):
    """The case as the grader sees it: the reference module with the case appended."""
    module = types.ModuleType(f"ch10_case_{case.slug}")
    source = inspect.getsource(ref) + "\n\n" + case.source()
    exec(compile(source, f"<{case.slug}>", "exec"), module.__dict__)
    return getattr(module, case.exercise.split(".", 1)[1])


def _agrees(out, expected) -> bool:
    if not isinstance(out, torch.Tensor):
        return False
    if out.shape != expected.shape or out.dtype != expected.dtype:
        return False
    rtol = 1e-4 if expected.dtype == torch.float32 else 1e-9
    return bool(torch.allclose(out, expected, rtol=rtol, atol=1e-6))


@pytest.mark.parametrize(
    "case", [c for c in cases_of(None) if c.exercise != f"ch10.{TRAIN}"], ids=lambda c: c.slug
)
def test_mutant_differs_and_variant_agrees(case: Case) -> None:
    """The train exercise's cases are graded in the slow test above, not here."""
    name = case.exercise.split(".", 1)[1]
    func, reference = load_case(case), getattr(ref, name)
    verdicts = []
    for dtype in DTYPES:
        for args in example_inputs(name, dtype):
            expected = reference(*clone_args(args))
            try:
                out = func(*clone_args(args))
            except Exception:  # a mutant may crash on an edge case
                verdicts.append(False)
                continue
            verdicts.append(_agrees(out, expected))
    if case.correct:
        assert all(verdicts), verdicts
    else:
        assert not all(verdicts), "the mutant agrees with the reference on every input"
