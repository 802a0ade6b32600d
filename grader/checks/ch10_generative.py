"""Checks for chapter 10: generative models (VAE, GAN, diffusion).

Expected values come from PyTorch built-ins (`torch.distributions.kl_divergence`,
`F.binary_cross_entropy_with_logits`, `torch.linspace`) and from closed forms written out
independently of the references (improved-diffusion's cosine loop, the Gaussian posterior
of q(x_{t-1} | x_t, x_0) by conditioning), all in float64 and computed by
`solutions/mistakes/ch10_generative.py` through `ref` (a student release ships their
recorded outputs, not the code). Known mistakes are not written here: each is student code
registered in that module, and `expect_close` names the one a wrong answer matches; a
non-finite loss is named by the stability rule or `mistake.nonfinite` (`expect_loss`),
never after a known mistake. The losses follow the contract's stability rule
(`expect_stable`: finite and right for extreme logits in float64 and float32). The train
exercise is graded by an energy distance to held-out two-moons points against a Gaussian
fitted to the training points; the moons are drawn afresh for every grading run and
turned, scaled and moved by a transform the student cannot know (a secret drawn per run),
so scikit-learn's own moons score nothing, and samples that copy training points score
nothing either.
"""

from __future__ import annotations

import math
import secrets
from contextlib import contextmanager
from functools import lru_cache
from typing import NamedTuple

import torch
from hypothesis import given
from hypothesis import strategies as st

from grader import diagnose
from grader.checks import exercise
from grader.compare import CheckFailure, expect, expect_close, expect_stable, fail, partial_credit
from grader.precision import truth
from grader.strategies import float_dtypes, generator, labels, seeds, sizes, tensors

ZEROS = (0.0, -0.0)


def _is_tensor_of(got: object, dtype: torch.dtype | None = None) -> bool:
    return isinstance(got, torch.Tensor) and (dtype is None or got.dtype == dtype)


@st.composite
def tensor_set(draw, shapes, dtype, scales, edges: tuple[float, ...] = ()):
    """Standard normal tensors (times `scales`) drawn one after the other from one seed.
    Unlike separate `tensors` draws they stay different when Hypothesis shrinks every
    seed to 0 (x_t = eps = z would make any wrong step look like a constant factor)."""
    g = generator(draw(seeds()))
    out = []
    for shape, scale in zip(shapes, scales):
        x = torch.randn(shape, generator=g, dtype=torch.float64) * scale
        if edges and x.numel():
            flat = x.view(-1)
            for _ in range(draw(st.integers(0, min(3, x.numel())))):
                flat[draw(st.integers(0, x.numel() - 1))] = draw(st.sampled_from(edges))
        out.append(x.to(dtype))
    return out


def expect_loss(got: object, expected: torch.Tensor, **kwargs: object) -> None:
    """expect_close for a scalar loss, except that an inf or nan loss is reported as such
    first: against an infinite error every known mistake would look "closer" than the
    expected value, and feedback would name the wrong one."""
    name = kwargs.get("name", "loss")
    if _is_tensor_of(got) and got.shape == expected.shape and got.dtype.is_floating_point:
        bad = ~torch.isfinite(got) & torch.isfinite(expected)
        if bad.any():
            inputs = kwargs.get("inputs")
            reveal = {"inputs": diagnose.show(inputs)} if inputs else {}
            fail("mistake.nonfinite", reveal, name=name, index=tuple(int(i) for i in bad.nonzero()[0]) if bad.dim() else ())
    expect_close(got, expected, **kwargs)


# --- VAE: reparameterisation and KL ------------------------------------------------------


@st.composite
def latent_shapes(draw, max_side: int = 5):
    """(N, L) mostly, sometimes an image-like latent (N, C, H, W); at least two entries, so
    that a wrong answer does not look like a constant factor by accident."""
    if draw(st.booleans()) or draw(st.booleans()):
        return (draw(sizes(1, max_side)), draw(sizes(2, max_side + 1)))
    return (draw(sizes(1, 3)), draw(sizes(1, 3)), draw(sizes(1, 3)), draw(sizes(2, 3)))


@st.composite
def reparameterize_case(draw, shape=None, logvar_scale: float = 1.5):
    dtype = draw(float_dtypes())
    shape = draw(shape if shape is not None else latent_shapes())
    mu, logvar, eps = draw(tensor_set([shape] * 3, dtype, (2.0, logvar_scale, 1.0), edges=ZEROS))
    return mu, logvar, eps


@exercise("ch10.reparameterize", points=1)
@given(case=reparameterize_case())
def check_reparameterize_is_mu_plus_sigma_eps(student, ref, case):
    mu, logvar, eps = case
    expect_close(
        student.reparameterize(mu, logvar, eps),
        truth(ref.reparameterize_by_affine_transform, mu, logvar, eps),
        name="z",
        inputs=dict(mu=mu, logvar=logvar, eps=eps),
    )


@exercise("ch10.reparameterize", points=1, hidden=True)
@given(case=reparameterize_case(shape=st.tuples(sizes(8, 32), sizes(8, 32)), logvar_scale=6.0))
def check_reparameterize_large_batches_and_variances(student, ref, case):
    mu, logvar, eps = case
    expect_close(
        student.reparameterize(mu, logvar, eps),
        truth(ref.reparameterize_by_affine_transform, mu, logvar, eps),
        name="z",
    )


@st.composite
def kl_case(draw, min_n: int = 2, max_n: int = 5, max_l: int = 6, logvar_scale: float = 1.5, images: bool = False):
    """(mu, logvar) of shape (N, L), or (N, C, H, W) with `images` (the docstring's latent
    with several non-batch dims, summed over all of them)."""
    dtype = draw(float_dtypes())
    n = draw(sizes(min_n, max_n))
    shape = (n, draw(sizes(1, 3)), draw(sizes(1, 3)), draw(sizes(2, 3))) if images else (n, draw(sizes(1, max_l)))
    mu, logvar = draw(tensor_set([shape] * 2, dtype, (1.5, logvar_scale), edges=ZEROS))
    return mu, logvar


def _expect_per_example(got: object, n: int) -> None:
    """One KL per example: a tensor of the wrong shape gets the exercise's own message."""
    if _is_tensor_of(got) and got.dtype.is_floating_point and tuple(got.shape) != (n,):
        fail("mistake.ch10.gaussian_kl.wrong_shape", name="kl", got=tuple(got.shape), expected=(n,))


def _check_gaussian_kl(student, ref, mu, logvar, public: bool = True) -> None:
    got = student.gaussian_kl(mu, logvar)
    _expect_per_example(got, mu.shape[0])
    expect_close(
        got,
        truth(ref.kl_by_torch_distributions, mu, logvar),
        name="kl",
        inputs=dict(mu=mu, logvar=logvar) if public else None,
        batch=None if public else mu.shape[0],
    )


@exercise("ch10.gaussian_kl", points=1)
@given(case=kl_case())
def check_gaussian_kl_matches_torch_distributions(student, ref, case):
    _check_gaussian_kl(student, ref, *case)


@exercise("ch10.gaussian_kl", points=1)
@given(case=kl_case())
def check_gaussian_kl_is_zero_at_the_prior(student, ref, case):
    mu, logvar = case
    # the first row is the prior itself (mu = 0, logvar = 0): its KL is exactly 0
    mu, logvar = mu.clone(), logvar.clone()
    mu[0], logvar[0] = 0.0, 0.0
    _check_gaussian_kl(student, ref, mu, logvar)


@exercise("ch10.gaussian_kl", points=1)
@given(case=kl_case(images=True))
def check_gaussian_kl_sums_over_every_latent_dim_of_an_image_latent(student, ref, case):
    # the docstring: a latent (N, C, H, W) is summed over all its non-batch dims
    _check_gaussian_kl(student, ref, *case)


@exercise("ch10.gaussian_kl", points=1, hidden=True)
@given(case=kl_case(min_n=1, max_n=24, max_l=48, logvar_scale=5.0))
def check_gaussian_kl_wide_latents_and_extreme_variances(student, ref, case):
    _check_gaussian_kl(student, ref, *case, public=False)


# --- VAE loss ------------------------------------------------------------------------------


@st.composite
def vae_case(draw, data_shape, logit_scale: float = 3.0, binary=None):
    """(x, recon_logits, mu, logvar); x in [0, 1], binary or soft."""
    dtype = draw(float_dtypes())
    shape = tuple(draw(data_shape))
    n, latent = shape[0], draw(sizes(1, 4))
    x = draw(tensors(shape, dtype, low=0.0, high=1.0))
    if binary if binary is not None else draw(st.booleans()):
        x = (x > 0.5).to(dtype)
    logits, mu, logvar = draw(tensor_set([shape, (n, latent), (n, latent)], dtype, (logit_scale, 1.0, 1.0), edges=ZEROS))
    return x, logits, mu, logvar


def _check_vae_loss(student, ref, x, logits, mu, logvar, public: bool = True) -> None:
    expect_loss(
        student.vae_loss(x, logits, mu, logvar),
        truth(ref.vae_loss_by_torch, x, logits, mu, logvar),
        name="loss",
        inputs=dict(x=x, recon_logits=logits, mu=mu, logvar=logvar) if public else None,
        batch=x.shape[0],
    )


@exercise("ch10.vae_loss", points=2)
@given(case=vae_case(st.tuples(sizes(1, 5), sizes(1, 6))))
def check_vae_loss_on_flat_vectors(student, ref, case):
    _check_vae_loss(student, ref, *case)


@exercise("ch10.vae_loss", points=1)
@given(case=vae_case(st.sampled_from([(2, 1, 8, 8), (3, 1, 8, 8), (2, 3, 4, 5), (4, 2, 3)])))
def check_vae_loss_sums_over_every_pixel_of_an_image(student, ref, case):
    _check_vae_loss(student, ref, *case)


@exercise("ch10.vae_loss", points=1)
@given(
    case=vae_case(st.tuples(sizes(1, 4), sizes(2, 6)), logit_scale=1.0),
    big=st.sampled_from([100.0, 1000.0]),
)
def check_vae_loss_finite_for_confident_decoders(student, ref, case, big):
    x, logits, mu, logvar = case
    # confident logits of magnitude about `big`, some right and some wrong: the true loss
    # is finite (about `big` per wrong pixel); the stability rule of the contract. Soft
    # targets tell log(sigmoid) (inf) from exp(l) / (1 + exp(l)) (NaN) apart; binary ones
    # give NaN either way (0 * log 0), named after the first, more common, mistake
    logits = torch.sign(logits) * big + logits
    expect_stable(
        student.vae_loss,
        lambda x, recon_logits, mu, logvar: truth(ref.vae_loss_by_torch, x, recon_logits, mu, logvar),
        dict(x=x, recon_logits=logits, mu=mu, logvar=logvar),
        name="loss",
        per_dtype=lambda x, recon_logits, mu, logvar: dict(causes=ref.vae_loss_causes(x, recon_logits, mu, logvar)),
    )


@exercise("ch10.vae_loss", points=1, hidden=True)
@given(case=vae_case(st.tuples(sizes(6, 24), sizes(1, 3), sizes(4, 8), sizes(4, 8)), logit_scale=5.0))
def check_vae_loss_larger_image_batches(student, ref, case):
    _check_vae_loss(student, ref, *case, public=False)


# --- GAN losses ------------------------------------------------------------------------------


def logit_shapes(max_n: int = 6):
    return st.one_of(st.tuples(sizes(1, max_n)), st.tuples(sizes(1, max_n), st.just(1)))


def patch_logit_shapes(max_n: int = 4):
    """Several logits per sample, as the docstrings allow: a PatchGAN's (N, 1, H, W), or (N, K).
    N >= 2, so that a sum over everything differs from a sum per sample."""
    return st.one_of(st.tuples(sizes(2, max_n), st.just(1), sizes(2, 3), sizes(2, 3)), st.tuples(sizes(2, max_n), sizes(2, 5)))


@contextmanager
def any_logit_shape(**logits: torch.Tensor):
    """Name a failure on logits with several entries per sample after their shapes (a named
    mistake, a non-finite loss and a crash keep their own messages): the same code handles
    (N,) and (N, 1) logits in the other checks, so the shape is the cause."""
    try:
        yield
    except CheckFailure as failure:
        if type(failure) is not CheckFailure or failure.key.split(".")[:2] in (["mistake", "ch10"], ["mistake", "nonfinite"]):
            raise
        shapes = ", ".join(f"{name} {tuple(x.shape)}" for name, x in logits.items())
        raise CheckFailure("mistake.ch10.gan_logit_shape", {"shape": shapes}, failure.reveal) from None


@st.composite
def gan_case(draw, max_n: int = 6, scale: float = 3.0, unequal: bool = False, shapes=None):
    """(real_logits, fake_logits); with `unequal`, batches of different sizes (where one
    mean over both groups, `single_mean`, differs from half the sum of the two means)."""
    dtype = draw(float_dtypes())
    shapes = shapes if shapes is not None else logit_shapes(max_n)
    real_shape = draw(shapes)
    fake_shape = draw(shapes.filter(lambda shape: not unequal or shape[0] != real_shape[0]))
    real, fake = draw(tensor_set([real_shape, fake_shape], dtype, (scale, scale), edges=ZEROS))
    return real, fake


def _check_discriminator(student, ref, real, fake, public: bool = True) -> None:
    expect_loss(
        student.gan_discriminator_loss(real, fake),
        truth(ref.discriminator_loss_by_bce, real, fake),
        name="loss",
        inputs=dict(real_logits=real, fake_logits=fake) if public else None,
    )


@exercise("ch10.gan_discriminator_loss", points=2)
@given(case=gan_case())
def check_gan_discriminator_loss_matches_bce_with_logits(student, ref, case):
    _check_discriminator(student, ref, *case)


@exercise("ch10.gan_discriminator_loss", points=1)
@given(case=gan_case(scale=0.5), big=st.sampled_from([100.0, 1000.0]), right=st.booleans())
def check_gan_discriminator_loss_finite_for_confident_logits(student, ref, case, big, right):
    real, fake = case
    # a confident discriminator, right (real >> 0, fake << 0) or wrong (the reverse): the
    # true loss is finite either way; the stability rule of the contract
    sign = 1.0 if right else -1.0
    real, fake = real + sign * big, fake - sign * big
    expect_stable(
        student.gan_discriminator_loss,
        lambda real_logits, fake_logits: truth(ref.discriminator_loss_by_bce, real_logits, fake_logits),
        dict(real_logits=real, fake_logits=fake),
        name="loss",
        per_dtype=lambda real_logits, fake_logits: dict(causes=ref.discriminator_loss_causes(real_logits, fake_logits)),
    )


@exercise("ch10.gan_discriminator_loss", points=1)
@given(case=gan_case(shapes=patch_logit_shapes()))
def check_gan_discriminator_loss_any_logit_shape(student, ref, case):
    # the docstring: logits of any shape, e.g. a PatchGAN's (N, 1, H, W); each mean is
    # over every logit of its group
    real, fake = case
    with any_logit_shape(real_logits=real, fake_logits=fake):
        _check_discriminator(student, ref, real, fake)


@exercise("ch10.gan_discriminator_loss", points=1, hidden=True)
@given(case=gan_case(max_n=64, scale=10.0, unequal=True))
def check_gan_discriminator_loss_large_unequal_batches(student, ref, case):
    _check_discriminator(student, ref, *case, public=False)


@st.composite
def fake_logits(draw, max_n: int = 6, scale: float = 3.0, shapes=None):
    return draw(tensors(shapes if shapes is not None else logit_shapes(max_n), draw(float_dtypes()), scale=scale, edges=ZEROS))


def _check_generator(student, ref, fake, public: bool = True, got: object = None) -> None:
    expect_loss(
        student.gan_generator_loss(fake) if got is None else got,
        truth(ref.generator_loss_by_bce, fake),
        name="loss",
        inputs=dict(fake_logits=fake) if public else None,
    )


@exercise("ch10.gan_generator_loss", points=1)
@given(fake=fake_logits())
def check_gan_generator_loss_is_bce_with_target_one(student, ref, fake):
    _check_generator(student, ref, fake)


@exercise("ch10.gan_generator_loss", points=1)
@given(fake=fake_logits(scale=0.1), big=st.sampled_from([10.0, 30.0, 100.0, 1000.0]))
def check_gan_generator_loss_keeps_its_gradient_when_the_fakes_are_rejected(student, ref, fake, big):
    # the discriminator confidently rejects every fake: logits around -big
    fake = fake - big
    got = student.gan_generator_loss(fake)
    shifted = student.gan_generator_loss(fake + 1.0)
    finite = lambda v: _is_tensor_of(v) and v.numel() == 1 and bool(torch.isfinite(v).all())  # noqa: E731
    if finite(got) and finite(shifted):
        # non-saturating: raising every fake logit by 1 lowers the loss by about 1 (slope
        # -1); the saturating minimax loss (and BCE with target 0) barely moves there
        slope = float(shifted) - float(got)
        reveal = {"inputs": diagnose.show(dict(fake_logits=fake))}
        expect(slope < -0.5, "mistake.ch10.gan_generator_loss.flat_when_rejected", reveal, big=big, slope=slope)
    _check_generator(student, ref, fake, got=got)


@exercise("ch10.gan_generator_loss", points=1)
@given(fake=fake_logits(scale=1.0), big=st.sampled_from([100.0, 1000.0]))
def check_gan_generator_loss_finite_for_extreme_logits(student, ref, fake, big):
    # every |logit| above `big`, of either sign: the true loss is finite (about `big` per
    # rejected fake); the stability rule of the contract, in float64 and float32
    fake = torch.where(fake >= 0, fake + 1, fake - 1) * big
    expect_stable(
        student.gan_generator_loss,
        lambda fake_logits: truth(ref.generator_loss_by_bce, fake_logits),
        dict(fake_logits=fake),
        name="loss",
        per_dtype=lambda fake_logits: dict(causes=ref.generator_loss_causes(fake_logits)),
    )


@exercise("ch10.gan_generator_loss", points=1)
@given(fake=fake_logits(shapes=patch_logit_shapes()))
def check_gan_generator_loss_any_logit_shape(student, ref, fake):
    # the docstring: fake_logits of any shape, e.g. (N, 1, H, W); the mean is over every logit
    with any_logit_shape(fake_logits=fake):
        _check_generator(student, ref, fake)


@exercise("ch10.gan_generator_loss", points=1, hidden=True)
@given(fake=fake_logits(max_n=64, scale=20.0))
def check_gan_generator_loss_large_batches_and_logits(student, ref, fake):
    _check_generator(student, ref, fake, public=False)


# --- noise schedules -------------------------------------------------------------------------


def _expect_float64(got: object) -> None:
    """The schedules are float64 by contract: a float32 one gets its own message."""
    if _is_tensor_of(got, torch.float32):
        fail("mistake.ch10.linear_beta_schedule.float32", name="betas")


def _expect_T_betas(got: object, T: int) -> None:
    """T + 1 values of alpha_bar give T betas: T - 1 or T + 1 of them is an off-by-one."""
    if _is_tensor_of(got) and tuple(got.shape) in ((T - 1,), (T + 1,)):
        fail("mistake.ch10.cosine_beta_schedule.off_by_one", name="betas", got=tuple(got.shape), expected=(T,))


@exercise("ch10.linear_beta_schedule", points=1)
@given(
    T=st.one_of(sizes(1, 60), st.sampled_from([100, 1000])),
    ends=st.one_of(
        st.just(None),
        st.sampled_from([(1e-4, 0.02), (0.1, 0.3), (1e-3, 0.05), (0.02, 0.02)]),
        st.tuples(st.floats(1e-5, 0.05), st.floats(0.05, 0.5)),
    ),
)
def check_linear_beta_schedule_matches_linspace(student, ref, T, ends):
    start, end = ends or (1e-4, 0.02)
    got = student.linear_beta_schedule(T) if ends is None else student.linear_beta_schedule(T, start, end)
    _expect_float64(got)
    expect_close(
        got,
        torch.linspace(start, end, T, dtype=torch.float64),
        name="betas",
        inputs=dict(T=T, beta_start=start, beta_end=end),
    )


@exercise("ch10.linear_beta_schedule", points=1)
@given(T=st.sampled_from([1, 2, 1000]), defaults=st.booleans())
def check_linear_beta_schedule_single_step_and_defaults(student, ref, T, defaults):
    start, end = (1e-4, 0.02) if defaults else (0.05, 0.25)
    got = student.linear_beta_schedule(T) if defaults else student.linear_beta_schedule(T, beta_start=start, beta_end=end)
    _expect_float64(got)
    expect_close(
        got,
        torch.linspace(start, end, T, dtype=torch.float64),
        name="betas",
        inputs=dict(T=T, beta_start=start, beta_end=end),
    )


def _call_cosine(student, T, s):
    return student.cosine_beta_schedule(T) if s is None else student.cosine_beta_schedule(T, s)


@exercise("ch10.cosine_beta_schedule", points=2)
@given(T=sizes(1, 60), s=st.sampled_from([None, 0.008, 0.02, 0.1, 0.0]))
def check_cosine_beta_schedule_matches_the_closed_form(student, ref, T, s):
    got = _call_cosine(student, T, s)
    s = 0.008 if s is None else s
    _expect_T_betas(got, T)
    expect_close(got, ref.cosine_betas_by_loop(T, s), name="betas", inputs=dict(T=T, s=s))


@exercise("ch10.cosine_beta_schedule", points=1)
@given(T=st.sampled_from([1, 2, 5, 10, 100, 1000]), s=st.sampled_from([None, 0.008, 0.1]))
def check_cosine_beta_schedule_is_clipped_and_alphas_cumprod_decrease(student, ref, T, s):
    got = _call_cosine(student, T, s)
    s = 0.008 if s is None else s
    expected = ref.cosine_betas_by_loop(T, s)
    _expect_T_betas(got, T)
    if _is_tensor_of(got, torch.float64) and tuple(got.shape) == (T,):
        expect(bool((got <= 0.999).all()), "mistake.ch10.cosine_beta_schedule.no_clip")
        alphas_cumprod = torch.cumprod(1 - got, dim=0)
        decreasing = bool((got > 0).all()) and bool((alphas_cumprod[1:] < alphas_cumprod[:-1]).all())
        expect(decreasing, "mistake.ch10.cosine_beta_schedule.not_monotone")
    expect_close(got, expected, name="betas", inputs=dict(T=T, s=s))


@exercise("ch10.cosine_beta_schedule", points=1, hidden=True)
@given(T=st.sampled_from([250, 500, 999, 1000, 4000]), s=st.sampled_from([None, 0.008, 0.05]))
def check_cosine_beta_schedule_long_schedules(student, ref, T, s):
    got = _call_cosine(student, T, s)
    s = 0.008 if s is None else s
    _expect_T_betas(got, T)
    expect_close(got, ref.cosine_betas_by_loop(T, s), name="betas")


# --- the forward process q(x_t | x_0) -------------------------------------------------------


class Schedule(NamedTuple):
    """A float64 betas schedule to draw inputs from: a linear one (of two ranges) or the
    cosine one, made in the check (`_betas`, the cosine one by the reference side)."""

    kind: str
    T: int


@st.composite
def betas_schedule(draw, min_T: int = 1, max_T: int = 50) -> Schedule:
    return Schedule(draw(st.sampled_from(["linear", "linear_wide", "cosine"])), draw(sizes(min_T, max_T)))


def _betas(ref, schedule: Schedule) -> torch.Tensor:
    if schedule.kind == "linear":
        return torch.linspace(1e-4, 0.02, schedule.T, dtype=torch.float64)
    if schedule.kind == "linear_wide":
        return torch.linspace(0.01, 0.3, schedule.T, dtype=torch.float64)
    return ref.cosine_betas_by_loop(schedule.T, 0.008)


class QSampleCase(NamedTuple):
    x0: torch.Tensor
    t: torch.Tensor
    noise: torch.Tensor
    schedule: Schedule
    float32_schedule: bool


@st.composite
def q_sample_case(draw, data_shapes, max_T: int = 50, float32_schedules: bool = False):
    dtype = draw(float_dtypes())
    shape = tuple(draw(data_shapes))
    schedule = draw(betas_schedule(1, max_T))
    # a float32 schedule only with float32 data: float64 data deserve float64 coefficients
    f32 = float32_schedules and dtype == torch.float32 and draw(st.booleans())
    T = schedule.T
    t = draw(labels(shape[0], T))
    # the first and last steps are where indexing mistakes show
    if draw(st.booleans()):
        t[0] = 0
    if draw(st.booleans()):
        t[-1] = T - 1
    x0, noise = draw(tensor_set([shape] * 2, dtype, (1.5, 1.0)))
    return QSampleCase(x0, t, noise, schedule, f32)


def _expect_x0_dtype(got: object, x0: torch.Tensor, abar: torch.Tensor) -> None:
    if _is_tensor_of(got) and got.dtype != x0.dtype and got.dtype == abar.dtype:
        fail("mistake.ch10.q_sample.keeps_schedule_dtype", name="x_t")


def _check_q_sample(student, ref, case: QSampleCase, public: bool):
    x0, t, noise = case.x0, case.t, case.noise
    abar = torch.cumprod(1 - _betas(ref, case.schedule), dim=0)
    abar = abar.to(torch.float32) if case.float32_schedule else abar
    got = student.q_sample(x0, t, noise, abar)
    _expect_x0_dtype(got, x0, abar)
    if _is_tensor_of(got) and got.shape != x0.shape:
        # the per-sample coefficient did not broadcast over x0's other dims
        fail("mistake.ch10.q_sample.two_dims_only", name="x_t", got=tuple(got.shape), expected=tuple(x0.shape))
    expect_close(
        got,
        truth(ref.q_sample_formula, x0, t, noise, abar),
        name="x_t",
        inputs=dict(x0=x0, t=t, noise=noise, alphas_cumprod=abar) if public else None,
    )


@exercise("ch10.q_sample", points=2)
@given(case=q_sample_case(st.one_of(st.tuples(sizes(1, 5), sizes(2, 4)), st.tuples(sizes(1, 4), sizes(1, 3), sizes(2, 3)))))
def check_q_sample_matches_the_closed_form(student, ref, case):
    _check_q_sample(student, ref, case, public=True)


@exercise("ch10.q_sample", points=1)
@given(case=q_sample_case(st.one_of(st.tuples(sizes(2, 4), sizes(1, 3), sizes(2, 4), sizes(2, 4)), st.tuples(sizes(2, 3), st.just(1), st.just(2), sizes(2, 3), sizes(1, 3)), st.tuples(sizes(2, 6)))))
def check_q_sample_broadcasts_each_step_over_images(student, ref, case):
    # (N, ...) with any number of non-batch dims: images, videos, and plain (N,) values
    _check_q_sample(student, ref, case, public=True)


@exercise("ch10.q_sample", points=1, hidden=True)
@given(
    case=q_sample_case(
        st.one_of(st.tuples(sizes(1, 40)), st.tuples(sizes(8, 32), sizes(2, 16)), st.tuples(sizes(2, 8), sizes(1, 3), sizes(4, 8), sizes(4, 8))),
        max_T=1000,
        float32_schedules=True,
    )
)
def check_q_sample_long_schedules_and_other_shapes(student, ref, case):
    _check_q_sample(student, ref, case, public=False)


# --- DDPM ------------------------------------------------------------------------------------


def sample_shapes(max_side: int = 4):
    """(N, D) or (N, C, H, W), with at least two entries."""
    return st.one_of(st.tuples(sizes(1, max_side), sizes(2, max_side)), st.tuples(sizes(1, 3), sizes(1, 2), sizes(1, 3), sizes(2, 3)))


class DdpmCase(NamedTuple):
    x_t: torch.Tensor
    t: int
    eps: torch.Tensor
    schedule: Schedule
    z: torch.Tensor


@st.composite
def ddpm_case(draw, min_T=2, max_T=50, t_zero=False, shapes=None):
    dtype = draw(float_dtypes())
    schedule = draw(betas_schedule(max(min_T, 1), max_T))
    T = schedule.T
    # the first and the last steps are where indexing mistakes show
    t = 0 if t_zero else draw(st.one_of(st.sampled_from(sorted({1, T - 1})), st.integers(1, T - 1)))
    shape = tuple(draw(shapes if shapes is not None else sample_shapes()))
    x_t, eps, z = draw(tensor_set([shape] * 3, dtype, (1.0, 1.0, 1.0)))
    return DdpmCase(x_t, t, eps, schedule, z)


def _check_ddpm(student, ref, x_t, t, eps, betas, z, expected=None, public: bool = True, got: object = None) -> None:
    """The student's step against `expected` (default: the DDPM formula) with the usual
    mistakes; `got` when the caller already has the student's answer."""
    expect_close(
        student.ddpm_step(x_t, t, eps, betas, z) if got is None else got,
        truth(ref.ddpm_step_formula, x_t, t, eps, betas, z) if expected is None else expected,
        name="x_prev",
        inputs=dict(x_t=x_t, t=t, eps_pred=eps, betas=betas, z=z) if public else None,
    )


@exercise("ch10.ddpm_step", points=2)
@given(case=ddpm_case())
def check_ddpm_step_matches_the_formula(student, ref, case):
    _check_ddpm(student, ref, case.x_t, case.t, case.eps, _betas(ref, case.schedule), case.z)


@exercise("ch10.ddpm_step", points=1)
@given(case=ddpm_case(min_T=2))
def check_ddpm_step_with_the_true_noise_samples_the_gaussian_posterior(student, ref, case):
    betas, t, eps, z = _betas(ref, case.schedule), case.t, case.eps, case.z
    # eps_pred is the true noise of x_t: the step samples q(x_{t-1} | x_t, x_0) exactly
    x0, x_t = ref.ddpm_true_noise(case.x_t, eps, betas, t)
    _check_ddpm(student, ref, x_t, t, eps, betas, z, expected=truth(ref.ddpm_posterior_sample, x_t, x0, t, betas, z))


@exercise("ch10.ddpm_step", points=2)
@given(case=ddpm_case(min_T=1, t_zero=True))
def check_ddpm_step_at_t0_adds_no_noise_and_returns_x0(student, ref, case):
    betas, eps, z = _betas(ref, case.schedule), case.eps, case.z
    x0, x_t = ref.ddpm_true_noise(case.x_t, eps, betas, 0)
    got = student.ddpm_step(x_t, 0, eps, betas, z)
    # at t = 0 the step ignores z: another z must not change the result
    if _is_tensor_of(got, x_t.dtype) and got.shape == x_t.shape:
        other = student.ddpm_step(x_t, 0, eps, betas, -z)
        same = _is_tensor_of(other, x_t.dtype) and other.shape == got.shape and bool(torch.allclose(got.double(), other.double(), rtol=1e-6, atol=1e-7))
        expect(same, "mistake.ch10.ddpm_step.wraps_at_t0")
    # with the true noise, the last step lands on x0
    _check_ddpm(student, ref, x_t, 0, eps, betas, z, expected=x0.to(x_t.dtype), got=got)


@exercise("ch10.ddpm_step", points=1, hidden=True)
@given(
    case=ddpm_case(min_T=100, max_T=1000, shapes=st.one_of(st.tuples(sizes(8, 32), sizes(2, 8)), st.tuples(sizes(2, 6), sizes(1, 3), sizes(4, 8), sizes(4, 8)))),
    last=st.booleans(),
)
def check_ddpm_step_long_schedules(student, ref, case, last):
    betas = _betas(ref, case.schedule)
    t = betas.shape[0] - 1 if last else case.t
    _check_ddpm(student, ref, case.x_t, t, case.eps, betas, case.z, public=False)


# --- DDIM ------------------------------------------------------------------------------------


class DdimCase(NamedTuple):
    x_t: torch.Tensor
    eps: torch.Tensor
    schedule: Schedule
    t_pick: int
    """0: the first step, 1: the second, -1: the last allowed one, else any (modulo)."""
    prev_pick: int
    """-1: the final step (t_prev = -1), 0: step 0, 1: t - 1, else any earlier (modulo)."""
    abar_min: float
    float32_schedule: bool


@st.composite
def ddim_case(draw, min_T=1, max_T=50, shapes=None, abar_min=0.0, float32_schedules=False):
    dtype = draw(float_dtypes())
    schedule = draw(betas_schedule(min_T, max_T))
    # -1 (the final step), 0 (the first step of the schedule) and t - 1 are the edges
    t_pick = draw(st.one_of(st.sampled_from([0, 1, -1]), st.integers(2, 10**6)))
    prev_pick = draw(st.one_of(st.sampled_from([-1, 0, 1]), st.integers(2, 10**6)))
    shape = tuple(draw(shapes if shapes is not None else sample_shapes()))
    x_t, eps = draw(tensor_set([shape] * 2, dtype, (1.5, 1.0)))
    f32 = float32_schedules and dtype == torch.float32 and draw(st.booleans())  # only with float32 data, as in q_sample
    return DdimCase(x_t, eps, schedule, t_pick, prev_pick, abar_min, f32)


def _ddim_inputs(ref, case: DdimCase) -> tuple:
    """(x_t, t, t_prev, eps, alphas_cumprod) of a drawn case: t no later than the last step
    whose alpha_bar is at least `abar_min`."""
    abar = torch.cumprod(1 - _betas(ref, case.schedule), dim=0)
    ok = abar >= case.abar_min
    allowed = int(ok.nonzero().max()) if case.abar_min > 0 and bool(ok.any()) else abar.shape[0] - 1
    t = {0: 0, 1: min(1, allowed), -1: allowed}.get(case.t_pick, case.t_pick % (allowed + 1))
    t_prev = {-1: -1, 0: min(0, t - 1), 1: t - 1}.get(case.prev_pick, case.prev_pick % (t + 1) - 1)
    abar = abar.to(torch.float32) if case.float32_schedule else abar
    return case.x_t, t, t_prev, case.eps, abar


def _check_ddim(student, ref, x_t, t, t_prev, eps, abar, expected=None, public: bool = True) -> None:
    expect_close(
        student.ddim_step(x_t, t, t_prev, eps, abar),
        truth(ref.ddim_step_formula, x_t, t, t_prev, eps, abar) if expected is None else expected,
        name="x_prev",
        inputs=dict(x_t=x_t, t=t, t_prev=t_prev, eps_pred=eps, alphas_cumprod=abar) if public else None,
        mistakes=truth(ref.ddim_step_mistake_outputs, x_t, t, t_prev, eps, abar),
    )


@exercise("ch10.ddim_step", points=2)
@given(case=ddim_case())
def check_ddim_step_matches_the_formula(student, ref, case):
    _check_ddim(student, ref, *_ddim_inputs(ref, case))


@exercise("ch10.ddim_step", points=2)
@given(case=ddim_case(abar_min=1e-2), final=st.booleans())
def check_ddim_step_with_the_true_noise_recovers_x0(student, ref, case, final):
    x_t, t, t_prev, eps, abar = _ddim_inputs(ref, case)
    t_prev = -1 if final else t_prev
    # x_t made from a clean sample with the true noise eps: the step lands on q_sample at t_prev
    x_t, expected = ref.ddim_true_noise(x_t, eps, abar, t, t_prev)
    _check_ddim(student, ref, x_t, t, t_prev, eps, abar, expected=expected)


@exercise("ch10.ddim_step", points=1, hidden=True)
@given(
    case=ddim_case(
        min_T=100,
        max_T=1000,
        shapes=st.one_of(st.tuples(sizes(8, 32), sizes(2, 8)), st.tuples(sizes(2, 6), sizes(1, 3), sizes(4, 8), sizes(4, 8))),
        abar_min=1e-4,
        float32_schedules=True,
    )
)
def check_ddim_step_long_schedules(student, ref, case):
    _check_ddim(student, ref, *_ddim_inputs(ref, case), public=False)


# --- the train exercise: a diffusion model on two moons --------------------------------------

DATA_SEED = 20240611
TRAIN_POINTS, HELD_OUT_POINTS, NUM_SAMPLES = 1000, 1000, 1000
FULL_MARKS_RATIO = 0.85
"""Full marks when the energy distance to held-out points is at most this fraction of the
fitted Gaussian's; no marks at the Gaussian's. Over 20 runs' redrawn moons the reference
scores a median of about 0.16 but a worst of 0.54, the DDIM variant a median of 0.37 and
a worst of 0.69 (their training is sensitive to the draw); returning `make_moons` samples
scores 50x the baseline and more (see benchmarks/bench_outcomes.py). Over 60 more draws
(salts 20-79) the reference's worst is 0.49, but the DDIM variant, a smaller denoiser,
scores 1.07 on one (salt 39) and 0.87 on a draw of a test run: a correct solution that
weak can fall short on a few draws in a hundred."""
NOVELTY_MIN = 0.5
"""Samples whose median distance to the nearest training point is below this fraction of
the held-out points' are copies of the training set."""


MOVE = dict(turn=(math.pi / 6, 11 * math.pi / 6), scale=(0.6, 1.6), shift=(1.5, 3.0))
"""The run's similarity transform of the moons: a rotation by an angle in `turn`, a scaling
in `scale`, and a shift of a length in `shift` (in the moons' own units, which span about
3 by 1.5): never close to the identity, so scikit-learn's own moons land far off."""


@lru_cache(maxsize=1)
def _run_salt() -> int:
    """A secret drawn once per grading process. The run's seed is printed (and a student
    can read this file), so data derived from the seed alone could be recomputed; this
    salt never leaves the grader, whose student code runs in another process."""
    return secrets.randbits(63)


def _two_moons() -> tuple[torch.Tensor, torch.Tensor]:
    """(train, held_out), (N, 2) float64: fresh two-moons points for this grading run,
    turned, scaled and moved by a transform drawn from the secret salt (the same for the
    training and the held-out points). The trade-off: a rerun with the same seed gets
    statistically equal, not bit-equal, points, so the score may move slightly."""
    return moons_data(_run_salt())


@lru_cache(maxsize=2)
def moons_data(salt: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The points one salt draws (benchmarks/bench_outcomes.py draws many)."""
    from sklearn.datasets import make_moons  # only the train check needs scikit-learn

    g = generator(salt)
    uniform = lambda low, high: low + (high - low) * float(torch.rand((), generator=g, dtype=torch.float64))  # noqa: E731
    angle, scale, length, direction = uniform(*MOVE["turn"]), uniform(*MOVE["scale"]), uniform(*MOVE["shift"]), uniform(0, 2 * math.pi)
    points, _ = make_moons(TRAIN_POINTS + HELD_OUT_POINTS, noise=0.05, random_state=int(torch.randint(0, 2**31 - 1, (), generator=g)))
    points = torch.tensor(points, dtype=torch.float64)
    centre = points.mean(dim=0)
    turn = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]], dtype=torch.float64)
    moved = centre + scale * (points - centre) @ turn.T + length * torch.tensor([math.cos(direction), math.sin(direction)], dtype=torch.float64)
    return moved[:TRAIN_POINTS], moved[TRAIN_POINTS:]


def _energy_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """2 E|a - b| - E|a - a'| - E|b - b'| (V-statistics), a two-sample distance that is 0
    only for equal distributions."""
    return float(2 * torch.cdist(a, b).mean() - torch.cdist(a, a).mean() - torch.cdist(b, b).mean())


def _fitted_gaussian(train: torch.Tensor, n: int) -> torch.Tensor:
    chol = torch.linalg.cholesky(torch.cov(train.T))
    return train.mean(0) + torch.randn(n, 2, generator=generator(DATA_SEED), dtype=torch.float64) @ chol.T


@exercise("ch10.diffusion_train_sample", points=10)
def check_diffusion_samples_are_closer_to_held_out_points_than_a_fitted_gaussian(student, ref):
    train, held_out = _two_moons()
    samples = student.diffusion_train_sample(train.to(torch.float32), NUM_SAMPLES, 0)
    if not isinstance(samples, torch.Tensor):
        fail("compare.not_tensor", name="samples", got=diagnose.type_name(samples))
    if tuple(samples.shape) != (NUM_SAMPLES, 2):
        fail("compare.shape", name="samples", got=tuple(samples.shape), expected=(NUM_SAMPLES, 2))
    samples = samples.double()
    finite = torch.isfinite(samples)
    if not finite.all():
        index = tuple(int(i) for i in (~finite).nonzero()[0])
        fail("mistake.nonfinite", name="samples", index=index)

    nearest = lambda a: torch.cdist(a, train).min(dim=1).values.median()  # noqa: E731
    novelty = float(nearest(samples) / nearest(held_out))
    if novelty < NOVELTY_MIN:
        partial_credit(0.0, "mistake.ch10.diffusion_train_sample.memorises", novelty=novelty)

    distance = _energy_distance(samples, held_out)
    baseline = _energy_distance(_fitted_gaussian(train, NUM_SAMPLES), held_out)
    target = FULL_MARKS_RATIO * baseline
    if distance <= target:
        return
    params = dict(distance=distance, baseline=baseline, target=target)
    if distance >= 2 * baseline:
        partial_credit(0.0, "mistake.ch10.diffusion_train_sample.sampling_runs_forwards", **params)
    if distance >= baseline:
        partial_credit(0.0, "mistake.ch10.diffusion_train_sample.fitted_gaussian", **params)
    partial_credit((baseline - distance) / (baseline - target), "mistake.ch10.diffusion_train_sample.partly_there", **params)
