"""The model families side by side, with the same budget and sizes: the ``families`` experiment."""

from __future__ import annotations

import itertools
from typing import Any

from autoencoders import plots
from autoencoders.metrics import (
    code_mmd,
    conditional_sample_accuracy,
    iwae_nll,
    mean_jacobian_norm,
)
from autoencoders.registry import experiments
from autoencoders.runs.experiment import Config, Experiment, ExperimentContext, Figures
from autoencoders.runs.recipes._common import panels, seeded
from autoencoders.runs.settings import RunResult

__all__ = ["BETAS", "FAMILIES", "FAMILY_SIZES"]

#: Every model: the dense 784-400-z backbone with a code of 16 (VQ: 4 codes of 4 from 128).
FAMILY_SIZES = {"h": 400, "z": 16}
#: The beta-VAE's KL weights (1 is the VAE).
BETAS = (0.5, 1.0, 2.0, 4.0)
#: The VQ-VAE's codebook: 128 vectors of 4 numbers, so a code of 16 is 4 symbols.
VQ = {"codebook_size": 128, "code_dim": 4}
#: The sparsity weight: the KL to rho is one number per batch, set against a reconstruction
#: of a few hundred nats per image, so it needs a weight well above the per-pixel recipes' 3.
SPARSITY_WEIGHT = 50.0
#: The contractive weight (the AE row has the same ReLU backbone without the penalty).
CONTRACTIVE_WEIGHT = 1.0
#: Importance samples of the NLL estimate and the test images it is computed on (full size,
#: quick size).
NLL_K = {False: 500, True: 50}
NLL_IMAGES = {False: 1000, True: 50}
#: Test images the encoder's Jacobian is measured on (full size, quick size).
JACOBIAN_IMAGES = {False: 500, True: 100}
#: The CVAE's samples per class judged by the classifier, and the classifier's epochs.
CVAE_SAMPLES = {False: 100, True: 20}
CLASSIFIER_EPOCHS = {False: 5, True: 1}


def _configs(quick: bool) -> list[Config]:
    base = dict(FAMILY_SIZES)
    betas = [
        Config(
            f"beta={b:g}",
            "beta_vae",
            {**base, "beta": b},
            label=f"beta-VAE, beta={b:g}" + (" (the VAE)" if b == 1 else ""),
        )
        for b in BETAS
    ]
    return [
        Config("ae", "ae", base, label="AE"),
        *betas,
        Config("iwae_k=5", "iwae", {**base, "k": 5}, label="IWAE, k=5"),
        Config("cvae", "cvae", base, label="CVAE (one-hot label)"),
        Config("wae_mmd", "wae_mmd", {**base, "weight": 10.0}, label="WAE-MMD"),
        Config("vq_vae", "vq_vae", {**base, **VQ}, label="VQ-VAE"),
        Config(
            "vq_vae_no_reinit",
            "vq_vae",
            {**base, **VQ, "reinit_dead": False},
            label="VQ-VAE, no dead-code re-init",
        ),
        Config(
            "sparse_ae",
            "sparse_ae",
            {**base, "rho": 0.05, "weight": SPARSITY_WEIGHT},
            label="sparse AE",
        ),
        Config(
            "contractive_ae",
            "contractive_ae",
            {**base, "weight": CONTRACTIVE_WEIGHT, "activation": "relu"},
            label="contractive AE",
        ),
    ]


def _columns(ctx: ExperimentContext, config: Config, result: RunResult) -> dict[str, Any]:
    """What each family changes, measured on the test set for every model alike."""
    model = ctx.model(config.name)
    x, y = ctx.test_set(config.name)
    quick = ctx.quick
    data = (x, y) if model.takes_labels else x  # a conditional model is given the labels
    m = result.metrics
    row: dict[str, Any] = {
        "test_kl": m.get("test_kl"),
        "code_mmd": code_mmd(model, data, limit=2000),
        "jacobian_norm": mean_jacobian_norm(model, data, limit=JACOBIAN_IMAGES[quick]),
        "perplexity": m.get("test_perplexity"),
        "usage": m.get("test_usage"),
        "code_mean": m.get("test_code_mean"),
    }
    if model.is_variational:
        n = NLL_IMAGES[quick]
        head = (x[:n], y[:n]) if model.takes_labels else x[:n]
        row["test_nll"] = iwae_nll(model, head, k=NLL_K[quick], batch_size=100)
    if model.takes_labels:
        r = conditional_sample_accuracy(
            model, ctx.data[config.name].train, (x, y), per_class=CVAE_SAMPLES[quick],
            epochs=CLASSIFIER_EPOCHS[quick],
        )  # fmt: skip
        row["sample_class_acc"], row["classifier_acc"] = r.accuracy, r.classifier_accuracy
    ctx.cache.setdefault("jacobian", {})[config.name] = row["jacobian_norm"]
    ae = ctx.cache["jacobian"].get("ae")
    row["jacobian_vs_ae"] = row["jacobian_norm"] / ae if ae else None
    return row


def _checks(ctx: ExperimentContext) -> list[str]:
    """The issue's checks, read off the table, each as a sentence (pass or not, as measured)."""

    def v(name: str, column: str) -> float | None:
        return ctx.row_value(name, column) if name in ctx.results else None

    notes = []
    vae, iw = v("beta=1", "test_nll"), v("iwae_k=5", "test_nll")
    if vae is not None and iw is not None:
        verdict = "lower" if iw < vae else "NOT lower"
        notes.append(
            f"IWAE (k=5) test NLL {iw:.2f} nats vs the VAE's {vae:.2f} ({NLL_K[ctx.quick]} "
            f"importance samples, {NLL_IMAGES[ctx.quick]} test images): {verdict}."
        )
    acc, judge = v("cvae", "sample_class_acc"), v("cvae", "classifier_acc")
    if acc is not None and judge is not None:
        verdict = "at least" if acc >= 0.8 else "BELOW"
        notes.append(
            f"CVAE samples classified as the class asked for: {acc:.3f} averaged over the "
            f"classes ({verdict} 0.8), by a classifier of real images whose own test accuracy "
            f"is {judge:.3f}."
        )
    kls = [v(f"beta={b:g}", "test_kl") for b in BETAS]
    mses = [v(f"beta={b:g}", "test_mse") for b in BETAS]
    if None not in kls and None not in mses:
        kl_down = all(a > b for a, b in itertools.pairwise(kls))
        mse_up = all(a < b for a, b in itertools.pairwise(mses))
        notes.append(
            "beta-VAE over beta = " + ", ".join(f"{b:g}" for b in BETAS) + ": test KL "
            + " > ".join(f"{k:.2f}" for k in kls) + (" (decreasing)" if kl_down else
            " (NOT decreasing)") + "; test MSE " + ", ".join(f"{m:.4f}" for m in mses)
            + (" (increasing)." if mse_up else " (NOT increasing).")
        )  # fmt: skip
    k = VQ["codebook_size"]
    for name, what in (("vq_vae", "with"), ("vq_vae_no_reinit", "without")):
        p = v(name, "perplexity")
        if p is not None:
            verdict = "at least" if p >= k / 4 else "BELOW"
            notes.append(
                f"VQ-VAE {what} dead-code re-initialisation: test perplexity {p:.1f} of K = "
                f"{k} ({verdict} K/4 = {k / 4:g})."
            )
    wae, ae = v("wae_mmd", "code_mmd"), v("ae", "code_mmd")
    if wae is not None and ae is not None:
        verdict = "lower" if wae < ae else "NOT lower"
        notes.append(f"WAE-MMD test MMD to N(0, I) {wae:.4f} vs the AE's {ae:.4f}: {verdict}.")
    mean = v("sparse_ae", "code_mean")
    if mean is not None:
        rho = 0.05
        verdict = "within" if abs(mean - rho) <= 0.1 * rho else "NOT within"
        notes.append(f"Sparse AE mean code activation {mean:.4f} ({verdict} 10 % of rho = {rho}).")
    ratio = v("contractive_ae", "jacobian_vs_ae")
    if ratio is not None:
        verdict = "lower" if ratio < 1 else "NOT lower"
        notes.append(f"Contractive AE mean Jacobian norm / the AE's: {ratio:.3f} ({verdict}).")
    return notes


def _figures(ctx: ExperimentContext) -> Figures:
    x, y = ctx.test_set(ctx.configs[0].name, limit=8)

    def recon(config: Config, sub: Any) -> None:
        model = ctx.model(config.name)
        labels = y if model.takes_labels else None
        plots.plot_reconstructions(model, x, n=8, labels=labels, ax=sub, title=config.caption)

    generative = [c for c in ctx.configs if ctx.model(c.name).can_sample]

    def samples(config: Config, sub: Any) -> None:
        model = ctx.model(config.name)
        plots.plot_samples(model, n=16, ncol=4, generator=seeded(), ax=sub, title=config.caption)

    return [
        (
            panels(ctx, ctx.configs, recon, "reconstructions.png", title="Reconstructions",
                   columns=3),
            "Test images (top) and each family's reconstructions (bottom)",
        ),
        (
            panels(ctx, generative, samples, "samples.png", title="Samples from the prior",
                   panel_size=(3, 3.2)),
            "16 samples from the prior of each model that has one (the same draws per size)",
        ),
    ]  # fmt: skip


FAMILIES = experiments.register("families")(
    Experiment(
        name="families",
        title="Model families with the same budget: beta-VAE, IWAE, CVAE, WAE-MMD, VQ-VAE, "
        "sparse, contractive",
        summary="every model family on the same 784-400-16 backbone, with their own checks",
        description=(
            "Every family is the dense 784-400-z backbone (z = 16) with one part swapped or "
            "added, trained on Fashion-MNIST with the same budget (Adam, lr 1e-3, batch 128, "
            "20 epochs) and its own default loss. Columns: the test MSE per pixel; `test_kl` "
            "(VAEs); `test_nll`, the importance-weighted NLL with 500 samples on 1000 test "
            "images (VAEs; the CVAE's is -log p(x|y)); `sample_class_acc`, the share of the "
            "CVAE's samples (100 per class) that a classifier of real images puts in the class "
            "asked for, and `classifier_acc` that classifier's own test accuracy; "
            "`code_mmd`, the MMD^2 of the test codes to N(0, I); `jacobian_norm`, the mean "
            "Frobenius norm of the encoder's Jacobian, and `jacobian_vs_ae` its ratio to the "
            "AE's; `perplexity` and `usage` of the VQ codebook (K = 128) over the test set; "
            "`code_mean`, the sparse code's mean activation (target 0.05). The notes under the "
            "title state each family's check as measured."
        ),
        configs=_configs,
        settings={"epochs": 20, "batch_size": 128, "lr": 1e-3},
        quick={"epochs": 1, "limit": 1000},
        columns=_columns,
        notes=_checks,
        figures=_figures,
    )
)
