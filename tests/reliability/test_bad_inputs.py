"""Bad inputs to a model and to the Trainer: each converted by a written rule or refused with a
library error naming the value, where it was found and what is accepted."""

from __future__ import annotations

import pytest
import torch

import autoencoders
from autoencoders.errors import (
    AutoencodersError,
    InputTypeError,
    InvalidInputError,
    NonFiniteDataError,
    NonFiniteLossError,
)
from autoencoders.training import Trainer

SHAPE = (1, 8, 8)


def _vae(**kw):
    torch.manual_seed(0)
    return autoencoders.build("vae", h=16, z=3, input_shape=SHAPE, **kw).eval()


# -- converted ----------------------------------------------------------------------------------
def test_uint8_images_are_scaled_to_the_pixel_range() -> None:
    x = torch.randint(0, 256, (4, *SHAPE), dtype=torch.uint8)
    for model in (_vae(), _vae(output_activation="tanh")):
        lo, hi = model.pixel_range
        want = model.reconstruct(x.float() / 255 * (hi - lo) + lo)
        assert torch.equal(model.reconstruct(x), want)


def test_float64_and_float16_images_and_codes_are_cast() -> None:
    model = _vae()
    x = torch.rand(4, *SHAPE)
    for dtype in (torch.float64, torch.float16, torch.bfloat16):
        assert torch.equal(model.encode(x.to(dtype)), model.encode(x.to(dtype).float()))
        z = torch.randn(2, 3)
        assert torch.equal(model.decode(z.to(dtype)), model.decode(z.to(dtype).float()))


# -- refused ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "dtype", [torch.int64, torch.int32, torch.int16, torch.bool, torch.complex64]
)
@pytest.mark.parametrize("method", ["forward", "encode", "reconstruct"])
def test_integer_bool_and_complex_images_are_refused(dtype: torch.dtype, method: str) -> None:
    model = _vae()
    x = torch.zeros(2, *SHAPE, dtype=dtype)
    call = model if method == "forward" else getattr(model, method)
    with pytest.raises(InputTypeError, match=rf"got x of dtype {dtype}; accepted: floating"):
        call(x)


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.uint8])
def test_integer_codes_are_refused(dtype: torch.dtype) -> None:
    with pytest.raises(InputTypeError, match=rf"latent codes z of dtype {dtype}"):
        _vae().decode(torch.zeros(2, 3, dtype=dtype))


def test_a_tensor_on_another_device_is_refused_naming_both() -> None:
    model = _vae()
    with pytest.raises(InvalidInputError, match=r"got x on meta, but the model is on cpu"):
        model(torch.zeros(2, *SHAPE, device="meta"))
    with pytest.raises(InvalidInputError, match=r"got z on meta, but the model is on cpu"):
        model.decode(torch.zeros(2, 3, device="meta"))


@pytest.mark.parametrize("bad", [[[0.0] * 64], "x", None, 3.0])
def test_non_tensors_are_refused(bad) -> None:
    with pytest.raises(InputTypeError, match="takes a torch.Tensor"):
        _vae()(bad)
    with pytest.raises(InputTypeError, match="takes a torch.Tensor"):
        _vae().decode(bad)


def test_wrong_shapes_are_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"expects inputs of shape \(N, 1, 8, 8\)"):
        _vae()(torch.zeros(2, 1, 9, 8))


# -- data ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_training_data_is_refused_with_count_and_index(value: float) -> None:
    x = torch.rand(40, *SHAPE)
    x[17, 0, 3, 3] = value
    x[30, 0, 0, 0] = value
    trainer = Trainer(_vae(), epochs=1, batch_size=8, progress=False)
    with pytest.raises(NonFiniteDataError, match=r"train data hold 2 non-finite values.*sample 17"):
        trainer.fit(x)
    assert trainer.history.records == []  # refused before any step


def test_non_finite_validation_data_is_refused_before_training(tmp_path) -> None:
    val = torch.rand(16, *SHAPE)
    val[5] = float("nan")
    trainer = Trainer(_vae(), epochs=1, batch_size=8, progress=False, checkpoint_dir=tmp_path)
    with pytest.raises(NonFiniteDataError, match=r"val data hold 64 non-finite.*sample 5"):
        trainer.fit(torch.rand(16, *SHAPE), val)
    assert not any(tmp_path.iterdir())


def test_integer_training_data_is_refused() -> None:
    trainer = Trainer(_vae(), epochs=1, batch_size=8, progress=False)
    with pytest.raises(InputTypeError, match=r"has dtype torch.int64.*x.float\(\) / 255"):
        trainer.fit(torch.zeros(16, *SHAPE, dtype=torch.int64))


class _NaNInEval:
    """A loss that is finite in training and NaN in evaluation (an overflowing model)."""

    def __init__(self, model) -> None:
        self.inner = autoencoders.losses.default_loss(model)

    def __call__(self, out, x):
        res = self.inner(out, x)
        if torch.is_grad_enabled():
            return res
        return type(res)(total=res.total * float("nan"), parts=res.parts)


def test_a_non_finite_validation_loss_stops_with_a_clear_error(tmp_path) -> None:
    model = _vae()
    trainer = Trainer(
        model, loss=_NaNInEval(model), epochs=3, batch_size=8, progress=False,
        checkpoint_dir=tmp_path, early_stopping=1,
    )  # fmt: skip
    with pytest.raises(NonFiniteLossError, match=r"non-finite validation loss after epoch 1"):
        trainer.fit(torch.rand(16, *SHAPE), torch.rand(8, *SHAPE))
    # best/ was not written from a NaN, and early stopping never saw it
    assert not (tmp_path / "best").exists()
    assert trainer.history.records == []


def test_every_error_here_is_a_library_error() -> None:
    for cls in (InputTypeError, InvalidInputError, NonFiniteDataError, NonFiniteLossError):
        assert issubclass(cls, AutoencodersError)
    assert issubclass(InputTypeError, TypeError) and issubclass(InvalidInputError, ValueError)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
def test_the_finiteness_check_is_exact_where_the_fast_sum_is_not(dtype: torch.dtype) -> None:
    """The check sums first; a sum that overflows must not refuse finite data, and values
    that cancel (+inf and -inf, NaN among large ones) must still be found."""
    from autoencoders._inputs import check_finite

    big = torch.finfo(dtype).max
    finite = torch.full((8, 4), big, dtype=dtype)  # its sum overflows to inf
    check_finite(finite, "train data")
    check_finite(-finite, "train data")
    for bad_values, count in (([float("inf"), float("-inf")], 2), ([float("nan")], 1)):
        t = finite.clone()
        for i, v in enumerate(bad_values):
            t[3 + i, i] = v
        with pytest.raises(NonFiniteDataError, match=rf"{count} non-finite values?.*sample 3"):
            check_finite(t, "train data")
    small = torch.rand(8, 4).to(dtype)
    check_finite(small, "train data")
    small[5, 2] = float("nan")
    with pytest.raises(NonFiniteDataError, match="sample 5"):
        check_finite(small, "train data")
