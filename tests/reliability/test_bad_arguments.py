"""Arguments that used to be coerced or accepted silently are refused, naming the value: the
probes of an adversarial review (sizes, switches, weights, loss targets, empty loaders, data out
of the output's range, a model whose config cannot describe it)."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import autoencoders
from autoencoders.errors import DataRangeWarning
from autoencoders.losses import ELBOLoss, ReconstructionLoss
from autoencoders.noise import GaussianNoise
from autoencoders.training import Trainer


@pytest.mark.parametrize(
    ("name", "kwargs", "error", "match"),
    [
        (
            "ae",
            {"hidden": [4.9]},
            ValueError,
            r"hidden must be a list of positive ints, got \[4.9\]",
        ),
        ("ae", {"hidden": "12"}, TypeError, "hidden must be a list of positive ints, got '12'"),
        ("ae", {"hidden": 64}, TypeError, "hidden must be a list of positive ints, got 64"),
        ("linear_ae", {"hidden": [True]}, ValueError, r"got \[True\] \(entry 0 is True\)"),
        ("conv_ae", {"channels": [3.5]}, ValueError, "channels must be a list of positive ints"),
        ("conv_vae", {"filters": [8, "x"]}, ValueError, "filters must be a list of positive ints"),
        ("conv_ae", {"batch_norm": "false"}, TypeError, "batch_norm must be True or False"),
        ("vq_vae", {"ema": "no"}, TypeError, "ema must be True or False, got 'no'"),
        ("dae", {"noise_factor": float("nan")}, ValueError, "noise_factor must be a number >= 0"),
        ("wae_mmd", {"weight": float("inf")}, ValueError, r"got inf \(finite only\)"),
        ("beta_vae", {"beta": float("inf")}, ValueError, "beta must be a number >= 0, got inf"),
    ],
)
def test_build_refuses_what_it_used_to_coerce(name, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        autoencoders.build(name, **kwargs)


def test_the_fixed_values_still_build() -> None:
    assert autoencoders.build("ae", hidden=(32, 16), z=4).encoder.out_features == 16
    assert autoencoders.build("linear_ae", hidden=[]).num_parameters() == 3_922
    assert any(
        isinstance(m, nn.BatchNorm2d)
        for m in autoencoders.build("conv_ae", batch_norm=True).modules()
    )
    with pytest.raises(ValueError, match="noise_factor must be a number >= 0, got inf"):
        GaussianNoise(noise_factor=float("inf"))
    with pytest.raises(ValueError, match=r"beta must be a number >= 0, got nan \(finite only\)"):
        ELBOLoss(beta=float("nan"))


def test_an_empty_batch_goes_through_a_dense_model() -> None:
    model = autoencoders.build("vae", h=8, z=2).eval()
    out = model(torch.rand(0, 1, 28, 28))
    assert out.logits.shape == (0, 1, 28, 28) and out.z.shape == (0, 2)


def test_a_loss_refuses_targets_that_are_not_the_float_batch() -> None:
    model = autoencoders.build("vae", h=8, z=2)
    x = torch.rand(4, 1, 28, 28)
    out = model(x)
    for loss in (ELBOLoss(), ReconstructionLoss("mse")):
        with pytest.raises(TypeError, match=r"got a torch.uint8 tensor; scale uint8 images"):
            loss(out, (x * 255).to(torch.uint8))
        with pytest.raises(TypeError, match="target must be the float batch .* got NoneType"):
            loss(out, None)
        with pytest.raises(TypeError, match="takes the model's output .* got Tensor"):
            loss(x, x)


def test_an_empty_dataloader_is_refused_before_training() -> None:
    model = autoencoders.build("ae", h=8, z=2)
    empty = DataLoader(TensorDataset(torch.rand(0, 1, 28, 28)), batch_size=4)
    with pytest.raises(ValueError, match=r"train DataLoader is empty \(0 batches over 0 samples\)"):
        Trainer(model, epochs=1, progress=False).fit(empty)
    short = DataLoader(TensorDataset(torch.rand(3, 1, 28, 28)), batch_size=4, drop_last=True)
    with pytest.raises(ValueError, match="drop_last=True with fewer samples than batch_size"):
        Trainer(model, epochs=1, progress=False).fit(short)


@pytest.mark.parametrize("name", ["progress"])
def test_trainer_switches_take_booleans_only(name: str) -> None:
    with pytest.raises(TypeError, match=f"{name} must be True or False, got 'no'"):
        Trainer(autoencoders.build("ae", h=8, z=2), **{name: "no"})


def test_data_outside_the_outputs_range_is_warned_about() -> None:
    x = torch.rand(32, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    sigmoid = autoencoders.build("vae", h=8, z=2)
    with pytest.warns(DataRangeWarning, match=r"values in \[.*\], outside \[0, 1\].* sigmoid"):
        # the warning comes before training; 0..255 targets may well overflow the KL then
        Trainer(sigmoid, epochs=1, progress=False, nonfinite="skip").fit(x * 255)
    tanh = autoencoders.build("ae", h=8, z=2, output_activation="tanh")
    with pytest.warns(DataRangeWarning, match=r"outside \[-1, 1\], the range of the model's tanh"):
        Trainer(tanh, epochs=1, progress=False).fit(x * 3 - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataRangeWarning)
        Trainer(sigmoid, epochs=1, progress=False).fit(x)  # in range: no warning
        Trainer(tanh, epochs=1, progress=False).fit(x * 2 - 1)
        linear = autoencoders.build("ae", h=8, z=2, output_activation="identity")
        Trainer(linear, epochs=1, progress=False).fit(x * 255)  # no bounded range to leave
        uint8 = (x * 255).to(torch.uint8)  # scaled to the pixel range per batch
        Trainer(sigmoid, epochs=1, progress=False).fit(uint8)


def test_save_refuses_a_model_its_config_cannot_rebuild_and_keeps_the_old_save(tmp_path) -> None:
    good = autoencoders.build("ae", h=8, z=2)
    autoencoders.save(good, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    grown = autoencoders.build("ae", h=8, z=2)
    grown.head = nn.Linear(2, 2)  # added after build(): the config does not record it
    with pytest.raises(ValueError, match=r"not in the config: \['head.bias', 'head.weight'\]"):
        autoencoders.save(grown, tmp_path)
    buffered = autoencoders.build("ae", h=8, z=2)
    buffered.register_buffer("extra", torch.zeros(2, dtype=torch.complex64))
    with pytest.raises(ValueError, match=r"not in the config: \['extra'\].*Nothing was written"):
        autoencoders.save(buffered, tmp_path)
    with pytest.raises(TypeError, match="save\\(\\) takes a folder path, got NoneType"):
        autoencoders.save(good, None)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    loaded = autoencoders.load(tmp_path)
    for a, b in zip(loaded.state_dict().values(), good.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_an_optimizer_value_torch_refuses_names_the_arguments() -> None:
    model = autoencoders.build("ae", h=8, z=2)
    with pytest.raises(TypeError, match=r"optimizer 'sgd' refused its arguments .*'fast'"):
        Trainer(model, optimizer="sgd", optimizer_kwargs={"momentum": "fast"})
    with pytest.raises(ValueError, match=r"refused its arguments .*Invalid momentum value: -1"):
        Trainer(model, optimizer="sgd", optimizer_kwargs={"momentum": -1})


def test_a_misspelt_trainer_keyword_suggests_the_right_one() -> None:
    from autoencoders.errors import UnknownArgumentError

    model = autoencoders.build("ae", h=8, z=2)
    with pytest.raises(
        UnknownArgumentError, match=r"'epoch'; did you mean 'epochs'\? Accepted: model, loss"
    ):
        Trainer(model, epoch=3)
    with pytest.raises(TypeError, match="progress must be True or False"):  # other errors pass
        Trainer(model, progress="yes")


def test_a_dataset_path_that_does_not_exist_is_named_as_a_folder() -> None:
    from autoencoders.data import load_dataset
    from autoencoders.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match=r"as a folder, '.*nonexistent_dir' does not exist"):
        load_dataset("./nonexistent_dir/")
    with pytest.raises(UnknownNameError, match="did you mean 'fashion-mnist'") as info:
        load_dataset("fashion-mnst")
    assert "as a folder" not in str(info.value)


@pytest.mark.parametrize("transform", ["gaussian", "masking", "salt_and_pepper"])
def test_noise_on_integer_pixels_asks_for_floats(transform: str) -> None:
    from autoencoders.errors import InputTypeError
    from autoencoders.registry import noise

    x = torch.randint(0, 256, (2, 1, 4, 4), dtype=torch.uint8)
    with pytest.raises(InputTypeError, match=r"got dtype torch.uint8; scale integer pixels"):
        noise.build(transform)(x)
    assert noise.build(transform)(x.float() / 255).dtype == torch.float32


def test_load_names_a_misspelt_device_before_reading(tmp_path) -> None:
    from autoencoders.errors import InvalidValueError

    model = autoencoders.build("ae", h=8, z=2)
    autoencoders.save(model, tmp_path)
    with pytest.raises(InvalidValueError, match=r"device must be 'auto', 'cpu'.*got 'gpu'"):
        autoencoders.load(tmp_path, device="gpu")
    assert autoencoders.load(tmp_path, device="auto").z_dim == 2


def test_keep_checkpoints_is_named_as_the_trainer_spells_it(tmp_path) -> None:
    model = autoencoders.build("ae", h=8, z=2)
    with pytest.raises(ValueError, match=r"keep_checkpoints must be an integer >= 1, got 0"):
        Trainer(model, keep_checkpoints=0, checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"in_memory_limit must be an integer >= 0, got '1G'"):
        Trainer(model, in_memory_limit="1G", progress=False)


def test_compose_takes_a_flat_size_as_a_shape() -> None:
    model = autoencoders.compose(784, z=4)
    assert model(torch.rand(3, 784)).logits.shape == (3, 784)
    with pytest.raises(ValueError, match=r"input_shape must be a non-empty sequence"):
        autoencoders.compose("784")


def _png(path, value: int) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (4, 4), value).save(path)


def test_an_image_folder_says_what_it_leaves_out(tmp_path) -> None:
    from autoencoders.data import load_image_folder

    for i in range(3):
        _png(tmp_path / "mixed" / "cats" / f"{i}.png", i)
        _png(tmp_path / "classes" / "cats" / f"{i}.png", i)
        _png(tmp_path / "classes" / "dogs" / f"{i}.png", 100 + i)
    _png(tmp_path / "mixed" / "stray.png", 9)
    (tmp_path / "classes" / "birds").mkdir()
    with pytest.warns(UserWarning, match=r"read as one flat, unlabelled set.*\['cats'\]"):
        flat = load_image_folder(tmp_path / "mixed", cache=False)
    assert flat.num_classes is None and sum(flat.sizes().values()) == 1
    with pytest.warns(UserWarning, match=r"the class folders \['birds'\] hold no images"):
        labelled = load_image_folder(tmp_path / "classes", cache=False)
    assert labelled.class_names == ("cats", "dogs")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the plain layouts load without a word
        assert load_image_folder(tmp_path / "classes" / "cats", cache=False).num_classes is None


def test_a_save_that_fails_to_write_its_config_keeps_the_old_save(tmp_path, monkeypatch) -> None:
    from autoencoders import io as model_io

    old = autoencoders.build("ae", h=8, z=2)
    autoencoders.save(old, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real = model_io.stage_bytes

    def disk_full_at_the_config(path, data):
        if path.name == model_io.CONFIG_NAME:
            raise OSError(28, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(model_io, "stage_bytes", disk_full_at_the_config)
    torch.manual_seed(1)
    with pytest.raises(OSError, match="No space left"):
        autoencoders.save(autoencoders.build("ae", h=8, z=2), tmp_path)
    # the weights were written in full, but not put in place: the old save, and no temporary
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = autoencoders.load(tmp_path)
    for a, b in zip(loaded.state_dict().values(), old.state_dict().values(), strict=True):
        assert torch.equal(a, b)


# -- an (x, y) pair of tensors, as the metrics take it ------------------------------------------
@pytest.mark.parametrize("name", ["ae", "cvae"])
@pytest.mark.parametrize("wrap", [tuple, list])
def test_fit_takes_an_x_y_pair_as_a_tensor_dataset(name: str, wrap) -> None:
    x = torch.rand(20, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    y = torch.arange(20) % 10
    losses = []
    for data in (wrap([x, y]), TensorDataset(x, y)):
        torch.manual_seed(0)
        model = autoencoders.build(name, h=8, z=2)
        history = Trainer(model, epochs=1, batch_size=8, progress=False, seed=0).fit(data)
        losses.append(history.records[-1]["train_loss"])
    assert losses[0] == losses[1]  # the same batches: before, a tuple was a dataset of 2 items


def test_a_pair_of_unequal_lengths_is_named() -> None:
    model = autoencoders.build("ae", h=8, z=2)
    with pytest.raises(ValueError, match="an \\(x, y\\) pair with 20 inputs but 19 labels"):
        Trainer(model, epochs=1, progress=False).fit((torch.rand(20, 784), torch.arange(19)))
    with pytest.raises(ValueError, match="pair with 20 inputs but 19 labels"):
        autoencoders.metrics.mse_per_pixel(model, (torch.rand(20, 784), torch.arange(19)))


def test_a_conditional_model_without_labels_is_a_library_error() -> None:
    model = autoencoders.build("cvae", h=8, z=2)
    with pytest.raises(autoencoders.errors.InvalidValueError, match="has no labels"):
        Trainer(model, epochs=1, progress=False).fit(torch.rand(20, 784))


def test_labels_of_several_columns_are_refused_with_their_shape() -> None:
    from autoencoders.data import from_tensors

    with pytest.raises(ValueError, match=r"shape \(20, 2\): it needs one integer label per item"):
        from_tensors(torch.rand(20, 784), torch.zeros(20, 2, dtype=torch.long))
    assert from_tensors(torch.rand(20, 784), torch.zeros(20, 1, dtype=torch.long)).num_classes == 1


def test_a_list_of_one_or_two_samples_is_still_a_dataset() -> None:
    x = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    image, flat = autoencoders.build("ae", h=8, z=2), autoencoders.build("ae", input_shape=784)
    cases = [(image, [x[0], x[1]]), (image, [x[0]]), (flat, (x[0].flatten(), x[1].flatten()))]
    for model, samples in cases:
        history = Trainer(model, epochs=1, batch_size=2, progress=False).fit(samples)
        assert history.records[-1]["step"] == 1  # one batch of the one or two samples


def test_load_takes_none_as_the_cpu_and_names_a_missing_mps(tmp_path) -> None:
    autoencoders.save(autoencoders.build("ae", h=8, z=2), tmp_path)
    assert autoencoders.load(tmp_path, device=None).encoder.net[0].weight.device.type == "cpu"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        pytest.skip("this machine has MPS")
    with pytest.raises(ValueError, match="asked for MPS, which is not available"):
        autoencoders.load(tmp_path, device="mps")
