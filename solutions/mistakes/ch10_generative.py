"""Chapter 10, the reference side of known mistakes and of the truths the checks compare
against: the VAE and GAN losses through `torch.distributions` and
`F.binary_cross_entropy_with_logits`, the same losses through probabilities (the unstable
forms a non-finite answer is named after), the cosine schedule as improved-diffusion's
loop, and q_sample, the DDPM step and the DDIM step written with switches for the usual
mistakes (plus the posterior of q(x_{t-1} | x_t, x_0) by conditioning a joint Gaussian).

Reached through `ref` (`ref.ddpm_step_formula(x_t, 3, eps, betas, z, variance="beta")`),
so it runs in the grader process and a student release ships only its recorded outputs,
never this code. Arguments and results are wire data: tensors, numbers, strings, dicts.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence
from torch.distributions.transforms import AffineTransform


def _bshape(x: torch.Tensor) -> tuple[int, ...]:
    """(N, 1, ..., 1): a per-sample coefficient that broadcasts over x's other dims."""
    return (-1,) + (1,) * (x.dim() - 1)


# --- VAE -------------------------------------------------------------------------------------


def reparameterize_by_affine_transform(mu, logvar, eps):
    """z = loc + scale * eps: the affine map that turns N(0, 1) draws into N(mu, sigma^2)."""
    return AffineTransform(loc=mu, scale=torch.exp(logvar).sqrt())(eps)


def reparameterize_mistake_outputs(mu, logvar, eps) -> dict:
    return {
        "mistake.ch10.reparameterize.variance_as_std": mu + torch.exp(logvar) * eps,
        "mistake.ch10.reparameterize.logvar_as_std": mu + logvar * eps,
        "mistake.ch10.reparameterize.inverse_std": mu + torch.exp(-0.5 * logvar) * eps,
        "mistake.ch10.reparameterize.missing_mu": torch.exp(0.5 * logvar) * eps,
    }


def kl_by_torch_distributions(mu, logvar):
    """(N,): KL(N(mu, exp(logvar)) || N(0, 1)) by torch.distributions, summed over the rest."""
    q = Normal(mu, torch.exp(0.5 * logvar))
    kl = kl_divergence(q, Normal(torch.zeros_like(mu), torch.ones_like(mu)))
    return kl.flatten(start_dim=1).sum(dim=1)


def kl_mistake_outputs(mu, logvar) -> dict:
    per_dim = (1 + logvar - mu**2 - torch.exp(logvar)).flatten(start_dim=1)
    return {
        "mistake.ch10.gaussian_kl.sign_flipped": 0.5 * per_dim.sum(-1),
        "mistake.ch10.gaussian_kl.mean_over_latent": -0.5 * per_dim.mean(-1),
        "mistake.ch10.gaussian_kl.missing_half": -per_dim.sum(-1),
        "mistake.ch10.gaussian_kl.missing_one": -0.5 * (per_dim - 1).sum(-1),
    }


def vae_loss_by_torch(x, logits, mu, logvar):
    """mean_n [sum BCE-with-logits over every non-batch dim + KL_n], through PyTorch."""
    n = x.shape[0]
    nll = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
    return nll + kl_by_torch_distributions(mu, logvar).mean()


def vae_loss_mistake_outputs(x, logits, mu, logvar) -> dict:
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")  # (N, ...)
    per_dim_kl = -0.5 * (1 + logvar - mu**2 - torch.exp(logvar))  # (N, L)
    kl = per_dim_kl.sum(-1)
    nll = bce.flatten(1).sum(1)  # (N,)
    out = {
        "mistake.ch10.vae_loss.mean_over_pixels": bce.mean() + kl.mean(),
        "mistake.ch10.vae_loss.forgot_kl": nll.mean(),
        "mistake.ch10.vae_loss.sum_over_batch": (nll + kl).sum(),
        "mistake.ch10.vae_loss.targets_swapped": (F.softplus(x) - x * logits).flatten(1).sum(1).mean() + kl.mean(),
        "mistake.ch10.vae_loss.kl_averaged": nll.mean() + per_dim_kl.mean(-1).mean(),
        "mistake.ch10.vae_loss.kl_subtracted": nll.mean() - kl.mean(),
    }
    if x.dim() > 2:
        out["mistake.ch10.vae_loss.last_dim_only"] = bce.sum(-1).mean() + kl.mean()
    return out


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


def discriminator_mistake_outputs(real, fake) -> dict:
    expected = _bce(real, 1) + _bce(fake, 0)
    return {
        "mistake.ch10.gan_discriminator_loss.labels_swapped": _bce(real, 0) + _bce(fake, 1),
        "mistake.ch10.gan_discriminator_loss.averaged_halves": 0.5 * expected,
        "mistake.ch10.gan_discriminator_loss.single_mean": (F.softplus(-real).sum() + F.softplus(fake).sum()) / (real.numel() + fake.numel()),
    }


def discriminator_loss_causes(real, fake) -> dict:
    """The discriminator loss through probabilities, in the inputs' dtype, per cause."""
    pr, pf = _probabilities(real), _probabilities(fake)
    return {key: -torch.log(pr[key]).mean() - torch.log(1 - pf[key]).mean() for key in pr}


def generator_loss_by_bce(fake):
    return _bce(fake, 1)


def generator_mistake_outputs(fake) -> dict:
    return {
        "mistake.ch10.gan_generator_loss.saturating": -F.softplus(fake).mean(),
        "mistake.ch10.gan_generator_loss.wrong_target": F.softplus(fake).mean(),
        "mistake.ch10.gan_generator_loss.sum_not_mean": F.softplus(-fake).sum(),
    }


def generator_loss_causes(fake) -> dict:
    """-log sigmoid(fake) through a probability, in the input's dtype, per cause."""
    return {key: -torch.log(p).mean() for key, p in _probabilities(fake).items()}


# --- noise schedules -------------------------------------------------------------------------


def linear_schedule_mistake_outputs(T: int, start: float, end: float) -> dict:
    t = torch.arange(T, dtype=torch.float64)
    # dividing by T - 1 gives 0 / 0 = nan for T = 1
    by_T_minus_1 = start + (end - start) * t / (T - 1) if T > 1 else torch.full((1,), math.nan, dtype=torch.float64)
    return {
        "mistake.ch10.linear_beta_schedule.end_excluded": start + (end - start) * t / T,
        "mistake.ch10.linear_beta_schedule.divides_by_T_minus_1": by_T_minus_1,
    }


def cosine_betas_by_loop(T: int, s: float, squared: bool = True, offset: bool = True, ratio: bool = True, clip: bool = True):
    """Nichol and Dhariwal's betas, written as improved-diffusion's `betas_for_alpha_bar`
    loop; the switches give the usual mistakes."""
    s_used = s if offset else 0.0

    def alpha_bar(u: float) -> float:
        c = math.cos((u + s_used) / (1 + s_used) * math.pi / 2)
        return c * c if squared else c

    betas = []
    for i in range(T):
        b = 1 - alpha_bar((i + 1) / T) / (alpha_bar(i / T) if ratio else alpha_bar(0.0))
        betas.append(min(b, 0.999) if clip else b)
    return torch.tensor(betas, dtype=torch.float64)


def cosine_schedule_mistake_outputs(T: int, s: float) -> dict:
    return {
        "mistake.ch10.cosine_beta_schedule.no_clip": cosine_betas_by_loop(T, s, clip=False),
        "mistake.ch10.cosine_beta_schedule.cos_not_squared": cosine_betas_by_loop(T, s, squared=False),
        "mistake.ch10.cosine_beta_schedule.offset_ignored": cosine_betas_by_loop(T, s, offset=False),
        "mistake.ch10.cosine_beta_schedule.abar_not_ratio": cosine_betas_by_loop(T, s, ratio=False),
    }


# --- the forward process q(x_t | x_0) -------------------------------------------------------


def q_sample_formula(x0, t, noise, abar, sqrt: bool = True, shift: int = 0, swap: bool = False):
    a = abar[t - shift].reshape(_bshape(x0))
    signal, sigma = (a.sqrt(), (1 - a).sqrt()) if sqrt else (a, 1 - a)
    if swap:
        signal, sigma = sigma, signal
    return signal * x0 + sigma * noise


def q_sample_mistake_outputs(x0, t, noise, abar) -> dict:
    out = {
        "mistake.ch10.q_sample.no_sqrt": q_sample_formula(x0, t, noise, abar, sqrt=False),
        "mistake.ch10.q_sample.one_based_index": q_sample_formula(x0, t, noise, abar, shift=1),
        "mistake.ch10.q_sample.swapped_coefficients": q_sample_formula(x0, t, noise, abar, swap=True),
    }
    try:  # a coefficient of shape (N, 1) broadcasts by luck for some shapes
        a = abar[t][:, None]
        two_dims = a.sqrt() * x0 + (1 - a).sqrt() * noise
        if two_dims.shape == x0.shape:
            out["mistake.ch10.q_sample.two_dims_only"] = two_dims
    except RuntimeError:
        pass
    return out


# --- DDPM ------------------------------------------------------------------------------------


def ddpm_step_formula(x_t, t: int, eps, betas, z, variance: str = "posterior", cumprod_coef: bool = True, rescale: bool = True, wrap: bool = False):
    """The DDPM step; the switches give the usual mistakes."""
    abar = torch.cumprod(1 - betas, dim=0)
    beta, a = betas[t], abar[t]
    coef = beta / (1 - a).sqrt() if cumprod_coef else beta / beta.sqrt()
    mean = x_t - coef * eps
    if rescale:
        mean = mean / (1 - beta).sqrt()
    if t == 0 and not wrap:
        return mean
    a_prev = abar[t - 1]  # the last entry when t = 0 and wrap
    var = (1 - a_prev) / (1 - a) * beta
    if variance == "posterior":
        return mean + var.sqrt() * z
    if variance == "beta":
        return mean + beta.sqrt() * z
    if variance == "var_as_std":
        return mean + var * z
    return mean  # "none"


def ddpm_step_mistake_outputs(x_t, t: int, eps, betas, z) -> dict:
    out = {
        "mistake.ch10.ddpm_step.beta_variance": ddpm_step_formula(x_t, t, eps, betas, z, variance="beta"),
        "mistake.ch10.ddpm_step.alpha_not_cumprod": ddpm_step_formula(x_t, t, eps, betas, z, cumprod_coef=False),
        "mistake.ch10.ddpm_step.no_division_by_sqrt_alpha": ddpm_step_formula(x_t, t, eps, betas, z, rescale=False),
        "mistake.ch10.ddpm_step.no_noise": ddpm_step_formula(x_t, t, eps, betas, z, variance="none"),
        "mistake.ch10.ddpm_step.variance_as_std": ddpm_step_formula(x_t, t, eps, betas, z, variance="var_as_std"),
    }
    if t == 0:
        out = {"mistake.ch10.ddpm_step.wraps_at_t0": ddpm_step_formula(x_t, t, eps, betas, z, wrap=True)} | out
    return out


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


def ddim_step_formula(x_t, t: int, t_prev: int, eps, abar, wrap: bool = False, rescale: bool = True, sqrt_dir: bool = True, clip: bool = False, noise_level_of_t: bool = False):
    """The DDIM (eta = 0) step; the switches give the usual mistakes."""
    a_t = abar[t]
    a_prev = abar[t_prev] if (t_prev >= 0 or wrap) else torch.ones((), dtype=abar.dtype)
    x0 = x_t - (1 - a_t).sqrt() * eps
    if rescale:
        x0 = x0 / a_t.sqrt()
    if clip:
        x0 = x0.clamp(-1.0, 1.0)
    direction = 1 - (a_t if noise_level_of_t else a_prev)
    return a_prev.sqrt() * x0 + (direction.sqrt() if sqrt_dir else direction) * eps


def ddim_step_mistake_outputs(x_t, t: int, t_prev: int, eps, abar) -> dict:
    out = {
        "mistake.ch10.ddim_step.x0_not_rescaled": ddim_step_formula(x_t, t, t_prev, eps, abar, rescale=False),
        "mistake.ch10.ddim_step.direction_without_sqrt": ddim_step_formula(x_t, t, t_prev, eps, abar, sqrt_dir=False),
        "mistake.ch10.ddim_step.clips_x0": ddim_step_formula(x_t, t, t_prev, eps, abar, clip=True),
        "mistake.ch10.ddim_step.direction_uses_abar_t": ddim_step_formula(x_t, t, t_prev, eps, abar, noise_level_of_t=True),
    }
    if t_prev == -1:
        out = {"mistake.ch10.ddim_step.wraps_at_minus_one": ddim_step_formula(x_t, t, t_prev, eps, abar, wrap=True)} | out
    if t_prev == 0:  # `if t_prev > 0` instead of `>= 0`: step 0 taken for the final one
        out = {"mistake.ch10.ddim_step.zero_is_final": ddim_step_formula(x_t, t, -1, eps, abar)} | out
    return out


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
