"""Chapter 10, the reference side of known mistakes and of the truths the checks compare
against.

Known mistakes: realistic student code for each `mistake.ch10.*` message of the catalogue
that a wrong value shows, registered by its key (`solutions.mistakes.mistake`) at the end
of this module. Each is written as a student would write the exercise function in
`solutions/ch10_generative.py`, and runs in that module's namespace (torch, math and the
chapter's functions such as `gaussian_kl`, as the references define them), so the mutant
suite can grade it as a submission unchanged. Where two could give the same wrong answer,
the one listed first is named (the step mistakes that differ from the reference only at an
edge, `ddpm_step.wraps_at_t0` and `ddim_step.wraps_at_minus_one`, come first, as they did
in the tables they replace). Not registered: the mistakes the checks name from the answer
alone (a float32 schedule, a wrong shape, the schedule's dtype kept by q_sample, a
generator loss flat for rejected fakes, betas that are not monotone) and the losses made
non-finite by probabilities (the stability rule names them, with the `*_causes` below),
nor `ddim_step.zero_is_final`, still a table (`ddim_step_mistake_outputs`): it is right
unless t_prev = 0, which none of the fixed inputs of
`tests/solutions/test_ch10_reference.py` has.

Truths: the VAE and GAN losses through `torch.distributions` and
`F.binary_cross_entropy_with_logits`, the same losses through probabilities (the unstable
forms a non-finite answer is named after), the cosine schedule as improved-diffusion's
loop, q_sample, the DDPM step and the DDIM step as formulas (plus the posterior of
q(x_{t-1} | x_t, x_0) by conditioning a joint Gaussian), reached through `ref`
(`ref.ddpm_step_formula(x_t, 3, eps, betas, z)`), so they run in the grader process and a
student release ships only their recorded outputs, never this code. Arguments and results
are wire data: tensors, numbers, strings, dicts.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence
from torch.distributions.transforms import AffineTransform

from solutions.mistakes import mistake


def _bshape(x: torch.Tensor) -> tuple[int, ...]:
    """(N, 1, ..., 1): a per-sample coefficient that broadcasts over x's other dims."""
    return (-1,) + (1,) * (x.dim() - 1)


# --- VAE -------------------------------------------------------------------------------------


def reparameterize_by_affine_transform(mu, logvar, eps):
    """z = loc + scale * eps: the affine map that turns N(0, 1) draws into N(mu, sigma^2)."""
    return AffineTransform(loc=mu, scale=torch.exp(logvar).sqrt())(eps)


def kl_by_torch_distributions(mu, logvar):
    """(N,): KL(N(mu, exp(logvar)) || N(0, 1)) by torch.distributions, summed over the rest."""
    q = Normal(mu, torch.exp(0.5 * logvar))
    kl = kl_divergence(q, Normal(torch.zeros_like(mu), torch.ones_like(mu)))
    return kl.flatten(start_dim=1).sum(dim=1)


def vae_loss_by_torch(x, logits, mu, logvar):
    """mean_n [sum BCE-with-logits over every non-batch dim + KL_n], through PyTorch."""
    n = x.shape[0]
    nll = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
    return nll + kl_by_torch_distributions(mu, logvar).mean()


def _bce_through(p, target):
    """-(t log p + (1 - t) log(1 - p)) from a probability, in p's dtype (no log-sum-exp)."""
    return -(target * torch.log(p) + (1 - target) * torch.log(1 - p))


def _probabilities(logits) -> dict:
    """sigmoid(l) two ways, in the logits' dtype: rounded to 0 or 1 for large |l| (its log is
    -inf: the log of an underflow) and exp(l) / (1 + exp(l)) (inf / inf = NaN: no max shift)."""
    e = torch.exp(logits)
    return {"mistake.stability.log_of_underflow": torch.sigmoid(logits), "mistake.stability.no_max_shift": e / (1 + e)}


def vae_loss_causes(x, logits, mu, logvar) -> dict:
    """The VAE loss through probabilities, in the inputs' dtype, per stability cause."""
    kl = -0.5 * (1 + logvar - mu**2 - torch.exp(logvar)).sum(-1)
    return {key: (_bce_through(p, x).flatten(1).sum(1) + kl).mean() for key, p in _probabilities(logits).items()}


# --- GAN -------------------------------------------------------------------------------------


def _bce(logits, target: float):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, float(target)))


def discriminator_loss_by_bce(real, fake):
    return _bce(real, 1) + _bce(fake, 0)


def discriminator_loss_causes(real, fake) -> dict:
    """The discriminator loss through probabilities, in the inputs' dtype, per cause."""
    pr, pf = _probabilities(real), _probabilities(fake)
    return {key: -torch.log(pr[key]).mean() - torch.log(1 - pf[key]).mean() for key in pr}


def generator_loss_by_bce(fake):
    return _bce(fake, 1)


def generator_loss_causes(fake) -> dict:
    """-log sigmoid(fake) through a probability, in the input's dtype, per cause."""
    return {key: -torch.log(p).mean() for key, p in _probabilities(fake).items()}


# --- noise schedules -------------------------------------------------------------------------


def cosine_betas_by_loop(T: int, s: float):
    """Nichol and Dhariwal's betas, written as improved-diffusion's `betas_for_alpha_bar`
    loop."""

    def alpha_bar(u: float) -> float:
        c = math.cos((u + s) / (1 + s) * math.pi / 2)
        return c * c

    betas = []
    for i in range(T):
        b = 1 - alpha_bar((i + 1) / T) / alpha_bar(i / T)
        betas.append(min(b, 0.999))
    return torch.tensor(betas, dtype=torch.float64)


# --- the forward process q(x_t | x_0) -------------------------------------------------------


def q_sample_formula(x0, t, noise, abar):
    """sqrt(abar_t) x0 + sqrt(1 - abar_t) noise, abar_t per sample broadcast over x0's other dims."""
    a = abar[t].reshape(_bshape(x0))
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


# --- DDPM ------------------------------------------------------------------------------------


def ddpm_step_formula(x_t, t: int, eps, betas, z):
    """The DDPM step: the mean, plus the posterior standard deviation times z for t >= 1."""
    abar = torch.cumprod(1 - betas, dim=0)
    beta, a = betas[t], abar[t]
    mean = (x_t - beta / (1 - a).sqrt() * eps) / (1 - beta).sqrt()
    if t == 0:
        return mean
    var = (1 - abar[t - 1]) / (1 - a) * beta
    return mean + var.sqrt() * z


def ddpm_true_noise(x_t, eps, betas, t: int) -> tuple:
    """(x0 in float64, x_t in x_t's dtype) with x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps:
    eps is then the true noise. x0 is recomputed in float64 from x_t and eps as the student
    gets them (x_t may have been rounded to float32), so answers built on it are exact."""
    a = torch.cumprod(1 - betas, dim=0)[t].double()
    x_t = (a.sqrt() * x_t.double() + (1 - a).sqrt() * eps.double()).to(x_t.dtype)
    x0 = (x_t.double() - (1 - a).sqrt() * eps.double()) / a.sqrt()
    return x0, x_t


def ddpm_posterior_sample(x_t, x0, t: int, betas, z):
    """mean + sqrt(var) z for q(x_{t-1} | x_t, x_0), t >= 1, by conditioning the joint
    Gaussian of (x_{t-1}, x_t) given x_0 (no DDPM closed form used)."""
    abar = torch.cumprod(1 - betas, dim=0)
    a_prev, alpha = abar[t - 1], 1 - betas[t]
    m1, v1 = a_prev.sqrt() * x0, 1 - a_prev  # x_{t-1} given x0
    m2 = alpha.sqrt() * m1  # x_t = sqrt(alpha) x_{t-1} + sqrt(beta) n
    c12, c22 = alpha.sqrt() * v1, alpha * v1 + betas[t]
    mean, var = m1 + c12 / c22 * (x_t - m2), v1 - c12**2 / c22
    return mean + var.sqrt() * z


# --- DDIM ------------------------------------------------------------------------------------


def ddim_step_formula(x_t, t: int, t_prev: int, eps, abar):
    """The DDIM (eta = 0) step; abar_prev = 1 for t_prev = -1."""
    a_t = abar[t]
    a_prev = abar[t_prev] if t_prev >= 0 else torch.ones((), dtype=abar.dtype)
    x0 = (x_t - (1 - a_t).sqrt() * eps) / a_t.sqrt()
    return a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps


def ddim_step_mistake_outputs(x_t, t: int, t_prev: int, eps, abar) -> dict:
    """The one DDIM mistake left as a table: `if t_prev > 0` instead of `>= 0`, step 0 taken
    for the final one. It differs from the reference only at t_prev = 0, which none of the
    fixed inputs of `tests/solutions/test_ch10_reference.py` has, where every registered
    mistake must differ from the reference."""
    if t_prev != 0:
        return {}
    return {"mistake.ch10.ddim_step.zero_is_final": ddim_step_formula(x_t, t, -1, eps, abar)}


def ddim_true_noise(x_t, eps, abar, t: int, t_prev: int) -> tuple:
    """(x_t, expected): x_t made from a clean sample with the true noise eps, and the DDIM
    step's exact answer for it, q_sample at t_prev with the same noise (x_t's dtype)."""
    a_t = abar[t].double()
    x0 = x_t.double()  # the clean sample
    x_t = (a_t.sqrt() * x0 + (1 - a_t).sqrt() * eps.double()).to(x_t.dtype)
    # x0 again from the inputs as the student gets them (exact for float32 x_t too)
    x0 = (x_t.double() - (1 - a_t).sqrt() * eps.double()) / a_t.sqrt()
    a_prev = abar[t_prev].double() if t_prev >= 0 else torch.ones((), dtype=torch.float64)
    return x_t, (a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps.double()).to(x_t.dtype)


# === known mistakes ==========================================================================
# Student code, one per `mistake.ch10.*` message a wrong value shows, registered by its key.
# Each runs in the namespace of `solutions/ch10_generative.py` (torch, math and the chapter's
# references such as `gaussian_kl`). A loss that is inf or NaN is named by the stability rule
# (`expect_stable`) or `mistake.nonfinite` (`grader.checks.ch10_generative.expect_loss`),
# never after one of these.

# --- reparameterize --------------------------------------------------------------------------


@mistake("ch10.reparameterize.variance_as_std")
def reparameterize(mu, logvar, eps):
    std = torch.exp(logvar)  # the variance, taken for the standard deviation
    return mu + std * eps


@mistake("ch10.reparameterize.logvar_as_std")
def reparameterize(mu, logvar, eps):
    return mu + logvar * eps  # the log-variance itself as the scale


@mistake("ch10.reparameterize.inverse_std")
def reparameterize(mu, logvar, eps):
    std = torch.exp(-0.5 * logvar)  # 1 / sigma
    return mu + std * eps


@mistake("ch10.reparameterize.missing_mu")
def reparameterize(mu, logvar, eps):
    return torch.exp(0.5 * logvar) * eps  # the mean never added


# --- gaussian_kl -----------------------------------------------------------------------------


@mistake("ch10.gaussian_kl.sign_flipped")
def gaussian_kl(mu, logvar):
    per_dim = 1.0 + logvar - mu.pow(2) - torch.exp(logvar)
    return 0.5 * per_dim.flatten(start_dim=1).sum(dim=1)


@mistake("ch10.gaussian_kl.mean_over_latent")
def gaussian_kl(mu, logvar):
    per_dim = 1.0 + logvar - mu.pow(2) - torch.exp(logvar)
    return -0.5 * per_dim.flatten(start_dim=1).mean(dim=1)


@mistake("ch10.gaussian_kl.missing_half")
def gaussian_kl(mu, logvar):
    per_dim = 1.0 + logvar - mu.pow(2) - torch.exp(logvar)
    return -per_dim.flatten(start_dim=1).sum(dim=1)


@mistake("ch10.gaussian_kl.missing_one")
def gaussian_kl(mu, logvar):
    per_dim = logvar - mu.pow(2) - torch.exp(logvar)  # the constant 1 dropped
    return -0.5 * per_dim.flatten(start_dim=1).sum(dim=1)


# --- vae_loss --------------------------------------------------------------------------------


@mistake("ch10.vae_loss.mean_over_pixels")
def vae_loss(x, recon_logits, mu, logvar):
    bce = torch.nn.functional.binary_cross_entropy_with_logits(recon_logits, x)  # a mean over every pixel
    return bce + gaussian_kl(mu, logvar).mean()


@mistake("ch10.vae_loss.forgot_kl")
def vae_loss(x, recon_logits, mu, logvar):
    bce = torch.nn.functional.binary_cross_entropy_with_logits(recon_logits, x, reduction="none")
    return bce.flatten(start_dim=1).sum(dim=1).mean()


@mistake("ch10.vae_loss.sum_over_batch")
def vae_loss(x, recon_logits, mu, logvar):
    bce = torch.nn.functional.binary_cross_entropy_with_logits(recon_logits, x, reduction="none")
    return (bce.flatten(start_dim=1).sum(dim=1) + gaussian_kl(mu, logvar)).sum()


@mistake("ch10.vae_loss.targets_swapped")
def vae_loss(x, recon_logits, mu, logvar):
    bce = torch.nn.functional.binary_cross_entropy_with_logits(x, recon_logits, reduction="none")  # (input, target) swapped
    return (bce.flatten(start_dim=1).sum(dim=1) + gaussian_kl(mu, logvar)).mean()


@mistake("ch10.vae_loss.last_dim_only")
def vae_loss(x, recon_logits, mu, logvar):
    # sums the reconstruction term over the last dim only, then a mean over the rest
    bce = torch.nn.functional.binary_cross_entropy_with_logits(recon_logits, x, reduction="none")
    return bce.sum(dim=-1).mean() + gaussian_kl(mu, logvar).mean()


@mistake("ch10.vae_loss.kl_averaged")
def vae_loss(x, recon_logits, mu, logvar):
    bce = torch.nn.functional.binary_cross_entropy_with_logits(recon_logits, x, reduction="none")
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).mean(dim=1)  # a mean over the latent dim
    return (bce.flatten(start_dim=1).sum(dim=1) + kl).mean()


@mistake("ch10.vae_loss.kl_subtracted")
def vae_loss(x, recon_logits, mu, logvar):
    bce = torch.nn.functional.binary_cross_entropy_with_logits(recon_logits, x, reduction="none")
    return (bce.flatten(start_dim=1).sum(dim=1) - gaussian_kl(mu, logvar)).mean()


# --- gan_discriminator_loss ------------------------------------------------------------------


@mistake("ch10.gan_discriminator_loss.labels_swapped")
def gan_discriminator_loss(real_logits, fake_logits):
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    return bce(real_logits, torch.zeros_like(real_logits)) + bce(fake_logits, torch.ones_like(fake_logits))


@mistake("ch10.gan_discriminator_loss.averaged_halves")
def gan_discriminator_loss(real_logits, fake_logits):
    softplus = torch.nn.functional.softplus
    return 0.5 * (softplus(-real_logits).mean() + softplus(fake_logits).mean())


@mistake("ch10.gan_discriminator_loss.single_mean")
def gan_discriminator_loss(real_logits, fake_logits):
    # one BCE over the real and fake logits together
    logits = torch.cat([real_logits.flatten(), fake_logits.flatten()])
    labels = torch.cat([torch.ones(real_logits.numel()), torch.zeros(fake_logits.numel())]).to(logits)
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)


# --- gan_generator_loss ----------------------------------------------------------------------


@mistake("ch10.gan_generator_loss.saturating")
def gan_generator_loss(fake_logits):
    # minimises log(1 - D(G(z))) = -softplus(fake): the original minimax loss
    return -torch.nn.functional.softplus(fake_logits).mean()


@mistake("ch10.gan_generator_loss.wrong_target")
def gan_generator_loss(fake_logits):
    # BCE(fake, 0): the discriminator's term for the fakes
    return torch.nn.functional.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


@mistake("ch10.gan_generator_loss.sum_not_mean")
def gan_generator_loss(fake_logits):
    return torch.nn.functional.softplus(-fake_logits).sum()


# --- linear_beta_schedule --------------------------------------------------------------------


@mistake("ch10.linear_beta_schedule.end_excluded")
def linear_beta_schedule(T, beta_start=1e-4, beta_end=0.02):
    t = torch.arange(T, dtype=torch.float64)
    return beta_start + (beta_end - beta_start) * t / T


@mistake("ch10.linear_beta_schedule.divides_by_T_minus_1")
def linear_beta_schedule(T, beta_start=1e-4, beta_end=0.02):
    # right for T > 1; 0 / 0 = nan for T = 1 (the NaN is the mistake its message names)
    t = torch.arange(T, dtype=torch.float64)
    return beta_start + (beta_end - beta_start) * t / (T - 1)


# --- cosine_beta_schedule --------------------------------------------------------------------


@mistake("ch10.cosine_beta_schedule.no_clip")
def cosine_beta_schedule(T, s=0.008):
    t = torch.arange(T + 1, dtype=torch.float64)
    f = torch.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
    return 1 - f[1:] / f[:-1]


@mistake("ch10.cosine_beta_schedule.cos_not_squared")
def cosine_beta_schedule(T, s=0.008):
    t = torch.arange(T + 1, dtype=torch.float64)
    f = torch.cos((t / T + s) / (1 + s) * math.pi / 2)
    return torch.clamp(1 - f[1:] / f[:-1], max=0.999)


@mistake("ch10.cosine_beta_schedule.offset_ignored")
def cosine_beta_schedule(T, s=0.008):
    t = torch.arange(T + 1, dtype=torch.float64)
    f = torch.cos(t / T * math.pi / 2) ** 2
    return torch.clamp(1 - f[1:] / f[:-1], max=0.999)


@mistake("ch10.cosine_beta_schedule.abar_not_ratio")
def cosine_beta_schedule(T, s=0.008):
    # beta_t = 1 - alpha_bar(t) instead of 1 - alpha_bar(t) / alpha_bar(t - 1)
    t = torch.arange(T + 1, dtype=torch.float64)
    f = torch.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
    return torch.clamp(1 - f[1:] / f[0], max=0.999)


# --- q_sample --------------------------------------------------------------------------------


@mistake("ch10.q_sample.no_sqrt")
def q_sample(x0, t, noise, alphas_cumprod):
    a = alphas_cumprod[t].to(x0.dtype).reshape(-1, *([1] * (x0.dim() - 1)))
    return a * x0 + (1 - a) * noise


@mistake("ch10.q_sample.one_based_index")
def q_sample(x0, t, noise, alphas_cumprod):
    a = alphas_cumprod[t - 1].to(x0.dtype).reshape(-1, *([1] * (x0.dim() - 1)))
    return torch.sqrt(a) * x0 + torch.sqrt(1 - a) * noise


@mistake("ch10.q_sample.swapped_coefficients")
def q_sample(x0, t, noise, alphas_cumprod):
    a = alphas_cumprod[t].to(x0.dtype).reshape(-1, *([1] * (x0.dim() - 1)))
    return torch.sqrt(1 - a) * x0 + torch.sqrt(a) * noise


@mistake("ch10.q_sample.two_dims_only")
def q_sample(x0, t, noise, alphas_cumprod):
    # (N, 1) coefficients: right for 2-D x0, a wrong broadcast (or an error) otherwise
    a = alphas_cumprod[t].to(x0.dtype)[:, None]
    return torch.sqrt(a) * x0 + torch.sqrt(1 - a) * noise


# --- ddpm_step -------------------------------------------------------------------------------


@mistake("ch10.ddpm_step.wraps_at_t0")
def ddpm_step(x_t, t, eps_pred, betas, z):
    # alphas_cumprod[t - 1] at t = 0 is the LAST entry, and noise is added at t = 0
    alphas_cumprod = torch.cumprod(1 - betas, dim=0)
    beta_t, abar_t = betas[t].item(), alphas_cumprod[t].item()
    abar_prev = alphas_cumprod[t - 1].item()
    mean = (x_t - beta_t / math.sqrt(1 - abar_t) * eps_pred) / math.sqrt(1 - beta_t)
    var = (1 - abar_prev) / (1 - abar_t) * beta_t
    return mean + math.sqrt(var) * z


@mistake("ch10.ddpm_step.beta_variance")
def ddpm_step(x_t, t, eps_pred, betas, z):
    alphas_cumprod = torch.cumprod(1 - betas, dim=0)
    beta_t, abar_t = betas[t].item(), alphas_cumprod[t].item()
    mean = (x_t - beta_t / math.sqrt(1 - abar_t) * eps_pred) / math.sqrt(1 - beta_t)
    if t == 0:
        return mean
    return mean + math.sqrt(beta_t) * z


@mistake("ch10.ddpm_step.alpha_not_cumprod")
def ddpm_step(x_t, t, eps_pred, betas, z):
    alphas_cumprod = torch.cumprod(1 - betas, dim=0)
    beta_t, abar_t = betas[t].item(), alphas_cumprod[t].item()
    alpha_t = 1 - beta_t
    mean = (x_t - beta_t / math.sqrt(1 - alpha_t) * eps_pred) / math.sqrt(alpha_t)
    if t == 0:
        return mean
    abar_prev = alphas_cumprod[t - 1].item()
    return mean + math.sqrt((1 - abar_prev) / (1 - abar_t) * beta_t) * z


@mistake("ch10.ddpm_step.no_division_by_sqrt_alpha")
def ddpm_step(x_t, t, eps_pred, betas, z):
    alphas_cumprod = torch.cumprod(1 - betas, dim=0)
    beta_t, abar_t = betas[t].item(), alphas_cumprod[t].item()
    mean = x_t - beta_t / math.sqrt(1 - abar_t) * eps_pred
    if t == 0:
        return mean
    abar_prev = alphas_cumprod[t - 1].item()
    return mean + math.sqrt((1 - abar_prev) / (1 - abar_t) * beta_t) * z


@mistake("ch10.ddpm_step.no_noise")
def ddpm_step(x_t, t, eps_pred, betas, z):
    # returns the mean at every step: the sampler never adds fresh noise
    alphas_cumprod = torch.cumprod(1 - betas, dim=0)
    beta_t, abar_t = betas[t].item(), alphas_cumprod[t].item()
    return (x_t - beta_t / math.sqrt(1 - abar_t) * eps_pred) / math.sqrt(1 - beta_t)


@mistake("ch10.ddpm_step.variance_as_std")
def ddpm_step(x_t, t, eps_pred, betas, z):
    alphas_cumprod = torch.cumprod(1 - betas, dim=0)
    beta_t, abar_t = betas[t].item(), alphas_cumprod[t].item()
    mean = (x_t - beta_t / math.sqrt(1 - abar_t) * eps_pred) / math.sqrt(1 - beta_t)
    if t == 0:
        return mean
    abar_prev = alphas_cumprod[t - 1].item()
    return mean + (1 - abar_prev) / (1 - abar_t) * beta_t * z


# --- ddim_step -------------------------------------------------------------------------------


@mistake("ch10.ddim_step.wraps_at_minus_one")
def ddim_step(x_t, t, t_prev, eps_pred, alphas_cumprod):
    # alphas_cumprod[-1] is the LAST entry, not "abar = 1"
    a_t, a_prev = alphas_cumprod[t].item(), alphas_cumprod[t_prev].item()
    x0 = (x_t - math.sqrt(1 - a_t) * eps_pred) / math.sqrt(a_t)
    return math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * eps_pred


@mistake("ch10.ddim_step.x0_not_rescaled")
def ddim_step(x_t, t, t_prev, eps_pred, alphas_cumprod):
    a_t = alphas_cumprod[t].item()
    a_prev = alphas_cumprod[t_prev].item() if t_prev >= 0 else 1.0
    x0 = x_t - math.sqrt(1 - a_t) * eps_pred
    return math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * eps_pred


@mistake("ch10.ddim_step.direction_without_sqrt")
def ddim_step(x_t, t, t_prev, eps_pred, alphas_cumprod):
    a_t = alphas_cumprod[t].item()
    a_prev = alphas_cumprod[t_prev].item() if t_prev >= 0 else 1.0
    x0 = (x_t - math.sqrt(1 - a_t) * eps_pred) / math.sqrt(a_t)
    return math.sqrt(a_prev) * x0 + (1 - a_prev) * eps_pred


@mistake("ch10.ddim_step.clips_x0")
def ddim_step(x_t, t, t_prev, eps_pred, alphas_cumprod):
    # clips the predicted x0 to [-1, 1], as image samplers often do
    a_t = alphas_cumprod[t].item()
    a_prev = alphas_cumprod[t_prev].item() if t_prev >= 0 else 1.0
    x0 = ((x_t - math.sqrt(1 - a_t) * eps_pred) / math.sqrt(a_t)).clamp(-1, 1)
    return math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * eps_pred


@mistake("ch10.ddim_step.direction_uses_abar_t")
def ddim_step(x_t, t, t_prev, eps_pred, alphas_cumprod):
    a_t = alphas_cumprod[t].item()
    a_prev = alphas_cumprod[t_prev].item() if t_prev >= 0 else 1.0
    x0 = (x_t - math.sqrt(1 - a_t) * eps_pred) / math.sqrt(a_t)
    return math.sqrt(a_prev) * x0 + math.sqrt(1 - a_t) * eps_pred  # the noise level of t, not t_prev
