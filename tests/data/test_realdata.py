"""Real Fashion-MNIST from Debian's package dataset-fashion-mnist (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from autoencoders import data
from autoencoders.data import load_dataset

FASHION = Path("/usr/share/datasets/fashion-mnist")
IDX_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
requires_fashion = pytest.mark.skipif(
    not all((FASHION / f"{n}.gz").is_file() for n in IDX_NAMES),
    reason="Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)",
)


@pytest.mark.realdata
@requires_fashion
def test_real_fashion_mnist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(data.locate, "DEBIAN_DATASETS_DIR", FASHION.parent)
    s = load_dataset("fashion-mnist")
    assert s.sizes() == {"train": 54000, "val": 6000, "test": 10000}
    assert s.source == str(FASHION)
    x, y = s.tensors("test")
    assert x.shape == (10000, 1, 28, 28) and x.dtype == torch.float32
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert torch.equal(torch.bincount(y), torch.full((10,), 1000))
    mean = float(s.tensors("train")[0].mean())
    assert 0.27 < mean < 0.30  # Fashion-MNIST's well-known mean intensity, 0.286
