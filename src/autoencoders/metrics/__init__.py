"""Evaluation metrics: reconstruction and denoising error, PSNR, ELBO, IWAE NLL, PCA and probes.

A conditional model (a CVAE) is given the labels of ``(x, y)`` data wherever it runs.

Every function that takes a ``model`` runs it in eval mode (restoring its previous mode),
without gradients, in batches, on the device its parameters are on. ``data`` may be:

* a tensor ``(N, *input_shape)`` (or ``(N, D)`` with ``D`` pixels, reshaped to the model's
  input shape), in the model's pixel range (:attr:`Autoencoder.pixel_range
  <autoencoders.Autoencoder.pixel_range>`);
* a pair ``(x, y)`` of tensors;
* a :class:`~torch.utils.data.TensorDataset`, or any dataset whose items are ``x`` or
  ``(x, y)`` -- such as a split of :class:`~autoencoders.data.DataSplits` (``splits.test``);
* a :class:`~torch.utils.data.DataLoader` (or any iterable) yielding such items.

Numbers are per sample or per pixel, averaged over the whole data, in float64:

>>> import torch, autoencoders
>>> model = autoencoders.build("vae", h=16, z=2)
>>> x = torch.rand(32, 1, 28, 28)
>>> m = evaluate_model(model, {"train": x, "test": x}, k=5)
>>> sorted(m)  # doctest: +NORMALIZE_WHITESPACE
['iwae_k', 'pca_k', 'pca_mse', 'test_elbo', 'test_kl', 'test_mse', 'test_nll', 'test_nll_samples',
 'test_psnr', 'test_recon', 'test_samples']

The functions live in submodules by kind -- :mod:`~autoencoders.metrics.reconstruction`
(MSE, PSNR), :mod:`~autoencoders.metrics.denoising` (the error on a seeded noisy copy),
:mod:`~autoencoders.metrics.likelihood` (ELBO, IWAE),
:mod:`~autoencoders.metrics.probes` (PCA baseline, linear probe),
:mod:`~autoencoders.metrics.codes` (codebook use, distance to the prior, Jacobian norm, the
blocks' statistics), :mod:`~autoencoders.metrics.conditional` (a conditional model's samples
judged by a classifier of real images) and
:mod:`~autoencoders.metrics.evaluate` (all of them) -- and are all importable from here.
"""

from autoencoders.metrics.codes import (
    block_statistics,
    code_mmd,
    codebook_usage,
    mean_jacobian_norm,
)
from autoencoders.metrics.conditional import (
    ConditionalSampleResult,
    conditional_sample_accuracy,
    train_classifier,
)
from autoencoders.metrics.denoising import denoising_mse, noisy_copy
from autoencoders.metrics.evaluate import evaluate_model
from autoencoders.metrics.likelihood import (
    DEFAULT_SIGMA,
    LIKELIHOODS,
    elbo,
    iwae_nll,
    log_likelihood,
)
from autoencoders.metrics.probes import (
    ProbeResult,
    fit_linear_probe,
    linear_probe_accuracy,
    pca_baseline_mse,
)
from autoencoders.metrics.reconstruction import mse_per_pixel, psnr, psnr_from_mse

__all__ = [
    "ConditionalSampleResult",
    "DEFAULT_SIGMA",
    "LIKELIHOODS",
    "ProbeResult",
    "block_statistics",
    "code_mmd",
    "codebook_usage",
    "conditional_sample_accuracy",
    "denoising_mse",
    "elbo",
    "evaluate_model",
    "fit_linear_probe",
    "iwae_nll",
    "linear_probe_accuracy",
    "log_likelihood",
    "mean_jacobian_norm",
    "mse_per_pixel",
    "noisy_copy",
    "pca_baseline_mse",
    "psnr",
    "psnr_from_mse",
    "train_classifier",
]
