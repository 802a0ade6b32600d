"""Chapter 10: generative models (VAE, GAN, diffusion).

The pieces a generative model is built from, one function each:

- VAE: the reparameterisation trick, the closed-form Gaussian KL term and the
  negative ELBO for Bernoulli (binary) data.
- GAN: the discriminator loss and the non-saturating generator loss, from logits.
- Diffusion (DDPM / DDIM): the linear and cosine noise schedules, the forward
  process q(x_t | x_0), one ancestral DDPM step, one deterministic DDIM step, and a
  small end-to-end diffusion model trained on 2-D points.

Randomness is passed in (`eps`, `noise`, `z`), so every function except
`diffusion_train_sample` is deterministic. Left out: network architectures for
images, classifier-free guidance, learned variances, score matching in continuous
time.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Draw z ~ N(mu, diag(exp(logvar))) as a differentiable function of mu and logvar.

    z = mu + sigma * eps with sigma = exp(0.5 * logvar) and eps ~ N(0, I) given.

    Shapes: mu, logvar, eps (N, L) (any common shape); returns the same shape.

    Example: mu = [1.], logvar = [log 4] (sigma = 2), eps = [0.5] -> [2.].
    """
    # TODO: implement ch10.reparameterize (hint: `dlcourse hint ch10.reparameterize`).
    raise NotImplementedError("ch10.reparameterize")


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) per example, summed over the latent dim.

    KL = -1/2 * sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j)).

    Shapes: mu, logvar (N, L); returns (N,). (A latent with several non-batch dims,
    e.g. (N, C, H, W), is summed over all of them.)

    Example: mu = [[1., 0.]], logvar = [[0., 0.]] -> [0.5] (only the mean differs).
    """
    # TODO: implement ch10.gaussian_kl (hint: `dlcourse hint ch10.gaussian_kl`).
    raise NotImplementedError("ch10.gaussian_kl")


def vae_loss(
    x: torch.Tensor, recon_logits: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
) -> torch.Tensor:
    """Negative ELBO of a VAE with a Bernoulli decoder, averaged over the batch.

    loss = mean_n [ sum_d BCE(recon_logits[n, d], x[n, d]) + KL_n ], where the
    Bernoulli negative log-likelihood from a logit l and a target x in [0, 1] is
    BCE(l, x) = softplus(l) - x * l = max(l, 0) - x * l + log(1 + exp(-|l|)),
    a form that stays finite for logits of any magnitude.

    Shapes: x, recon_logits (N, ...) (e.g. (N, 1, 28, 28)); mu, logvar (N, L);
    returns a scalar.

    Example: x = [[1.]], recon_logits = [[0.]], mu = logvar = [[0.]] -> log 2 = 0.6931.
    """
    # TODO: implement ch10.vae_loss (hint: `dlcourse hint ch10.vae_loss`).
    raise NotImplementedError("ch10.vae_loss")


def gan_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator loss of a GAN: mean BCE(real, 1) + mean BCE(fake, 0), from logits.

    BCE(l, 1) = -log sigmoid(l) = softplus(-l) and BCE(l, 0) = -log(1 - sigmoid(l))
    = softplus(l); computed in the stable form so that logits like +-1000 give a
    finite loss.

    Shapes: real_logits and fake_logits of any shape ((N,), (N, 1), a PatchGAN's
    (N, 1, H, W), ...), not necessarily the same; each mean is over every logit of its
    group; returns a scalar.

    Example: real_logits = [0.], fake_logits = [0.] -> 2 log 2 = 1.3863.
    """
    # TODO: implement ch10.gan_discriminator_loss (hint: `dlcourse hint ch10.gan_discriminator_loss`).
    raise NotImplementedError("ch10.gan_discriminator_loss")


def gan_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: mean BCE(fake, 1) = mean softplus(-fake_logits).

    The generator maximises log D(G(z)) rather than minimising log(1 - D(G(z))),
    which would give vanishing gradients when the discriminator confidently
    rejects the fakes (fake_logits very negative).

    Shapes: fake_logits of any shape ((N,), (N, 1), (N, 1, H, W), ...); the mean is over
    every logit; returns a scalar.

    Example: fake_logits = [0.] -> log 2 = 0.6931; [-1000.] -> 1000.
    """
    # TODO: implement ch10.gan_generator_loss (hint: `dlcourse hint ch10.gan_generator_loss`).
    raise NotImplementedError("ch10.gan_generator_loss")


def linear_beta_schedule(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """DDPM's linear noise schedule: T betas evenly spaced from beta_start to beta_end.

    beta_t = beta_start + (beta_end - beta_start) * t / (T - 1), t = 0..T-1, both
    ends included (as `torch.linspace`); T = 1 gives [beta_start].

    Shapes: returns (T,) float64 (on the CPU: there is no input tensor).

    Example: linear_beta_schedule(3, 0.1, 0.3) -> [0.1, 0.2, 0.3].
    """
    # TODO: implement ch10.linear_beta_schedule (hint: `dlcourse hint ch10.linear_beta_schedule`).
    raise NotImplementedError("ch10.linear_beta_schedule")


def cosine_beta_schedule(T: int, s: float = 0.008) -> torch.Tensor:
    """Nichol and Dhariwal's cosine schedule (Improved DDPM, 2021).

    alpha_bar(t) = f(t) / f(0) with f(t) = cos^2(((t / T) + s) / (1 + s) * pi / 2),
    beta_t = min(1 - alpha_bar(t) / alpha_bar(t - 1), 0.999) for t = 1..T.
    The small offset s keeps beta_1 from being tiny; the clip stops the last
    betas (where alpha_bar reaches 0) from being 1.

    Shapes: returns (T,) float64.

    Example: cosine_beta_schedule(2) -> [0.5062, 0.999] (the last beta is clipped).
    """
    # TODO: implement ch10.cosine_beta_schedule (hint: `dlcourse hint ch10.cosine_beta_schedule`).
    raise NotImplementedError("ch10.cosine_beta_schedule")


def q_sample(
    x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, alphas_cumprod: torch.Tensor
) -> torch.Tensor:
    """Sample x_t ~ q(x_t | x_0) in one shot: sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise.

    Shapes: x0, noise (N, ...); t (N,) int64 indices into alphas_cumprod (T,);
    returns (N, ...) in x0's dtype (alphas_cumprod is often float64).

    Example: x0 = [[1.]], t = [0], noise = [[1.]], alphas_cumprod = [0.64] -> [[1.4]]
    (0.8 * 1 + 0.6 * 1).
    """
    # TODO: implement ch10.q_sample (hint: `dlcourse hint ch10.q_sample`).
    raise NotImplementedError("ch10.q_sample")


def ddpm_step(
    x_t: torch.Tensor, t: int, eps_pred: torch.Tensor, betas: torch.Tensor, z: torch.Tensor
) -> torch.Tensor:
    """One ancestral sampling step of DDPM (Ho et al., 2020): x_t -> x_{t-1}.

    alpha_t = 1 - beta_t, abar_t = prod_{s <= t} alpha_s (0-based t), abar_{-1} = 1,
    mean  = (x_t - beta_t / sqrt(1 - abar_t) * eps_pred) / sqrt(alpha_t),
    var   = (1 - abar_{t-1}) / (1 - abar_t) * beta_t   (the posterior variance),
    x_{t-1} = mean + sqrt(var) * z, and x_{t-1} = mean at t = 0 (no noise added).

    Shapes: x_t, eps_pred, z (N, ...); t a Python int (the same step for the whole
    batch); betas (T,); returns (N, ...) in x_t's dtype.

    Example: betas = [0.5], t = 0, x_t = [[1.]], eps_pred = [[0.]] -> [[1.4142]]
    (1 / sqrt(0.5); z is ignored at t = 0).
    """
    # TODO: implement ch10.ddpm_step (hint: `dlcourse hint ch10.ddpm_step`).
    raise NotImplementedError("ch10.ddpm_step")


def ddim_step(
    x_t: torch.Tensor, t: int, t_prev: int, eps_pred: torch.Tensor, alphas_cumprod: torch.Tensor
) -> torch.Tensor:
    """One deterministic DDIM step (Song et al., 2021, eta = 0): x_t -> x_{t_prev}.

    x0_pred  = (x_t - sqrt(1 - abar_t) * eps_pred) / sqrt(abar_t),
    x_prev   = sqrt(abar_prev) * x0_pred + sqrt(1 - abar_prev) * eps_pred,
    with abar_prev = alphas_cumprod[t_prev], or 1 when t_prev = -1 (then x_prev = x0_pred).
    t_prev may be any earlier step (DDIM skips steps); x0_pred is not clipped.

    Shapes: x_t, eps_pred (N, ...); t, t_prev Python ints; alphas_cumprod (T,);
    returns (N, ...) in x_t's dtype.

    Example: alphas_cumprod = [0.64], t = 0, t_prev = -1, x_t = [[1.4]], eps_pred = [[1.]]
    -> [[1.]] ((1.4 - 0.6) / 0.8).
    """
    # TODO: implement ch10.ddim_step (hint: `dlcourse hint ch10.ddim_step`).
    raise NotImplementedError("ch10.ddim_step")


def diffusion_train_sample(data: torch.Tensor, num_samples: int, seed: int) -> torch.Tensor:
    """Train a small DDPM on 2-D points and return fresh samples from it.

    Autograd, nn modules and torch.optim are allowed here. The recipe:
    standardise the data, train an MLP eps_theta(x_t, t) with the simple DDPM loss
    || eps - eps_theta(sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, t) ||^2 (t uniform,
    cosine schedule, T = 100, Adam), then run T ancestral `ddpm_step`s from pure
    noise and undo the standardisation. Training runs in float32 whatever the input
    dtype; the result has data's dtype and device. Deterministic for a given seed
    (a private generator for every draw, the initial weights drawn under a forked
    global RNG, so the caller's RNG state is untouched).

    Shapes: data (N, 2); returns (num_samples, 2).

    Example: diffusion_train_sample(two_moons (1000, 2), 500, seed=0) -> (500, 2)
    points on the two moons (about 10 s on one thread of a slow 2-core CPU; each
    call must finish within 120 s, the grader's time limit per call).
    """
    # TODO: implement ch10.diffusion_train_sample (hint: `dlcourse hint ch10.diffusion_train_sample`).
    raise NotImplementedError("ch10.diffusion_train_sample")
