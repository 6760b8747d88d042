"""Two-dimensional codes side by side: relu-vs-sigmoid and ae-vs-vae-latents."""

from __future__ import annotations

from autoencoders.registry import experiments
from autoencoders.runs.experiment import Config, Experiment, ExperimentContext
from autoencoders.runs.recipes._common import latent_panels

__all__ = ["AE_VS_VAE_LATENTS", "DEEP_HIDDEN", "RELU_VS_SIGMOID"]

#: The hidden layers of the multi-layer autoencoder with a 2-D code.
DEEP_HIDDEN = (512, 256, 128)


def _scatters(ctx: ExperimentContext, file: str, title: str) -> str:
    """The test codes of every configuration, one panel each, on one figure."""
    x, y = ctx.test_set(ctx.configs[0].name, limit=5000)
    return latent_panels(ctx, ctx.configs, x, y, file, title=title)


def _relu_sigmoid_configs(quick: bool) -> list[Config]:
    return [
        Config(
            act,
            "ae",
            {"hidden": list(DEEP_HIDDEN), "z": 2, "activation": act},
            label=f"{act} hidden units",
        )
        for act in ("relu", "sigmoid")
    ]


RELU_VS_SIGMOID = experiments.register("relu-vs-sigmoid")(
    Experiment(
        name="relu-vs-sigmoid",
        title="ReLU against sigmoid hidden units, 2-D codes",
        summary="784-512-256-128-2 AE with ReLU vs sigmoid units, latent scatters",
        description=(
            "The same multi-layer autoencoder, 784-512-256-128-2 with a linear 2-D code and a "
            "sigmoid output, trained with BCE, Adam (lr 1e-3, batch 128) for 20 epochs, once "
            "with ReLU and once with sigmoid hidden units. The scatters show the test codes "
            "coloured by class."
        ),
        configs=_relu_sigmoid_configs,
        settings={"epochs": 20, "batch_size": 128, "lr": 1e-3},
        quick={"epochs": 4, "limit": 3000},
        rank_by="test_mse",
        figures=lambda ctx: [
            (
                _scatters(ctx, "latents.png", "Test codes, coloured by class"),
                "The 2-D codes of the test set with ReLU (left) and sigmoid (right) units",
            )
        ],
    )
)


def _ae_vae_configs(quick: bool) -> list[Config]:
    return [
        Config("ae", "ae", {"h": 400, "z": 2}, label="autoencoder"),
        Config("vae", "vae", {"h": 400, "z": 2}, label="variational autoencoder (means)"),
    ]


AE_VS_VAE_LATENTS = experiments.register("ae-vs-vae-latents")(
    Experiment(
        name="ae-vs-vae-latents",
        title="The codes of a plain autoencoder and of a VAE",
        summary="784-400-2 AE and VAE codes on one figure",
        description=(
            "A 784-400-2 autoencoder (BCE) and the 784-400-2 VAE (BCE + KL) trained alike "
            "(Adam, lr 1e-3, batch 128, 20 epochs); their test codes (the posterior means for "
            "the VAE) side by side on one figure, coloured by class."
        ),
        configs=_ae_vae_configs,
        settings={"epochs": 20, "batch_size": 128, "lr": 1e-3},
        quick={"epochs": 4, "limit": 3000},
        figures=lambda ctx: [
            (
                _scatters(ctx, "latents.png", "Test codes, coloured by class"),
                "The 2-D codes of the test set: plain autoencoder (left), VAE means (right)",
            )
        ],
    )
)
