"""Mutants and variants of chapter 10 (generative models): see `tests/mutants/__init__.py`.

Each function is graded appended to `solutions/ch10_generative.py`, so it may use
torch, math, nn and that module's names (`gaussian_kl`, `q_sample`, `ddpm_step`,
`cosine_beta_schedule`, `_Denoiser`, ...); they are imported here only so that the
functions can also be called directly.
"""

from __future__ import annotations

import math

import torch

from solutions.ch10_generative import (
    _Denoiser,
    cosine_beta_schedule,
    ddim_step,
    ddpm_step,
    gaussian_kl,
    q_sample,
)
from tests.mutants import mutant, variant

# --- ch10.reparameterize --------------------------------------------------------------


@variant("ch10.reparameterize")
def reparameterize__sqrt_of_variance(mu, logvar, eps):
    return torch.addcmul(mu, torch.sqrt(torch.exp(logvar)), eps)


# --- ch10.gaussian_kl -----------------------------------------------------------------


@mutant("ch10.gaussian_kl", expect=r"one KL per example|shape")
def gaussian_kl__last_dim_only(mu, logvar):
    # Right for (N, L) latents; an image latent (N, C, H, W) gives (N, C, H), not (N,).
    return -0.5 * (1 + logvar - mu.pow(2) - torch.exp(logvar)).sum(dim=-1)


@variant("ch10.gaussian_kl")
def gaussian_kl__loop_over_latent(mu, logvar):
    # 0.5 * (sigma^2 + mu^2 - 1 - log sigma^2), one latent coordinate at a time.
    mu, logvar = mu.reshape(mu.shape[0], -1), logvar.reshape(logvar.shape[0], -1)
    kl = torch.zeros(mu.shape[0], dtype=mu.dtype, device=mu.device)
    for j in range(mu.shape[1]):
        var = torch.exp(logvar[:, j])
        kl = kl + 0.5 * (var + mu[:, j] ** 2 - 1.0 - logvar[:, j])
    return kl


@variant("ch10.gaussian_kl")
def gaussian_kl__torch_distributions(mu, logvar):
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    return torch.distributions.kl_divergence(q, p).flatten(start_dim=1).sum(dim=1)


# --- ch10.vae_loss --------------------------------------------------------------------


@mutant("ch10.vae_loss", expect=r"log of a probability that underflowed")
def vae_loss__log_of_sigmoid(x, recon_logits, mu, logvar):
    p = torch.sigmoid(recon_logits)
    bce = -(x * torch.log(p) + (1 - x) * torch.log(1 - p))
    return (bce.flatten(1).sum(1) + gaussian_kl(mu, logvar)).mean()


@mutant("ch10.vae_loss", expect=r"(NaN|infinite) in float(32|64) where the true value is finite")
def vae_loss__sigmoid_as_exp_ratio(x, recon_logits, mu, logvar):
    # p = e^l / (1 + e^l): exp overflows for large logits, inf / inf = NaN.
    e = torch.exp(recon_logits)
    p = e / (1 + e)
    bce = -(x * torch.log(p) + (1 - x) * torch.log(1 - p))
    return (bce.flatten(1).sum(1) + gaussian_kl(mu, logvar)).mean()


@variant("ch10.vae_loss")
def vae_loss__softplus_form(x, recon_logits, mu, logvar):
    nll = torch.nn.functional.softplus(recon_logits) - x * recon_logits
    kl = 0.5 * (torch.exp(logvar) + mu**2 - 1.0 - logvar).sum(dim=1)
    return nll.sum() / x.shape[0] + kl.mean()


@variant("ch10.vae_loss")
def vae_loss__logsigmoid(x, recon_logits, mu, logvar):
    # -[x log sigmoid(l) + (1 - x) log sigmoid(-l)], each log-sigmoid computed stably.
    logsig = torch.nn.functional.logsigmoid
    nll = -(x * logsig(recon_logits) + (1 - x) * logsig(-recon_logits))
    return nll.reshape(x.shape[0], -1).sum(dim=1).mean() + gaussian_kl(mu, logvar).mean()


# --- ch10.gan_discriminator_loss ------------------------------------------------------


@mutant("ch10.gan_discriminator_loss", expect=r"log of a probability that underflowed")
def gan_discriminator_loss__log_of_sigmoid(real_logits, fake_logits):
    real = -torch.log(torch.sigmoid(real_logits)).mean()
    fake = -torch.log(1 - torch.sigmoid(fake_logits)).mean()
    return real + fake


@mutant("ch10.gan_discriminator_loss", expect=r"handles logits of shape \(N,\) and \(N, 1\): the docstring allows logits of any shape")
def gan_discriminator_loss__divides_by_batch_size(real_logits, fake_logits):
    # "averaged over the batch": each group's BCE summed and divided by its batch size N,
    # right for one logit per sample, K times too large for K logits per sample
    softplus = torch.nn.functional.softplus
    return softplus(-real_logits).sum() / real_logits.shape[0] + softplus(fake_logits).sum() / fake_logits.shape[0]


@variant("ch10.gan_discriminator_loss")
def gan_discriminator_loss__softplus(real_logits, fake_logits):
    softplus = torch.nn.functional.softplus
    return softplus(-real_logits).mean() + softplus(fake_logits).mean()


@variant("ch10.gan_discriminator_loss")
def gan_discriminator_loss__bce_with_logits(real_logits, fake_logits):
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    return bce(real_logits, torch.ones_like(real_logits)) + bce(
        fake_logits, torch.zeros_like(fake_logits)
    )


# --- ch10.gan_generator_loss ----------------------------------------------------------


@mutant("ch10.gan_generator_loss", expect=r"log of a probability that underflowed")
def gan_generator_loss__log_of_sigmoid(fake_logits):
    return -torch.log(torch.sigmoid(fake_logits)).mean()


@mutant("ch10.gan_generator_loss", expect=r"(NaN|infinite) in float(32|64) where the true value is finite")
def gan_generator_loss__sigmoid_as_exp_ratio(fake_logits):
    # -log(e^l / (1 + e^l)): exp overflows for confident fakes, inf / inf = NaN.
    e = torch.exp(fake_logits)
    return -torch.log(e / (1 + e)).mean()


@mutant("ch10.gan_generator_loss", expect=r"handles logits of shape \(N,\) and \(N, 1\): the docstring allows logits of any shape")
def gan_generator_loss__summed_per_sample(fake_logits):
    # the VAE's reduction: a sum over each sample's logits, then the mean over the batch
    per_sample = torch.nn.functional.softplus(-fake_logits).reshape(fake_logits.shape[0], -1).sum(dim=1)
    return per_sample.mean()


@variant("ch10.gan_generator_loss")
def gan_generator_loss__bce_with_logits(fake_logits):
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    return bce(fake_logits, torch.ones_like(fake_logits))


@variant("ch10.gan_generator_loss")
def gan_generator_loss__logaddexp(fake_logits):
    # softplus(-l) = log(exp(0) + exp(-l))
    return torch.logaddexp(torch.zeros_like(fake_logits), -fake_logits).mean()


# --- ch10.linear_beta_schedule --------------------------------------------------------


@mutant("ch10.linear_beta_schedule", expect=r"dtype|float64|float32|double")
def linear_beta_schedule__float32(T, beta_start=1e-4, beta_end=0.02):
    return torch.linspace(beta_start, beta_end, T)


@variant("ch10.linear_beta_schedule")
def linear_beta_schedule__python_loop(T, beta_start=1e-4, beta_end=0.02):
    if T == 1:
        return torch.tensor([beta_start], dtype=torch.float64)
    step = (beta_end - beta_start) / (T - 1)
    betas = [beta_start + i * step for i in range(T)]
    betas[-1] = beta_end
    return torch.tensor(betas, dtype=torch.float64)


# --- ch10.cosine_beta_schedule --------------------------------------------------------


@variant("ch10.cosine_beta_schedule")
def cosine_beta_schedule__improved_ddpm_loop(T, s=0.008):
    # The loop of improved-diffusion's `betas_for_alpha_bar`.
    def alpha_bar(u):
        return math.cos((u + s) / (1 + s) * math.pi / 2) ** 2

    betas = [min(1 - alpha_bar((i + 1) / T) / alpha_bar(i / T), 0.999) for i in range(T)]
    return torch.tensor(betas, dtype=torch.float64)


# --- ch10.q_sample --------------------------------------------------------------------


@mutant("ch10.q_sample", expect=r"dtype|float32|float64")
def q_sample__keeps_schedule_dtype(x0, t, noise, alphas_cumprod):
    a = alphas_cumprod[t].reshape(-1, *([1] * (x0.dim() - 1)))
    return torch.sqrt(a) * x0 + torch.sqrt(1 - a) * noise


@variant("ch10.q_sample")
def q_sample__einsum(x0, t, noise, alphas_cumprod):
    a = alphas_cumprod[t].to(x0.dtype)  # (N,)
    signal = torch.einsum("n,n...->n...", torch.sqrt(a), x0)
    return signal + torch.einsum("n,n...->n...", torch.sqrt(1 - a), noise)


@variant("ch10.q_sample")
def q_sample__float32_gather(x0, t, noise, alphas_cumprod):
    # Casts the whole schedule to x0's dtype first, then gathers and views.
    a = alphas_cumprod.to(x0.dtype)[t].view(x0.shape[0], *([1] * (x0.dim() - 1)))
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


# --- ch10.ddpm_step -------------------------------------------------------------------


@variant("ch10.ddpm_step")
def ddpm_step__posterior_of_x0_pred(x_t, t, eps_pred, betas, z):
    # Predict x0, then take the mean of q(x_{t-1} | x_t, x0): the same mean, rewritten.
    alphas = 1 - betas
    abar = torch.cumprod(alphas, dim=0)
    abar_t = abar[t].item()
    abar_prev = abar[t - 1].item() if t > 0 else 1.0
    beta_t, alpha_t = betas[t].item(), alphas[t].item()
    x0 = (x_t - math.sqrt(1 - abar_t) * eps_pred) / math.sqrt(abar_t)
    c0 = math.sqrt(abar_prev) * beta_t / (1 - abar_t)
    ct = math.sqrt(alpha_t) * (1 - abar_prev) / (1 - abar_t)
    mean = c0 * x0 + ct * x_t
    if t == 0:
        return mean
    return mean + math.sqrt((1 - abar_prev) / (1 - abar_t) * beta_t) * z


@variant("ch10.ddpm_step")
def ddpm_step__schedule_in_x_dtype(x_t, t, eps_pred, betas, z):
    # Everything in x_t's dtype (float32 for float32 inputs), cumprod included.
    b = betas.to(dtype=x_t.dtype, device=x_t.device)
    alphas = 1 - b
    abar = torch.cumprod(alphas, dim=0)
    mean = (x_t - b[t] / torch.sqrt(1 - abar[t]) * eps_pred) / torch.sqrt(alphas[t])
    if t == 0:
        return mean
    sigma = torch.sqrt((1 - abar[t - 1]) / (1 - abar[t]) * b[t])
    return mean + sigma * z


# --- ch10.ddim_step -------------------------------------------------------------------


@variant("ch10.ddim_step")
def ddim_step__ratio_form(x_t, t, t_prev, eps_pred, alphas_cumprod):
    # x_prev = sqrt(a_prev / a_t) x_t + (sqrt(1 - a_prev) - sqrt(a_prev (1 - a_t) / a_t)) eps
    a_t = alphas_cumprod[t].item()
    a_prev = alphas_cumprod[t_prev].item() if t_prev >= 0 else 1.0
    c_x = math.sqrt(a_prev / a_t)
    c_eps = math.sqrt(1 - a_prev) - math.sqrt(a_prev * (1 - a_t) / a_t)
    return c_x * x_t + c_eps * eps_pred


@variant("ch10.ddim_step")
def ddim_step__schedule_in_x_dtype(x_t, t, t_prev, eps_pred, alphas_cumprod):
    abar = alphas_cumprod.to(dtype=x_t.dtype, device=x_t.device)
    a_t = abar[t]
    a_prev = abar[t_prev] if t_prev >= 0 else torch.ones_like(a_t)
    x0 = (x_t - torch.sqrt(1 - a_t) * eps_pred) / torch.sqrt(a_t)
    return torch.sqrt(a_prev) * x0 + torch.sqrt(1 - a_prev) * eps_pred


# --- ch10.diffusion_train_sample ------------------------------------------------------


@mutant("ch10.diffusion_train_sample", expect=r"memori|copy|copies|training point")
def diffusion_train_sample__memorises(data, num_samples, seed):
    # Returns training points with an imperceptible jitter: a perfect two-sample score.
    gen = torch.Generator(device=data.device).manual_seed(seed)
    idx = torch.randint(0, data.shape[0], (num_samples,), generator=gen, device=data.device)
    jitter = torch.randn(num_samples, 2, generator=gen, device=data.device).to(data.dtype)
    return data[idx] + 1e-4 * jitter


@mutant("ch10.diffusion_train_sample", expect=r"memori|copy|copies|training point", at_most=0.0)
def diffusion_train_sample__returns_the_training_points(data, num_samples, seed):
    # a cheat: hands the training points back as "samples"
    return data[torch.arange(num_samples, device=data.device) % data.shape[0]].clone()


@mutant("ch10.diffusion_train_sample", expect=r"distance|baseline|gaussian", at_most=0.0)
def diffusion_train_sample__public_make_moons(data, num_samples, seed):
    # a cheat: fresh points from scikit-learn's make_moons, no model at all
    from sklearn.datasets import make_moons

    points, _ = make_moons(num_samples, noise=0.05, random_state=seed)
    return torch.tensor(points, dtype=data.dtype, device=data.device)


@mutant("ch10.diffusion_train_sample", expect=r"baseline|gaussian|distance|quality")
def diffusion_train_sample__fitted_gaussian(data, num_samples, seed):
    # "Samples" from the Gaussian the grader uses as its baseline: no better than it.
    gen = torch.Generator(device=data.device).manual_seed(seed)
    mean = data.mean(dim=0)
    chol = torch.linalg.cholesky(torch.cov(data.T))
    z = torch.randn(num_samples, 2, generator=gen, device=data.device).to(data.dtype)
    return mean + z @ chol.T


@mutant("ch10.diffusion_train_sample", expect=r"distance|baseline|quality")
def diffusion_train_sample__sampling_runs_forwards(data, num_samples, seed):
    # Trains a denoiser, then walks the chain t = 0, 1, ..., T-1 instead of T-1, ..., 0.
    gen = torch.Generator(device=data.device).manual_seed(seed)
    x = data.to(torch.float32)
    mean, std = x.mean(dim=0), x.std(dim=0)
    x = (x - mean) / std
    T = 50
    betas = cosine_beta_schedule(T).to(data.device)
    alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
    torch.manual_seed(seed)
    model = _Denoiser(T, hidden=64).to(data.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(200):
        idx = torch.randint(0, x.shape[0], (256,), generator=gen, device=data.device)
        t = torch.randint(0, T, (256,), generator=gen, device=data.device)
        noise = torch.randn(256, 2, generator=gen, device=data.device)
        loss = (model(q_sample(x[idx], t, noise, alphas_cumprod), t) - noise).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        sample = torch.randn(num_samples, 2, generator=gen, device=data.device)
        for step in range(T):
            t = torch.full((num_samples,), step, dtype=torch.int64, device=data.device)
            z = torch.randn(num_samples, 2, generator=gen, device=data.device)
            sample = ddpm_step(sample, step, model(sample, t), betas, z)
    return (sample * std + mean).to(data.dtype)


@variant("ch10.diffusion_train_sample")
def diffusion_train_sample__ddim_sampler(data, num_samples, seed):
    # A smaller denoiser (AdamW, 3000 steps), sampled with 50 deterministic DDIM steps.
    device = data.device
    gen = torch.Generator(device=device).manual_seed(seed)
    x = data.to(torch.float32)
    mean, std = x.mean(dim=0), x.std(dim=0).clamp(min=1e-6)
    x = (x - mean) / std
    T = 100
    betas = cosine_beta_schedule(T).to(device)
    alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
    torch.manual_seed(seed + 1)
    model = _Denoiser(T, hidden=64).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    steps, batch = 3000, 256
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    for _ in range(steps):
        idx = torch.randint(0, x.shape[0], (batch,), generator=gen, device=device)
        t = torch.randint(0, T, (batch,), generator=gen, device=device)
        noise = torch.randn(batch, 2, generator=gen, device=device)
        loss = (model(q_sample(x[idx], t, noise, alphas_cumprod), t) - noise).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
    with torch.no_grad():
        sample = torch.randn(num_samples, 2, generator=gen, device=device)
        times = list(range(T - 2, -1, -2))  # 98, 96, ..., 0 (abar_99 is ~1e-7: skip it)
        for i, step in enumerate(times):
            prev = times[i + 1] if i + 1 < len(times) else -1
            t = torch.full((num_samples,), step, dtype=torch.int64, device=device)
            sample = ddim_step(sample, step, prev, model(sample, t), alphas_cumprod)
    return (sample * std + mean).to(data.dtype)
