"""Noise (corruption) transforms for denoising autoencoders.

A noise transform is a registered callable on a batch. A model that holds one applies it to
the encoder's input in training mode only; the loss still compares with the clean input.
Each transform takes an optional :class:`torch.Generator`, so corruption is reproducible::

    >>> import torch
    >>> from autoencoders.noise import GaussianNoise
    >>> noisy = GaussianNoise(noise_factor=0.5)
    >>> x = torch.full((2, 1, 4, 4), 0.5)
    >>> a = noisy(x, generator=torch.Generator().manual_seed(0))
    >>> b = noisy(x, generator=torch.Generator().manual_seed(0))
    >>> torch.equal(a, b), bool(a.min() >= 0 and a.max() <= 1)
    (True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch

from autoencoders.blocks.base import Block
from autoencoders.errors import InputTypeError, InvalidValueError
from autoencoders.registry import noise

__all__ = ["GaussianNoise", "Masking", "NoiseTransform", "SaltAndPepper"]


def _probability(p: float, what: str = "p") -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise InvalidValueError(f"{what} must be a probability in [0, 1], got {p!r}")
    return float(p)


def _clip(clip: Sequence[float] | None) -> tuple[float, float] | None:
    if clip is None:
        return None
    if isinstance(clip, str) or len(clip) != 2 or not clip[0] < clip[1]:
        raise InvalidValueError(f"clip must be None or (low, high) with low < high, got {clip!r}")
    return float(clip[0]), float(clip[1])


def _floats(transform: object, x: torch.Tensor) -> torch.Tensor:
    """``x`` itself if it is a floating tensor, else an InputTypeError naming the transform."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        got = f"dtype {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise InputTypeError(
            f"{type(transform).__name__} corrupts floating images, got {got}; scale integer "
            "pixels first (x.float() / 255)"
        )
    return x


def _uniform(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)


class NoiseTransform(Block):
    """Base class: ``forward(x, generator=None)`` returns a corrupted copy of the batch ``x``.

    Draw any randomness from ``generator`` (when given) so that corruption is reproducible.
    Register a subclass with :func:`autoencoders.register_noise` to use it by name.

    Example:
        >>> class Invert(NoiseTransform):
        ...     def forward(self, x, generator=None):
        ...         return 1 - x
        >>> Invert()(torch.zeros(1, 3)).tolist()
        [[1.0, 1.0, 1.0]]
    """

    registry_kind: ClassVar[str] = "noise transform"

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError


@noise.register("gaussian", aliases=("gaussian_noise", "normal"))
class GaussianNoise(NoiseTransform):
    """``x + noise_factor * N(0, 1)``, clipped to ``clip`` (default ``(0, 1)``; None: no clip).

    This is the classic Keras denoising recipe (``noise_factor=0.5``, then ``np.clip(.., 0, 1)``).

    Example:
        >>> GaussianNoise(noise_factor=0.0)(torch.ones(1, 3)).tolist()
        [[1.0, 1.0, 1.0]]
    """

    def __init__(
        self, noise_factor: float = 0.5, clip: Sequence[float] | None = (0.0, 1.0)
    ) -> None:
        super().__init__()
        if (
            isinstance(noise_factor, bool)
            or not isinstance(noise_factor, (int, float))
            or not 0 <= noise_factor < float("inf")
        ):
            raise InvalidValueError(f"noise_factor must be a number >= 0, got {noise_factor!r}")
        self.noise_factor = float(noise_factor)
        self.clip = _clip(clip)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        eps = torch.randn(
            _floats(self, x).shape, generator=generator, device=x.device, dtype=x.dtype
        )
        out = x + self.noise_factor * eps
        return out.clamp(*self.clip) if self.clip is not None else out

    def extra_repr(self) -> str:
        return f"noise_factor={self.noise_factor}, clip={self.clip}"


@noise.register("masking", aliases=("dropout", "mask"))
class Masking(NoiseTransform):
    """Set each value to ``value`` (default 0) with probability ``p``: masking noise.

    Unlike :class:`torch.nn.Dropout` it does not rescale the kept values.

    Example:
        >>> Masking(p=1.0)(torch.ones(1, 4)).tolist()
        [[0.0, 0.0, 0.0, 0.0]]
    """

    def __init__(self, p: float = 0.25, value: float = 0.0) -> None:
        super().__init__()
        self.p = _probability(p)
        self.value = float(value)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        drop = _uniform(_floats(self, x), generator) < self.p
        return x.masked_fill(drop, self.value)

    def extra_repr(self) -> str:
        return f"p={self.p}, value={self.value}"


@noise.register("salt_and_pepper", aliases=("salt_pepper", "impulse"))
class SaltAndPepper(NoiseTransform):
    """With probability ``p`` replace a value by ``low`` or ``high`` (each half the time).

    Example:
        >>> out = SaltAndPepper(p=1.0)(torch.full((1, 1000), 0.5),
        ...                            generator=torch.Generator().manual_seed(0))
        >>> sorted(set(out.flatten().tolist()))
        [0.0, 1.0]
    """

    def __init__(self, p: float = 0.1, low: float = 0.0, high: float = 1.0) -> None:
        super().__init__()
        self.p = _probability(p)
        if not low < high:
            raise InvalidValueError(
                f"salt_and_pepper needs low < high, got low={low!r}, high={high!r}"
            )
        self.low, self.high = float(low), float(high)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        u = _uniform(_floats(self, x), generator)
        salt = _uniform(x, generator) < 0.5
        hit = u < self.p
        out = x.masked_fill(hit & salt, self.high)
        return out.masked_fill(hit & ~salt, self.low)

    def extra_repr(self) -> str:
        return f"p={self.p}, low={self.low}, high={self.high}"
