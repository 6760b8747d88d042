"""from_tensors: arrays and tensors already in memory as splits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from autoencoders.data import from_tensors


def test_from_numpy_uint8_is_scaled() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(100, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, size=100)
    s = from_tensors(x, y, val_size=10, test_fraction=0.2, split_seed=1)
    assert s.sizes() == {"train": 70, "val": 10, "test": 20}
    assert s.input_shape == (1, 28, 28) and s.num_classes == int(y.max()) + 1
    xs = torch.cat([s.tensors(k)[0] for k in ("train", "val", "test")])
    ys = torch.cat([s.tensors(k)[1] for k in ("train", "val", "test")])
    order = np.lexsort(x.reshape(100, -1)[:, :8].T[::-1])
    back = (xs * 255).round().to(torch.uint8).numpy()[:, 0]
    order_back = np.lexsort(back.reshape(100, -1)[:, :8].T[::-1])
    np.testing.assert_array_equal(back[order_back], x[order])  # same images, reordered
    np.testing.assert_array_equal(ys.numpy()[order_back], y[order])  # labels travel along


def test_from_tensors_float_passthrough_channels_last_and_test_set() -> None:
    x = torch.rand(30, 8, 8, 3) * 2 - 1
    s = from_tensors(x, test_x=torch.rand(5, 8, 8, 3), val_fraction=0.2, flatten=False)
    assert s.input_shape == (3, 8, 8) and s.pixel_range == (-1.0, 1.0)
    assert s.sizes() == {"train": 24, "val": 6, "test": 5}
    xt = torch.cat([s.tensors("train")[0], s.tensors("val")[0]])
    assert torch.allclose(xt.sum(0), x.permute(0, 3, 1, 2).sum(0), atol=1e-4)
    assert s.num_classes is None
    vec = from_tensors(torch.rand(10, 5), channels_last=False, test_fraction=0.0)
    assert vec.input_shape == (5,)
    assert isinstance(vec.train, TensorDataset)


def test_from_tensors_errors() -> None:
    with pytest.raises(ValueError, match="3 labels for 10 items"):
        from_tensors(torch.rand(10, 4), torch.arange(3))
    with pytest.raises(TypeError, match="integer labels"):
        from_tensors(torch.rand(10, 4), torch.rand(10))
    with pytest.raises(TypeError, match="dtype"):
        from_tensors(torch.arange(40).reshape(10, 4))
    with pytest.raises(TypeError, match="torch.Tensor or numpy.ndarray"):
        from_tensors([[1.0, 2.0]])
    with pytest.raises(ValueError, match="test_y given without test_x"):
        from_tensors(torch.rand(10, 4), test_y=torch.arange(2))
