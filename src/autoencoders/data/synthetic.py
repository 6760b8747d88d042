"""Generated face-like images, registered as ``"synthetic_faces"``: a stand-in for CelebA.

CelebA cannot be downloaded everywhere (and is 1.4 GB). These images are drawn from a seeded
generator instead: a background gradient, a skin-toned oval face with hair, two eyes and a
mouth, each with a random position, size and colour. They exercise the 64x64 face VAE's data
path, training and figures end to end; they are not faces, and results on them say nothing
about CelebA.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from autoencoders.data._checks import PixelRangeLike, check_limit, check_seed
from autoencoders.data.splits import DataSplits
from autoencoders.data.tensors import from_tensors
from autoencoders.errors import InvalidValueError
from autoencoders.registry import datasets

__all__ = ["draw_faces", "synthetic_faces"]


def _ellipse(
    yy: torch.Tensor, xx: torch.Tensor, cy: torch.Tensor, cx: torch.Tensor, ry: Any, rx: Any
) -> torch.Tensor:
    """(N, H, W) masks, 1 inside the ellipse of centre (cy, cx) and radii (ry, rx)."""
    dy = (yy - cy[:, None, None]) / torch.as_tensor(ry)[..., None, None]
    dx = (xx - cx[:, None, None]) / torch.as_tensor(rx)[..., None, None]
    return ((dy**2 + dx**2) <= 1.0).float()


def draw_faces(n: int, image_size: int = 64, *, seed: int = 0) -> torch.Tensor:
    """``n`` generated face-like RGB images, ``(n, 3, image_size, image_size)`` uint8.

    Example:
        >>> x = draw_faces(4, 32, seed=1)
        >>> x.shape, x.dtype, bool((x == draw_faces(4, 32, seed=1)).all())
        (torch.Size([4, 3, 32, 32]), torch.uint8, True)
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise InvalidValueError(f"n must be a positive integer, got {n!r}")
    if not isinstance(image_size, int) or isinstance(image_size, bool) or image_size < 8:
        raise InvalidValueError(f"image_size must be an integer >= 8, got {image_size!r}")
    g = torch.Generator().manual_seed(check_seed(seed))

    def u(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, *shape, generator=g)

    s = float(image_size)
    grid = (torch.arange(image_size, dtype=torch.float32) + 0.5) / s
    yy = grid[None, :, None].expand(n, image_size, image_size)
    xx = grid[None, None, :].expand(n, image_size, image_size)
    # background: a vertical gradient between two random colours
    top, bottom = u(0.1, 0.9, 3), u(0.1, 0.9, 3)
    img = top[:, :, None, None] * (1 - yy[:, None]) + bottom[:, :, None, None] * yy[:, None]
    cy, cx = u(0.45, 0.55), u(0.42, 0.58)
    ry, rx = u(0.30, 0.38), u(0.22, 0.30)
    hair = u(0.05, 0.45, 3) * u(0.3, 1.0)[:, None]
    skin = torch.stack([u(0.55, 0.95), u(0.40, 0.75), u(0.30, 0.60)], 1)

    def paint(mask: torch.Tensor, colour: torch.Tensor) -> None:
        nonlocal img
        m = mask[:, None]
        img = img * (1 - m) + colour[:, :, None, None] * m

    paint(_ellipse(yy, xx, cy - 0.08, cx, ry * 1.05, rx * 1.15), hair)
    paint(_ellipse(yy, xx, cy + 0.03, cx, ry * 0.92, rx), skin)
    eye_y, eye_dx = cy - ry * u(0.05, 0.25), rx * u(0.35, 0.5)
    eye_r = ry * u(0.07, 0.12)
    iris = u(0.0, 0.4, 3)
    for side in (-1.0, 1.0):
        paint(_ellipse(yy, xx, eye_y, cx + side * eye_dx, eye_r, eye_r * 1.4), iris)
    mouth_y, mouth_w = cy + ry * u(0.40, 0.60), rx * u(0.35, 0.6)
    lips = torch.stack([u(0.5, 0.9), u(0.1, 0.3), u(0.1, 0.35)], 1)
    paint(_ellipse(yy, xx, mouth_y, cx, ry * u(0.05, 0.12), mouth_w), lips)
    tilt = u(-0.03, 0.03)  # a little shading across the face
    img = img * (1 + tilt[:, None, None, None] * (xx[:, None] - 0.5) * math.pi)
    return (img.clamp(0, 1) * 255).round().to(torch.uint8)


@datasets.register("synthetic_faces", aliases=("faces",))
def synthetic_faces(
    n: int = 2000,
    *,
    image_size: int = 64,
    seed: int = 0,
    pixel_range: PixelRangeLike = "auto",
    limit: int | None = None,
) -> DataSplits:
    """Splits of :func:`draw_faces` images (80 / 10 / 10 %), at ``image_size`` x ``image_size``.

    ``limit`` caps each split like every dataset's ``limit``; ``pixel_range`` is the range the
    uint8 pixels are scaled to (``"auto"``: [0, 1]).

    Example:
        >>> from autoencoders.data import load_dataset
        >>> d = load_dataset("synthetic_faces", n=50, image_size=16)
        >>> d.input_shape, len(d.train), len(d.val), len(d.test)
        ((3, 16, 16), 40, 5, 5)
    """
    x = draw_faces(n, image_size, seed=seed)
    return from_tensors(
        x,
        val_fraction=0.1,
        test_fraction=0.1,
        split_seed=seed,
        pixel_range=pixel_range,
        name="synthetic_faces",
        limit=check_limit(limit),
    )
