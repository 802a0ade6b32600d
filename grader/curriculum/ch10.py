"""Chapter 10: generative models (VAE, GAN, diffusion).

docs/curriculum.md bans no PyTorch routine in this chapter: the losses may be written
with `softplus` or `binary_cross_entropy_with_logits`, the schedules with
`torch.linspace`; what is graded is the maths (stability, reduction, indexing).
"""

from grader.curriculum.model import Chapter, Exercise

CHAPTER = Chapter(
    id="ch10",
    modules=("ch10_generative",),
    exercises=(
        Exercise("reparameterize", points=2),
        Exercise("gaussian_kl", points=4),
        Exercise("vae_loss", points=5),
        Exercise("gan_discriminator_loss", points=5),
        Exercise("gan_generator_loss", points=5),
        Exercise("linear_beta_schedule", points=2),
        Exercise("cosine_beta_schedule", points=4),
        Exercise("q_sample", points=4),
        Exercise("ddpm_step", points=6),
        Exercise("ddim_step", points=5),
        Exercise("diffusion_train_sample", points=10, autograd=True, timeout=120.0),
    ),
)
