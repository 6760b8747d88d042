"""Denoising error: how well a model recovers clean inputs from a fixed, seeded noisy copy.

:func:`noisy_copy` draws one corrupted copy of a data set with a noise transform and a
:class:`torch.Generator` seeded by ``seed``; :func:`denoising_mse` scores a model's
reconstruction of that copy against the clean data. The draw depends only on the data, the
noise settings and the seed -- not on the model, the batch size or the device -- so every
model of a sweep is scored on the same noisy inputs, and the global RNGs are left untouched.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from autoencoders._utils import device_of, evaluating, gather, label_kwargs, unwrap_model
from autoencoders.errors import InvalidTypeError, InvalidValueError
from autoencoders.metrics._common import as_model_input, check_positive
from autoencoders.registry import noise as noise_registry

__all__ = ["denoising_mse", "noisy_copy", "resolve_noise"]

NOISE_KINDS = (
    "a registered noise-transform name, a {'name': ..., **kwargs} dict, or a noise module "
    "(such as model.noise)"
)


def resolve_noise(noise: Any) -> Callable[..., torch.Tensor]:
    """The noise transform that ``noise`` names.

    Args:
        noise: a name registered in :data:`autoencoders.registry.noise` (``"gaussian"``,
            ``"masking"``, ``"salt_and_pepper"``, ...), a dict ``{"name": ..., **kwargs}`` (or
            the model config's ``{"name": ..., "kwargs": {...}}``), or a transform itself (a
            module or callable ``transform(x, generator=None)``), returned as it is.

    Raises:
        TypeError: ``noise`` is none of these.
        ValueError: a dict without a ``"name"`` entry; an unknown name or keyword (the
            registry's errors, which list what exists).

    Example:
        >>> resolve_noise({"name": "gaussian", "noise_factor": 0.3})
        GaussianNoise(noise_factor=0.3, clip=(0.0, 1.0))
        >>> resolve_noise("masking")
        Masking(p=0.25, value=0.0)
    """
    if isinstance(noise, str):
        return noise_registry.build(noise)
    if isinstance(noise, Mapping):
        if "name" not in noise:
            raise InvalidValueError(f"a noise dict needs a 'name' entry, got {dict(noise)!r}")
        rest = {k: v for k, v in noise.items() if k != "name"}
        if set(rest) == {"kwargs"} and isinstance(rest["kwargs"], Mapping):  # a config entry
            rest = dict(rest["kwargs"])
        return noise_registry.build(noise["name"], **rest)
    if isinstance(noise, nn.Module) or callable(noise):
        return noise
    raise InvalidTypeError(f"noise must be {NOISE_KINDS}; got {type(noise).__name__}")


def _takes_generator(transform: Callable[..., Any]) -> bool:
    """Whether ``transform`` accepts a ``generator=`` keyword (or any keywords)."""
    target = transform.forward if isinstance(transform, nn.Module) else transform
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return False
    return "generator" in params or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()
    )


def noisy_copy(x: Any, noise: Any, seed: int = 0) -> torch.Tensor:
    """A fixed noisy copy of ``x``: the noise transform applied with a generator seeded by ``seed``.

    The result is ``transform(x, generator=torch.Generator().manual_seed(seed))``, drawn on the
    transform's device (the CPU for the built-in transforms, whatever device ``x`` is on) and
    returned on ``x``'s device and dtype, so the same ``x``, noise settings and seed give the same
    copy everywhere. The global RNGs are left as they were (a transform that ignores the
    generator draws from the global RNG seeded by ``seed``, inside a fork of it).

    Args:
        x: a tensor (or array) of inputs ``(N, ...)``, in the model's pixel range.
        noise: see :func:`resolve_noise`: a name, a ``{"name": ..., **kwargs}`` dict, or a
            noise module such as ``model.noise``.
        seed: the seed of the draw.

    Raises:
        TypeError: ``x`` is not a tensor or array, or ``noise`` is not a noise transform.
        ValueError: ``seed`` is not an integer; an unknown noise name or keyword.

    Example:
        >>> import torch
        >>> from autoencoders.noise import GaussianNoise
        >>> x = torch.full((2, 1, 4, 4), 0.5)
        >>> a = noisy_copy(x, {"name": "gaussian", "noise_factor": 0.3}, seed=1)
        >>> b = GaussianNoise(0.3)(x, generator=torch.Generator().manual_seed(1))
        >>> torch.equal(a, b), torch.equal(a, noisy_copy(x, "gaussian", seed=2))
        (True, False)
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidValueError(f"seed must be an integer, got {seed!r}")
    if type(x).__module__.startswith("numpy"):
        x = torch.as_tensor(x)
    if not isinstance(x, torch.Tensor):
        raise InvalidTypeError(
            f"noisy_copy takes a tensor (or array) of inputs, got {type(x).__name__}"
        )
    transform = resolve_noise(noise)
    device = device_of(transform) if isinstance(transform, nn.Module) else torch.device("cpu")
    source = x.detach().to(device=device, dtype=torch.float32)
    generator = torch.Generator(device=device).manual_seed(seed)
    on_cuda = device.type == "cuda"
    forked = [device.index if device.index is not None else 0] if on_cuda else []
    with torch.random.fork_rng(devices=forked, device_type="cuda"):
        torch.default_generator.manual_seed(seed)
        if on_cuda:
            with torch.cuda.device(device):
                torch.cuda.manual_seed(seed)
        with torch.no_grad():
            if _takes_generator(transform):
                out = transform(source, generator=generator)
            else:
                out = transform(source)
    if not isinstance(out, torch.Tensor) or out.shape != source.shape:
        raise InvalidTypeError(
            f"the noise transform {transform!r} must return a tensor of the input's shape "
            f"{tuple(source.shape)}, got {getattr(out, 'shape', type(out).__name__)}"
        )
    return out.to(device=x.device, dtype=x.dtype if x.is_floating_point() else torch.float32)


def denoising_mse(
    model: Any, data: Any, *, noise: Any = None, seed: int = 0, batch_size: int = 256
) -> float:
    """Mean squared error per pixel of the reconstruction of a noisy copy against the clean data.

    ``mean((reconstruct(noisy_copy(x, noise, seed)) - x)**2)`` over every pixel of every
    sample: :func:`~autoencoders.metrics.mse_per_pixel` with noisy inputs and clean targets.
    The whole noisy copy is drawn once, before batching, so ``batch_size`` does not change it.

    Args:
        model: the autoencoder.
        data: the clean data (see :mod:`autoencoders.metrics`), usually the test split.
        noise: the corruption (see :func:`resolve_noise`); default the model's own
            ``model.noise``.
        seed: the seed of the noisy copy.
        batch_size: samples per forward pass.

    Raises:
        ValueError: ``noise`` is None and the model has no noise transform; empty data.

    Example:
        >>> import torch, autoencoders
        >>> dae = autoencoders.build("dae", h=16, z=2, noise_factor=0.3)
        >>> x = torch.rand(8, 1, 28, 28)
        >>> noisy = noisy_copy(x, dae.noise, seed=0)
        >>> with torch.no_grad():
        ...     by_hand = float((dae.reconstruct(noisy) - x).pow(2).mean())
        >>> abs(denoising_mse(dae, x, batch_size=3) - by_hand) < 1e-6
        True
    """
    batch_size = check_positive(batch_size, "batch_size")
    net = unwrap_model(model)
    if noise is None:
        noise = getattr(net, "noise", None)
        if noise is None:
            raise InvalidValueError(
                f"model {getattr(net, 'name', None) or type(net).__name__!r} has no noise "
                f"transform; pass noise= ({NOISE_KINDS}), e.g. noise='gaussian'"
            )
    device = device_of(net)
    clean, labels = gather(data, what="the denoising data")
    clean = as_model_input(clean, net, torch.device("cpu"))
    noisy = noisy_copy(clean, noise, seed=seed)
    total = torch.zeros((), dtype=torch.float64, device=device)
    with evaluating(net):
        for i in range(0, len(clean), batch_size):
            target = clean[i : i + batch_size].to(device, non_blocking=True)
            lab = label_kwargs(net, None if labels is None else labels[i : i + batch_size])
            noisy_batch = noisy[i : i + batch_size].to(device, non_blocking=True)
            r = net.reconstruct(noisy_batch, **lab).float()
            total += (r - target).pow(2).sum(dtype=torch.float64)
    return float(total) / clean.numel()
