"""Reconstruction error: mean squared error per pixel and PSNR."""

from __future__ import annotations

import math
from typing import Any

import torch

from autoencoders._utils import device_of, evaluating, iter_batches, label_kwargs, unwrap_model
from autoencoders.errors import InvalidValueError
from autoencoders.metrics._common import as_model_input, check_positive, data_range_of

__all__ = ["mse_per_pixel", "psnr", "psnr_from_mse"]


def mse_per_pixel(model: Any, data: Any, *, batch_size: int = 256) -> float:
    """Mean squared reconstruction error per pixel: ``mean((reconstruct(x) - x)**2)``.

    The Keras-style "test MSE" of the tutorials, averaged over every pixel of every sample
    (the training loss instead sums over pixels; see :mod:`autoencoders.losses`). Uses the
    deterministic reconstruction (posterior mean for VAEs, no corruption).

    Example:
        >>> import torch, autoencoders
        >>> model = autoencoders.build("linear_ae", z=2)
        >>> with torch.no_grad():
        ...     for p in model.decoder.parameters():
        ...         _ = p.zero_()
        >>> mse_per_pixel(model, torch.ones(3, 1, 28, 28))  # sigmoid(0) = 0.5 everywhere
        0.25
    """
    batch_size = check_positive(batch_size, "batch_size")
    net = unwrap_model(model)
    device = device_of(net)
    total = torch.zeros((), dtype=torch.float64, device=device)
    count = 0
    with evaluating(net):
        for x, y in iter_batches(data, batch_size):
            x = as_model_input(x, net, device)
            r = net.reconstruct(x, **label_kwargs(net, y)).float()
            total += (r - x).pow(2).sum(dtype=torch.float64)
            count += x.numel()
    if count == 0:
        raise InvalidValueError("data is empty")
    return float(total) / count


def psnr_from_mse(mse: float, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB: ``10 * log10(data_range**2 / mse)``.

    Example:
        >>> psnr_from_mse(0.01), psnr_from_mse(0.04, data_range=2.0)
        (20.0, 20.0)
        >>> psnr_from_mse(0.0)
        inf
    """
    if mse < 0 or math.isnan(mse):
        raise InvalidValueError(f"mse must be >= 0, got {mse!r}")
    if data_range <= 0:
        raise InvalidValueError(f"data_range must be > 0, got {data_range!r}")
    if mse == 0:
        return math.inf
    return 10.0 * math.log10(data_range**2 / mse)


def psnr(
    model: Any,
    data: Any,
    *,
    data_range: float | None = None,
    per_image: bool = False,
    batch_size: int = 256,
) -> float:
    """Peak signal-to-noise ratio of the reconstructions, in dB.

    Args:
        model: the autoencoder.
        data: see :mod:`autoencoders.metrics`.
        data_range: ``high - low`` of the pixel range; default from the model's
            :attr:`~autoencoders.Autoencoder.pixel_range` (2 for a tanh output, data in
            [-1, 1]; else 1).
        per_image: average the PSNR of each image instead of taking the PSNR of the mean
            squared error over the data set (the default, ``psnr_from_mse(mse_per_pixel)``).
        batch_size: samples per forward pass.

    Example:
        >>> import torch, autoencoders
        >>> model = autoencoders.build("ae", h=8, z=2)
        >>> x = torch.rand(4, 1, 28, 28)
        >>> psnr(model, x) == psnr_from_mse(mse_per_pixel(model, x))
        True
    """
    if data_range is None:
        data_range = data_range_of(model)
    if not per_image:
        return psnr_from_mse(mse_per_pixel(model, data, batch_size=batch_size), data_range)
    batch_size = check_positive(batch_size, "batch_size")
    net = unwrap_model(model)
    device = device_of(net)
    values: list[torch.Tensor] = []
    with evaluating(net):
        for x, y in iter_batches(data, batch_size):
            x = as_model_input(x, net, device)
            err = (
                (net.reconstruct(x, **label_kwargs(net, y)).double() - x.double())
                .pow(2)
                .flatten(1)
                .mean(1)
            )
            values.append(10.0 * torch.log10(data_range**2 / err))
    if not values:
        raise InvalidValueError("data is empty")
    return float(torch.cat(values).mean())
