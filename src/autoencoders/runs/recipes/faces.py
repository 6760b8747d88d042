"""The 64x64 face VAE: face-vae."""

from __future__ import annotations

import dataclasses
from typing import Any

from autoencoders import plots
from autoencoders.registry import experiments
from autoencoders.runs.experiment import Config, Experiment, ExperimentContext, Figures
from autoencoders.runs.recipes._common import panels, seeded
from autoencoders.runs.settings import RunSettings

__all__ = ["FACE_VAE", "ORIGINAL_WEIGHT_DECAY"]

#: The original notebook's Adam weight decay, next to a loss summed over the batch.
ORIGINAL_WEIGHT_DECAY = 1e-5


def effective_weight_decay(settings: RunSettings) -> RunSettings:
    """The original's weight decay as it acts beside this library's batch-mean loss.

    The original sums its loss over the batch, so its gradients are ``batch_size`` times those
    of a batch-mean loss while Adam's L2 term ``weight_decay * w`` is not. Adam divides the
    update by the gradient's scale, so the original equals a batch-mean loss with
    ``weight_decay = 1e-5 / batch_size`` (up to Adam's epsilon). A weight decay set explicitly
    (not the default 0) is kept as given.

    Example:
        >>> effective_weight_decay(RunSettings(batch_size=64)).weight_decay
        1.5625e-07
    """
    if settings.weight_decay:
        return settings
    return dataclasses.replace(settings, weight_decay=ORIGINAL_WEIGHT_DECAY / settings.batch_size)


def _face_figures(ctx: ExperimentContext) -> Figures:
    config = ctx.configs[0]
    model = ctx.model(config.name)
    x, _ = ctx.test_set(config.name, limit=8)
    recon = panels(
        ctx,
        [config],
        lambda c, sub: plots.plot_reconstructions(model, x, n=8, ax=sub, title=c.caption),
        "reconstructions.png",
        title="Test faces and their reconstructions",
        columns=1,
        panel_size=(9.0, 2.6),
    )

    def draw(c: Config, sub: Any) -> None:
        plots.plot_samples(model, n=32, ncol=8, generator=seeded(), ax=sub, title=c.caption)

    samples = panels(
        ctx,
        [config],
        draw,
        "samples.png",
        title="Samples from the prior",
        columns=1,
        panel_size=(9.0, 4.8),
    )
    return [
        (recon, "Test images (top) and their reconstructions (bottom)"),
        (samples, "32 samples from the prior N(0, I) of the 512-dimensional code"),
    ]


FACE_VAE = experiments.register("face-vae")(
    Experiment(
        name="face-vae",
        title="The 64x64 face VAE",
        summary="64x64 conv VAE, z = 512, on CelebA or any image folder",
        description=(
            "The face VAE: Conv(3-64-128-256, kernel 4, stride 2) with BatchNorm and LeakyReLU, "
            "a 512-dimensional Gaussian code and the mirror-image decoder with a tanh output "
            "(pixels in [-1, 1]), trained as the original notebook does: Adam (lr 5e-4, betas "
            "(0.5, 0.999), weight decay 1e-5), squared error summed over pixels plus the KL, "
            "10 epochs. The original sums the loss over the batch as well; this library "
            "averages it over the batch, so the weight decay is set to 1e-5 / batch size, "
            "which gives the same Adam updates (see `weight_decay` in the run's settings)."
        ),
        configs=lambda quick: [Config("face_vae", "conv_vae", {"z": 512}, label="face VAE")],
        settings={
            "data": "celeba",
            "epochs": 10,
            "batch_size": 64,
            "lr": 5e-4,
            "betas": (0.5, 0.999),
            "loss": "elbo",
            "loss_kwargs": {"recon": "mse"},
        },
        quick={"epochs": 1, "limit": 128},
        figures=_face_figures,
        fallback_data="synthetic_faces",
        prepare=effective_weight_decay,
    )
)
