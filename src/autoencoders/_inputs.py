"""How tensors handed to a model are checked and converted: one rule, written down once.

The model's methods (``forward``, ``encode``, ``decode``, ``reconstruct``) call
:func:`model_input` and :func:`code_input`; the datasets call :func:`check_finite`.

The rules (also on the documentation's Reliability page):

* **images** ``x``: ``uint8`` is converted, 0..255 scaled to the model's pixel range
  (0 -> low, 255 -> high, in the model's floating dtype); any floating dtype is cast to the
  model's dtype (float64 data to a float32 model, say), which loses nothing the model could
  use; ``bool``, the other integer dtypes and complex numbers are refused
  (:class:`~autoencoders.errors.InputTypeError`): an ``int64`` image may hold 0..255 or
  class indices, and guessing would be silently wrong;
* **codes** ``z``: floating dtypes are cast to the model's dtype; integer, ``bool`` and complex
  codes are refused;
* **devices**: a tensor on another device than the model is refused
  (:class:`~autoencoders.errors.InvalidInputError` naming both): moving it would hide a copy
  on every call;
* **shapes**: a batch of the wrong shape is refused, naming the shape expected.

Nothing here is public API.
"""

from __future__ import annotations

from typing import Any

import torch

from autoencoders.errors import InputTypeError, InvalidInputError, NonFiniteDataError

__all__ = ["check_finite", "code_input", "model_input"]


def _reference(module: torch.nn.Module) -> tuple[torch.dtype, torch.device] | None:
    for p in module.parameters():
        if p.is_floating_point():
            return p.dtype, p.device
    return None


def _to_model(
    module: torch.nn.Module,
    t: torch.Tensor,
    method: str,
    name: str,
    refused: str,
    pixel_range: tuple[float, float] | None = None,
) -> torch.Tensor:
    """``t`` on the model's device (else refused) in its floating dtype: floats are cast,
    uint8 scaled to ``pixel_range`` when one is given, anything else refused (``refused``
    says what is accepted)."""
    ref = _reference(module)
    if ref is None:
        return t
    dtype, device = ref
    if t.device != device:
        raise InvalidInputError(
            f"{method} got {name} on {t.device}, but the model is on {device}; move one of "
            f"them (e.g. {name}.to({str(device)!r}) or model.to({str(t.device)!r}))"
        )
    if t.dtype == dtype:
        return t
    if t.is_floating_point():
        return t.to(dtype)
    if t.dtype == torch.uint8 and pixel_range is not None:
        lo, hi = pixel_range
        out = t.to(dtype) / 255.0
        return out if (lo, hi) == (0.0, 1.0) else out * (hi - lo) + lo
    why = refused.format(dtype=t.dtype, model_dtype=dtype, pixel_range=pixel_range)
    raise InputTypeError(f"{method} got {why}")


#: What :func:`model_input` accepts, formatted only when it refuses something.
_REFUSED_IMAGES = (
    "x of dtype {dtype}; accepted: floating-point images in the model's pixel range "
    "{pixel_range} (any float dtype, cast to {model_dtype}) or uint8 images 0..255 "
    "(scaled to that range). Convert other integer images yourself, e.g. x.float() / 255"
)


def model_input(
    module: torch.nn.Module,
    x: Any,
    method: str,
    shape: tuple[int, ...] | None,
    pixel_range: tuple[float, float],
) -> torch.Tensor:
    """``x`` checked against ``shape`` and converted by the rules above.

    Example:
        >>> import autoencoders
        >>> m = autoencoders.build("ae", h=8, z=2)
        >>> x = model_input(m, torch.full((1, 1, 28, 28), 255, dtype=torch.uint8), "f",
        ...                 (1, 28, 28), (0.0, 1.0))
        >>> x.dtype, float(x.max())
        (torch.float32, 1.0)
    """
    if not isinstance(x, torch.Tensor):
        raise InputTypeError(f"{method} takes a torch.Tensor x, got {type(x).__name__}")
    if shape is not None and tuple(x.shape[1:]) != tuple(shape):
        raise InvalidInputError(
            f"{method} expects inputs of shape (N, {', '.join(map(str, shape))}), "
            f"got shape {tuple(x.shape)}"
        )
    return _to_model(
        module,
        x,
        method,
        "x",
        _REFUSED_IMAGES,
        pixel_range,
    )


def code_input(module: torch.nn.Module, z: Any, method: str, z_dim: int) -> torch.Tensor:
    """Latent codes ``z`` of shape ``(N, z_dim)``, cast to the model's floating dtype.

    Example:
        >>> import autoencoders
        >>> m = autoencoders.build("ae", h=8, z=2)
        >>> code_input(m, torch.zeros(3, 2, dtype=torch.float64), "decode", 2).dtype
        torch.float32
    """
    if not isinstance(z, torch.Tensor):
        raise InputTypeError(f"{method} takes a torch.Tensor z, got {type(z).__name__}")
    if z.dim() != 2 or z.shape[1] != z_dim:
        raise InvalidInputError(
            f"{method} expects latent codes of shape (N, {z_dim}), got shape {tuple(z.shape)}"
        )
    return _to_model(
        module,
        z,
        method,
        "z",
        "latent codes z of dtype {dtype}; accepted: floating-point codes (any float dtype, "
        "cast to {model_dtype})",
    )


def check_finite(t: torch.Tensor, what: str) -> None:
    """Raise :class:`~autoencoders.errors.NonFiniteDataError` when ``t`` holds NaN or infinity.

    Integer tensors are always finite. The check is one vectorised sum (7 ms for the 60,000
    Fashion-MNIST images, against 150-190 ms for ``torch.isfinite(t).all()``): a sum of
    values that include NaN or an infinity is never finite, so a finite sum proves every
    value finite. Only a sum that is not finite (such data, or a sum that overflowed) is
    looked at value by value.

    Example:
        >>> check_finite(torch.ones(4, 3), "training images")
        >>> t = torch.ones(4, 3); t[2, 1] = float("nan"); t[3, 0] = float("inf")
        >>> check_finite(t, "training images")
        Traceback (most recent call last):
          ...
        autoencoders.errors.NonFiniteDataError: training images hold 2 non-finite values (NaN or infinity), the first in sample 2; clean or drop those samples before training
    """
    if not t.is_floating_point() or t.numel() == 0:
        return
    wide = torch.float32 if t.element_size() < 4 else None  # fp16/bf16 would overflow sooner
    if bool(torch.isfinite(t.sum(dtype=wide))):
        return
    bad = ~torch.isfinite(t)
    if not bool(bad.any()):
        return
    per_sample = bad.reshape(len(t), -1).any(dim=1) if t.dim() > 0 else bad.reshape(1)
    first = int(per_sample.nonzero()[0, 0])
    raise NonFiniteDataError(what, int(bad.sum()), first)
