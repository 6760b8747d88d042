"""Denoising and convolutional experiments: conv-denoising, dae-noise-types, small-conv-latents."""

from __future__ import annotations

from typing import Any

from autoencoders import plots
from autoencoders.metrics import denoising_mse
from autoencoders.registry import experiments
from autoencoders.runs.experiment import Config, Experiment, ExperimentContext, Figures
from autoencoders.runs.recipes._common import panels, save_figure, seeded
from autoencoders.runs.settings import RunResult

__all__ = [
    "COMMON_NOISE",
    "CONV_DENOISING",
    "DAE_NOISE_TYPES",
    "NOISE_LEVELS",
    "SMALL_CONV_LATENTS",
]

#: The noise factors of conv-denoising.
NOISE_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
#: The one corruption every conv-denoising model is ranked on (seeded: the same noisy copy).
COMMON_NOISE = {"name": "gaussian", "noise_factor": 0.5, "clip": [0.0, 1.0]}


def _common_noise_column(
    ctx: ExperimentContext, config: Config, result: RunResult
) -> dict[str, Any]:
    """``denoising_mse_0.5``: the run's test reconstruction of the same noisy copy (factor 0.5,
    seed of the run) for every model, whatever noise it was trained on."""
    test = ctx.data[config.name].test
    value = denoising_mse(ctx.model(config.name), test, noise=COMMON_NOISE, seed=ctx.settings.seed)
    return {"denoising_mse_0.5": value}


def _denoised_rows(ctx: ExperimentContext, configs: list[Config], file: str, title: str) -> str:
    """Clean / noisy / denoised rows of the same test images for each configuration."""
    x, _ = ctx.test_set(configs[0].name, limit=8)

    def draw(config: Config, sub: Any) -> None:
        plots.plot_reconstructions(
            ctx.model(config.name),
            x,
            n=8,
            noisy=True,
            generator=seeded(),
            ax=sub,
            title=config.caption,
        )

    return panels(ctx, configs, draw, file, title=title, columns=2, panel_size=(5.0, 3.0))


def _metric_line(
    ctx: ExperimentContext, xs: list[float], keys: dict[str, str], xlabel: str, file: str
) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 3.8), layout="constrained")
    ax = fig.add_subplot()
    for key, label in keys.items():
        ys = [ctx.row_value(c.name, key) for c in ctx.configs]
        ax.plot(xs, ys, "o-", label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("MSE per pixel")
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, ctx.dir / file)
    return file


# -- conv-denoising --------------------------------------------------------------------------------
def _conv_configs(quick: bool) -> list[Config]:
    return [
        Config(f"noise_factor={f}", "conv_dae", {"noise_factor": f}, label=f"noise factor {f}")
        for f in NOISE_LEVELS
    ]


def _conv_figures(ctx: ExperimentContext) -> Figures:
    rows = _denoised_rows(
        ctx, ctx.configs, "denoising.png", "Clean, noisy and denoised test images per noise level"
    )
    levels = [float(c.kwargs["noise_factor"]) for c in ctx.configs]
    keys = {
        "denoising_mse": "noisy test copy at the run's own factor",
        "denoising_mse_0.5": "the same noisy test copy (factor 0.5) for every run",
        "test_mse": "clean test images",
    }
    line = _metric_line(ctx, levels, keys, "training noise factor", "mse_vs_noise.png")
    return [
        (rows, "Clean (top), noisy (middle) and denoised (bottom) rows at each noise level"),
        (line, "Test MSE against the clean images, from noisy and from clean inputs"),
    ]


CONV_DENOISING = experiments.register("conv-denoising")(
    Experiment(
        name="conv-denoising",
        title="Convolutional denoising autoencoders over the noise level",
        summary="conv DAEs over noise_factor 0.1 ... 0.7, ranked by denoising MSE",
        description=(
            "A convolutional denoising autoencoder (two stride-2 conv layers of 16 and 32 "
            "channels, a 32-unit code, the mirror-image decoder) trained on images corrupted "
            "by clipped Gaussian noise x + f * N(0, 1), for each noise factor f, with BCE "
            "against the clean image. `denoising_mse` is the reconstruction of a seeded, fixed "
            "noisy copy of the test set at the run's own f against the clean test set; "
            "`denoising_mse_0.5` the same for one noisy copy at f = 0.5 shared by every run "
            "(the ranking: which model denoises that input best); `test_mse` reconstructs "
            "clean inputs."
        ),
        configs=_conv_configs,
        settings={"epochs": 10, "batch_size": 128, "lr": 1e-3},
        quick={"epochs": 3, "limit": 3000},
        rank_by="denoising_mse_0.5",
        columns=_common_noise_column,
        figures=_conv_figures,
    )
)


# -- dae-noise-types -------------------------------------------------------------------------------
def _noise_type_configs(quick: bool) -> list[Config]:
    return [
        Config(
            "gaussian",
            "ae",
            {"h": 400, "z": 20, "noise": "gaussian", "noise_factor": 0.5, "clip": [0.0, 1.0]},
            label="Gaussian noise, factor 0.5",
        ),
        Config(
            "masking",
            "ae",
            {"h": 400, "z": 20, "noise": "masking", "p": 0.5},
            label="masking noise, p = 0.5",
        ),
    ]


def _noise_type_figures(ctx: ExperimentContext) -> Figures:
    def draw(config: Config, sub: Any) -> None:
        plots.plot_filters(ctx.model(config.name), max_filters=64, ax=sub, title=config.caption)

    filters = panels(
        ctx,
        ctx.configs,
        draw,
        "filters.png",
        title="First-layer filters",
        columns=2,
        panel_size=(5.0, 5.2),
    )
    rows = _denoised_rows(ctx, ctx.configs, "denoising.png", "Clean, noisy and denoised")
    return [
        (filters, "The first 64 first-layer filters of each DAE (red positive, blue negative)"),
        (rows, "Clean, corrupted and denoised test images for each noise type"),
    ]


DAE_NOISE_TYPES = experiments.register("dae-noise-types")(
    Experiment(
        name="dae-noise-types",
        title="Gaussian against masking noise in a denoising autoencoder",
        summary="Gaussian-noise vs masking (dropout) noise DAE, first-layer filters",
        description=(
            "Two 784-400-20 denoising autoencoders, one trained on Gaussian noise (factor 0.5, "
            "clipped to [0, 1]), one on masking noise (each pixel set to 0 with probability "
            "0.5), both with BCE against the clean image, Adam (lr 1e-3, batch 128), 20 "
            "epochs. Their first-layer filters show what each corruption teaches the encoder "
            "to look for."
        ),
        configs=_noise_type_configs,
        settings={"epochs": 20, "batch_size": 128, "lr": 1e-3},
        quick={"epochs": 4, "limit": 3000},
        figures=_noise_type_figures,
    )
)


# -- small-conv-latents ----------------------------------------------------------------------------
SMALL_CONV_ZS = (2, 4, 8, 16)


def _small_conv_configs(quick: bool) -> list[Config]:
    plain = [Config(f"z={z}", "small_conv_ae", {"z": z}, label=f"z = {z}") for z in SMALL_CONV_ZS]
    noisy = {"noise": "gaussian", "noise_factor": 0.5, "clip": [0.0, 1.0]}
    denoise = [
        Config(f"denoising_z={z}", "small_conv_ae", {"z": z, **noisy}, label=f"denoising, z = {z}")
        for z in SMALL_CONV_ZS
    ]
    return plain + denoise


def _small_conv_figures(ctx: ExperimentContext) -> Figures:
    plain = [c for c in ctx.configs if "noise" not in c.kwargs]
    noisy = [c for c in ctx.configs if "noise" in c.kwargs]
    x, _ = ctx.test_set(plain[0].name, limit=8)

    def draw(config: Config, sub: Any) -> None:
        plots.plot_reconstructions(ctx.model(config.name), x, n=8, ax=sub, title=config.caption)

    recon = panels(ctx, plain, draw, "reconstructions.png", title="Reconstructions", columns=2)
    rows = _denoised_rows(ctx, noisy, "denoising.png", "Denoising with each code size")
    zs = [int(c.kwargs["z"]) for c in plain]
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 3.8), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(zs, [ctx.results[c.name].metrics["test_mse"] for c in plain], "o-", label="AE, clean")
    ax.plot(
        zs,
        [ctx.results[c.name].metrics.get("denoising_mse") for c in noisy],
        "s--",
        label="DAE, fixed noisy test copy",
    )
    ax.set_xscale("log", base=2)
    ax.set_xticks(zs, [str(z) for z in zs])
    ax.set_xlabel("code size z")
    ax.set_ylabel("test MSE per pixel")
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, ctx.dir / "mse_vs_z.png")
    return [
        (recon, "Test images (top) and their reconstructions (bottom) at each code size"),
        (rows, "Clean, noisy (the fixed, seeded copy) and denoised test images"),
        ("mse_vs_z.png", "Test MSE against the code size, plain and denoising"),
    ]


SMALL_CONV_LATENTS = experiments.register("small-conv-latents")(
    Experiment(
        name="small-conv-latents",
        title="The small Keras-style convolutional autoencoder over its code size",
        summary="small conv AE on MNIST, z = 2, 4, 8, 16, plain and denoising",
        description=(
            "The small convolutional autoencoder of the Keras exercise (three 2x2 conv layers "
            "of 8, 16 and 32 channels with max pooling, a tanh code, a transposed-conv decoder "
            "with a ReLU output, Glorot initialisation) on MNIST at code sizes 2, 4, 8 and 16, "
            "trained on MSE with Adam (lr 1e-3, batch 128) for 20 epochs; then its denoising "
            "variant on x + 0.5 * N(0, 1) clipped to [0, 1], evaluated on one seeded, fixed "
            "noisy copy of the test set (`denoising_mse`) as the exercise does."
        ),
        configs=_small_conv_configs,
        settings={"data": "mnist", "epochs": 20, "batch_size": 128, "lr": 1e-3},
        quick={"epochs": 3, "limit": 3000},
        figures=_small_conv_figures,
        fallback_data="fashion-mnist",
    )
)
