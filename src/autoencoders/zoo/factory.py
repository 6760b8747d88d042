"""The public factory: :func:`build` (a registered architecture by name) and :func:`list_models`."""

from __future__ import annotations

from typing import Any

from torch import nn

from autoencoders.errors import InvalidTypeError
from autoencoders.model import Autoencoder, to_jsonable
from autoencoders.registry import (
    UnknownArgumentError,
    accepted_parameters,
    check_kwargs,
    did_you_mean,
    models,
)
from autoencoders.registry import noise as noise_registry
from autoencoders.zoo.compose import build_noise

__all__ = ["build", "list_models"]


def build(name: str, /, *, noise: Any = None, **kwargs: Any) -> Autoencoder:
    """Build the architecture registered as ``name`` with keyword arguments.

    ``noise`` (a registered noise-transform name, a ``{"name": ..., **kwargs}`` dict, or a
    module) turns any model into a denoising one; keywords that the architecture does not take
    but the noise transform does (``noise_factor``, ``p``, ``clip``, ...) go to the transform.

    Args:
        name: a registered architecture name or alias (see :func:`list_models`).
        noise: optional corruption applied in training mode.
        **kwargs: the architecture's keyword arguments.

    Raises:
        UnknownNameError: ``name`` is not registered (the message suggests a close match).
        UnknownArgumentError: a keyword neither the architecture nor the noise transform takes.

    Example:
        >>> import autoencoders
        >>> model = autoencoders.build("vae", h=400, z=20)
        >>> model.z_dim, model.is_variational
        (20, True)
        >>> autoencoders.build("vea")
        Traceback (most recent call last):
          ...
        autoencoders.errors.UnknownNameError: unknown model 'vea'; did you mean 'vae'? ...
    """
    key = models.canonical(name)
    builder = models.get(key)
    accepted, var_kw = accepted_parameters(builder)
    model_kwargs = {k: v for k, v in kwargs.items() if var_kw or k in accepted}
    extra = {k: v for k, v in kwargs.items() if k not in model_kwargs}
    if extra:
        if noise is None:
            check_kwargs(f"model {key!r}", builder, kwargs)  # raises, naming the bad keyword
        else:
            noise_accepted: list[str] = []
            if not isinstance(noise, nn.Module):
                noise_name = noise.get("name") if isinstance(noise, dict) else noise
                noise_accepted, _ = accepted_parameters(noise_registry.get(noise_name))
            unknown = [k for k in extra if k not in noise_accepted]
            if unknown:
                options = accepted + noise_accepted
                raise UnknownArgumentError(
                    f"model {key!r} with noise {noise!r} got unexpected keyword argument "
                    f"{unknown[0]!r}{did_you_mean(unknown[0], options)} Accepted: "
                    f"{', '.join(accepted)} (model); {', '.join(noise_accepted) or '(none)'} "
                    "(noise transform)."
                )
    model = models.build(key, **model_kwargs)
    if not isinstance(model, Autoencoder):
        raise InvalidTypeError(
            f"model builder {key!r} returned {type(model).__name__}, not an autoencoders.Autoencoder"
        )
    if noise is not None:
        model.noise = build_noise(noise, extra)
    record = dict(kwargs)
    if noise is not None and not isinstance(noise, nn.Module):
        record["noise"] = noise
    try:
        arch_kwargs = to_jsonable(record, f"arguments of model {key!r}")
    except TypeError:
        arch_kwargs = None
    model.architecture = {"name": key, "kwargs": arch_kwargs}
    return model


def list_models(pattern: str | None = None) -> list[str]:
    """Names of the registered architectures (plugins included), sorted.

    Args:
        pattern: optional shell-style filter such as ``"*vae*"``; case does not matter and
            ``-`` matches ``_``.

    Raises:
        TypeError: ``pattern`` is neither a string nor None.

    Example:
        >>> import autoencoders
        >>> autoencoders.list_models("*vae")
        ['beta_vae', 'conv_vae', 'cvae', 'vae', 'vq_vae']
    """
    return models.names(pattern)
