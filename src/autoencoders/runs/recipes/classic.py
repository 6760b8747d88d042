"""Dense autoencoders and VAEs on Fashion-MNIST: dense-ae, linear-vs-pca, vae-hz, vae-to-ae."""

from __future__ import annotations

from typing import Any

from autoencoders import plots
from autoencoders.metrics import pca_baseline_mse
from autoencoders.registry import experiments
from autoencoders.runs.experiment import Config, Experiment, ExperimentContext, Figures
from autoencoders.runs.recipes._common import latent_panels, panels, save_figure, seeded
from autoencoders.runs.settings import RunResult
from autoencoders.runs.sweep import slug

__all__ = ["DENSE_AE", "LINEAR_VS_PCA", "VAE_HZ", "VAE_TO_AE", "VAE_HZ_POINTS"]

#: The quick size of the dense experiments: 4 epochs on 3,000 images per split.
QUICK = {"epochs": 4, "limit": 3000}

#: The (h, z) pairs of the classic VAE exercise.
VAE_HZ_POINTS = ((400, 50), (400, 10), (400, 30), (300, 35), (300, 5), (300, 40))


def _reconstruction_panels(ctx: ExperimentContext, file: str, title: str) -> Figures:
    x, _ = ctx.test_set(ctx.configs[0].name, limit=8)

    def draw(config: Config, sub: Any) -> None:
        plots.plot_reconstructions(ctx.model(config.name), x, n=8, ax=sub, title=config.caption)

    return [(panels(ctx, ctx.configs, draw, file, title=title, columns=2), title)]


# -- dense-ae --------------------------------------------------------------------------------------
def _dense_configs(quick: bool) -> list[Config]:
    return [
        Config(f"z={z}", "ae", {"h": 400, "z": z}, label=f"784-400-{z}") for z in (2, 10, 20, 50)
    ]


DENSE_AE = experiments.register("dense-ae")(
    Experiment(
        name="dense-ae",
        title="Dense autoencoders 784-400-z on Fashion-MNIST",
        summary="784-400-z dense AEs trained on MSE, z = 2, 10, 20, 50",
        description=(
            "The dense autoencoder lab: one hidden layer of 400 ReLU units, a linear code of z "
            "units and a sigmoid output, trained on the squared error (MSE summed over pixels) "
            "with Adam (lr 1e-3, batch 128) for 30 epochs. The table reports the test MSE per "
            "pixel (each run's metrics.json also has PCA's at the same code size); the curves "
            "show train and validation loss."
        ),
        configs=_dense_configs,
        settings={"epochs": 30, "batch_size": 128, "lr": 1e-3, "loss": "mse"},
        quick=QUICK,
        rank_by="test_mse",
        figures=lambda ctx: _reconstruction_panels(
            ctx, "reconstructions.png", "Test images (top) and reconstructions (bottom)"
        ),
    )
)


# -- linear-vs-pca ---------------------------------------------------------------------------------
LINEAR_KS = (2, 10, 20, 32)


def _linear_configs(quick: bool) -> list[Config]:
    return [
        Config(f"k={k}", "linear_ae", {"z": k, "output_activation": "identity"}, label=f"k={k}")
        for k in LINEAR_KS
    ]


def _pca_column(ctx: ExperimentContext, config: Config, result: RunResult) -> dict[str, Any]:
    """Exact PCA with the run's code size, fitted on the whole (loaded) training split."""
    data = ctx.data[config.name]
    pca = pca_baseline_mse(data.train, data.test, int(config.kwargs["z"]))
    return {"pca_mse": pca, "ae_over_pca": result.metrics["test_mse"] / pca}


def _linear_figures(ctx: ExperimentContext) -> Figures:
    from matplotlib.figure import Figure

    ks = [int(c.kwargs["z"]) for c in ctx.configs]
    ae = [ctx.results[c.name].metrics["test_mse"] for c in ctx.configs]
    pca = [ctx.row_value(c.name, "pca_mse") for c in ctx.configs]
    fig = Figure(figsize=(5.5, 3.8), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(ks, ae, "o-", label="linear autoencoder")
    ax.plot(ks, pca, "s--", label="PCA (exact, whole training set)")
    ax.set_xlabel("code size k")
    ax.set_ylabel("test MSE per pixel")
    ax.set_xticks(ks)
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Linear autoencoder against PCA")
    save_figure(fig, ctx.dir / "mse_vs_k.png")
    caption = "Test MSE against the code size k: the linear autoencoder approaches PCA's floor"
    return [("mse_vs_k.png", caption)]


LINEAR_VS_PCA = experiments.register("linear-vs-pca")(
    Experiment(
        name="linear-vs-pca",
        title="A linear autoencoder against PCA",
        summary="linear AE with an identity output vs exact PCA, k = 2, 10, 20, 32",
        description=(
            "A linear autoencoder (Linear(784, k) then Linear(k, 784), identity output, MSE) "
            "can at best span the top-k principal subspace, so exact PCA fitted on the whole "
            "training set is its floor. `pca_mse` is that floor on the test set and "
            "`ae_over_pca` the ratio (1.0 = PCA reached)."
        ),
        configs=_linear_configs,
        settings={"epochs": 20, "batch_size": 128, "lr": 1e-3, "loss": "mse"},
        quick=QUICK,
        columns=_pca_column,
        figures=_linear_figures,
    )
)


# -- vae-hz ----------------------------------------------------------------------------------------
def _vae_configs(quick: bool) -> list[Config]:
    configs = [
        Config(slug({"h": h, "z": z}), "vae", {"h": h, "z": z}, label=f"784-{h}-{z}")
        for h, z in VAE_HZ_POINTS
    ]
    configs.append(
        Config(
            "hidden=400-100_z=20", "vae", {"hidden": [400, 100], "z": 20}, label="784-400-100-20"
        )
    )
    return configs


def _sample_panels(ctx: ExperimentContext) -> Figures:
    def draw(config: Config, sub: Any) -> None:
        model = ctx.model(config.name)
        plots.plot_samples(model, n=16, ncol=4, generator=seeded(), ax=sub, title=config.caption)

    file = panels(
        ctx, ctx.configs, draw, "samples.png", title="Samples from the prior", panel_size=(3, 3.2)
    )
    return [(file, "16 samples from the prior of each VAE (the same draws of z per size)")]


_VAE_SETTINGS = {"epochs": 10, "batch_size": 128, "lr": 1e-3}


def _nll_column(ctx: ExperimentContext, config: Config, result: RunResult) -> dict[str, Any]:
    """The importance-weighted test NLL that every VAE's metrics hold (None for an AE)."""
    return {"test_nll": result.metrics.get("test_nll")}


VAE_HZ = experiments.register("vae-hz")(
    Experiment(
        name="vae-hz",
        title="VAE hidden and latent sizes (h, z)",
        summary="the six (h, z) VAEs plus the 784-400-100-20 VAE, one table",
        description=(
            "The classic VAE exercise: 784-h-z VAEs (ReLU hidden layer, Gaussian code, "
            "Bernoulli decoder: BCE + KL) at the six (h, z) pairs (400, 50), (400, 10), "
            "(400, 30), (300, 35), (300, 5), (300, 40), and the four-layer 784-400-100-20 VAE, "
            "trained with Adam (lr 1e-3, batch 128) for 10 epochs, like the PyTorch VAE "
            "example. Ranked by the test ELBO (nats per image, higher is better); `test_nll` "
            "is the importance-weighted estimate of -log p(x)."
        ),
        configs=_vae_configs,
        settings=_VAE_SETTINGS,
        quick=QUICK,
        rank_by="test_elbo",
        higher_is_better=True,
        columns=_nll_column,
        figures=_sample_panels,
    )
)


# -- vae-to-ae -------------------------------------------------------------------------------------
def _vae_to_ae_configs(quick: bool) -> list[Config]:
    configs = _vae_configs(quick)
    return [configs[0], configs[4]] if quick else configs


def _as_ae(ctx: ExperimentContext) -> list[Config]:
    best = ctx.best("test_elbo", higher_is_better=True)
    kwargs = dict(best.kwargs)
    return [Config(f"ae_{best.name}", "ae", kwargs, label=f"AE {best.caption}")]


def _vae_to_ae_figures(ctx: ExperimentContext) -> Figures:
    pair = [c for c in ctx.configs if c.name == ctx.configs[-1].name[3:]] + [ctx.configs[-1]]
    x, y = ctx.test_set(pair[0].name, limit=2000)

    def draw(config: Config, sub: Any) -> None:
        plots.plot_reconstructions(ctx.model(config.name), x[:8], n=8, ax=sub, title=config.caption)

    recon = panels(ctx, pair, draw, "vae_vs_ae.png", title="VAE and AE reconstructions", columns=2)

    codes = latent_panels(
        ctx, pair, x, y, "vae_vs_ae_codes.png", title="Codes of the test set", panel_size=(5.5, 4.5)
    )
    return [
        (recon, "The best VAE of the table and the same network as a deterministic AE"),
        (codes, "Their codes (first two principal components when z > 2), coloured by class"),
    ]


VAE_TO_AE = experiments.register("vae-to-ae")(
    Experiment(
        name="vae-to-ae",
        title="The best VAE, rebuilt as a plain autoencoder",
        summary="best VAE of vae-hz vs the same network with a deterministic bottleneck",
        description=(
            "The vae-hz configurations are trained first (two of them at the quick size); the "
            "one with the best test ELBO is then rebuilt with a deterministic bottleneck and "
            "trained with its own loss (BCE reconstruction, no KL) under the same settings. "
            "The table sets their test MSE side by side; the figures their reconstructions "
            "and the shape of their codes (the KL term pulls the VAE's towards the prior)."
        ),
        configs=_vae_to_ae_configs,
        settings=_VAE_SETTINGS,
        quick=QUICK,
        followup=_as_ae,
        figures=_vae_to_ae_figures,
    )
)
