"""Tests for autoencoders.plots: every function returns a Figure, saves a PNG, and draws what
it says (number of axes / images, labels), with clear errors where a plot does not apply."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

import autoencoders

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.figure import Figure  # noqa: E402

from autoencoders import plots  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_ok(path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 1000


def _images(ax) -> list:
    return ax.get_images()


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return torch.rand(12, 1, 28, 28, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def ae():
    return autoencoders.build("ae", h=16, z=2)


@pytest.fixture(scope="module")
def vae():
    return autoencoders.build("vae", h=16, z=5)


def test_no_pyplot_state(ae, x, tmp_path) -> None:
    before = set(sys.modules)
    plots.plot_reconstructions(ae, x, save=tmp_path / "r.png")
    if "matplotlib.pyplot" not in before:
        assert "matplotlib.pyplot" not in sys.modules


def test_import_does_not_import_matplotlib() -> None:
    import subprocess

    code = "import autoencoders, sys; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- reconstructions ---------------------------------------------------------------------------
def test_reconstructions(ae, x, tmp_path) -> None:
    path = tmp_path / "sub" / "recon.png"
    fig = plots.plot_reconstructions(ae, x, n=5, save=path)
    assert isinstance(fig, Figure)
    _png_ok(path)
    assert [a.get_ylabel() for a in fig.axes] == ["original", "reconstructed"]
    for ax in fig.axes:
        (img,) = _images(ax)
        assert img.get_array().shape == (30, 5 * 29 + 1)  # 5 tiles of 28 + 1-px gaps
    assert ae.training  # mode restored


def test_reconstructions_restore_eval_mode(ae, x) -> None:
    ae.eval()
    plots.plot_reconstructions(ae, x)
    assert not ae.training
    ae.train()


def test_denoising_rows(x) -> None:
    dae = autoencoders.build("dae", h=16, z=2, noise_factor=0.5)
    fig = plots.plot_reconstructions(dae, x, n=4, generator=torch.Generator().manual_seed(1))
    assert [a.get_ylabel() for a in fig.axes] == ["clean", "noisy", "denoised"]
    clean = fig.axes[0].get_images()[0].get_array()
    noisy = fig.axes[1].get_images()[0].get_array()
    assert (clean != noisy).any()
    fig = plots.plot_reconstructions(dae, x, noisy=False)
    assert len(fig.axes) == 2


def test_noisy_needs_noise(ae, x) -> None:
    with pytest.raises(ValueError, match="noise transform"):
        plots.plot_reconstructions(ae, x, noisy=True)


def test_rgb_tanh_mapped_to_unit_range() -> None:
    model = autoencoders.build("conv_vae", z=4, filters=(4, 8, 8), input_shape=(3, 32, 32))
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    fig = plots.plot_reconstructions(model, x)
    arr = fig.axes[0].get_images()[0].get_array()
    assert arr.shape == (34, 3 * 33 + 1, 3)
    assert float(arr.min()) >= 0.0 and float(arr.max()) <= 1.0
    # the original row shows (x + 1) / 2
    np.testing.assert_allclose(
        arr[1:33, 1:33].transpose(2, 0, 1), ((x[0] + 1) / 2).numpy(), atol=1e-6
    )


def test_to_display_range() -> None:
    assert plots.to_display_range(torch.tensor([-2.0, 0.5, 2.0])).tolist() == [0.0, 0.5, 1.0]
    with pytest.raises(ValueError, match="value_range"):
        plots.to_display_range(torch.zeros(1), "full")
    with pytest.raises(ValueError, match="low < high"):
        plots.to_display_range(torch.zeros(1), (1, 0))


def test_bad_image_shapes(ae) -> None:
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        plots.plot_reconstructions(ae, torch.rand(28, 28))
    with pytest.raises(ValueError, match="channels"):
        plots.plot_reconstructions(ae, torch.rand(2, 5, 28, 28))


# -- samples -------------------------------------------------------------------------------------
def test_samples(vae, tmp_path) -> None:
    fig = plots.plot_samples(vae, n=10, ncol=5, save=tmp_path / "s.png")
    _png_ok(tmp_path / "s.png")
    (ax,) = fig.axes
    assert _images(ax)[0].get_array().shape == (2 * 29 + 1, 5 * 29 + 1)
    assert "prior" in fig._suptitle.get_text()


def test_samples_reproducible(vae) -> None:
    a = plots.plot_samples(vae, n=4, generator=torch.Generator().manual_seed(3))
    b = plots.plot_samples(vae, n=4, generator=torch.Generator().manual_seed(3))
    assert (a.axes[0].get_images()[0].get_array() == b.axes[0].get_images()[0].get_array()).all()


def test_samples_need_vae(ae) -> None:
    with pytest.raises(TypeError, match="variational"):
        plots.plot_samples(ae)
    with pytest.raises(ValueError, match="positive"):
        plots.plot_samples(autoencoders.build("vae", h=8, z=2), n=0)


# -- latent space --------------------------------------------------------------------------------
def test_latent_2d(ae, x, tmp_path) -> None:
    fig = plots.plot_latent_space(ae, x, torch.arange(12) % 4, save=tmp_path / "l.png")
    _png_ok(tmp_path / "l.png")
    (ax,) = fig.axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("z[0]", "z[1]")
    assert len(ax.get_legend().get_texts()) == 4
    assert sum(len(c.get_offsets()) for c in ax.collections) == 12


def test_latent_pca_when_z_above_2(vae, x) -> None:
    names = [f"class {i}" for i in range(3)]
    fig = plots.plot_latent_space(vae, x, torch.arange(12) % 3, class_names=names)
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("PC 1") and ax.get_ylabel().startswith("PC 2")
    assert "principal components" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == names


def test_latent_many_classes_colourbar(ae, x) -> None:
    fig = plots.plot_latent_space(ae, x.repeat(3, 1, 1, 1), torch.arange(36))
    assert len(fig.axes) == 2  # scatter + colour bar


def test_latent_without_labels_and_z1(x) -> None:
    fig = plots.plot_latent_space(autoencoders.build("ae", h=8, z=1), x)
    assert fig.axes[0].get_xlabel() == "z"


def test_latent_label_count_mismatch(ae, x) -> None:
    with pytest.raises(ValueError, match="labels"):
        plots.plot_latent_space(ae, x, torch.arange(5))


# -- interpolation -------------------------------------------------------------------------------
def test_interpolation(vae, x, tmp_path) -> None:
    fig = plots.plot_interpolation(vae, x[:3], x[3:6], steps=6, save=tmp_path / "i.png")
    _png_ok(tmp_path / "i.png")
    assert len(fig.axes) == 3
    assert _images(fig.axes[0])[0].get_array().shape == (30, 8 * 29 + 1)
    single = plots.plot_interpolation(vae, x[0], x[1], steps=3)
    assert len(single.axes) == 1


def test_interpolation_endpoints_are_reconstructions(ae, x) -> None:
    fig = plots.plot_interpolation(ae, x[0], x[1], steps=2)
    arr = fig.axes[0].get_images()[0].get_array()
    with torch.no_grad():
        ra = ae.eval().reconstruct(x[:1])[0, 0].numpy()
    ae.train()
    np.testing.assert_allclose(arr[1:29, 1 + 29 : 29 + 29], ra, atol=1e-5)


def test_interpolation_errors(ae, x) -> None:
    with pytest.raises(ValueError, match="steps"):
        plots.plot_interpolation(ae, x[0], x[1], steps=1)
    with pytest.raises(ValueError, match="same shape"):
        plots.plot_interpolation(ae, x[:2], x[:3])


# -- filters --------------------------------------------------------------------------------------
def test_filters_linear(tmp_path) -> None:
    model = autoencoders.build("ae", h=20, z=2)
    fig = plots.plot_filters(model, max_filters=9, save=tmp_path / "f.png")
    _png_ok(tmp_path / "f.png")
    (ax,) = fig.axes
    assert _images(ax)[0].get_array().shape == (3 * 29 + 1, 3 * 29 + 1)
    assert "Linear(784→20), 9 of 20" in ax.get_title()


def test_filters_conv_and_rgb() -> None:
    fig = plots.plot_filters(autoencoders.build("conv_ae", z=4, channels=(6, 8)))
    assert "Conv2d(1→6, 3x3), 6 of 6" in fig.axes[0].get_title()
    rgb = autoencoders.build("conv_vae", z=4, filters=(4, 8, 8), input_shape=(3, 32, 32))
    arr = plots.plot_filters(rgb).axes[0].get_images()[0].get_array()
    assert arr.ndim == 3 and arr.shape[-1] == 3


def test_filters_signed_scaling() -> None:
    model = autoencoders.build("linear_ae", z=2)
    with torch.no_grad():
        model.bottleneck.fc.weight.copy_(torch.linspace(-2, 1, 784).repeat(2, 1))
    arr = plots.plot_filters(model).axes[0].get_images()[0].get_array()
    assert float(arr[1, 1]) == pytest.approx(-1.0)  # most negative weight -> -1
    assert float(arr[28, 28]) == pytest.approx(0.5)  # 1 / max|w| = 0.5


def test_filters_no_layer() -> None:
    with pytest.raises(ValueError, match="Linear or Conv2d"):
        plots.plot_filters(torch.nn.Sequential(torch.nn.ReLU()))


# -- noise preview --------------------------------------------------------------------------------
def test_noise_levels(x, tmp_path) -> None:
    fig = plots.plot_noise_levels(x, "gaussian", [0.0, 0.3, 0.6], n=4, save=tmp_path / "n.png")
    _png_ok(tmp_path / "n.png")
    assert [a.get_ylabel() for a in fig.axes] == [
        "noise_factor=0",
        "noise_factor=0.3",
        "noise_factor=0.6",
    ]
    row0 = fig.axes[0].get_images()[0].get_array()
    np.testing.assert_allclose(row0[1:29, 1:29], x[0, 0].numpy(), atol=1e-6)  # level 0: clean


def test_noise_levels_from_model_noise(x) -> None:
    dae = autoencoders.build("dae", h=8, z=2, noise_factor=0.4)
    fig = plots.plot_noise_levels(x, dae.noise)
    labels = [a.get_ylabel() for a in fig.axes]
    assert "noise_factor=0.4 (model)" in labels


def test_noise_levels_param_defaults_and_errors(x) -> None:
    fig = plots.plot_noise_levels(x, {"name": "salt_and_pepper"}, [0.2])
    assert fig.axes[0].get_ylabel() == "p=0.2"
    with pytest.raises(ValueError, match="no parameter 'sigma'"):
        plots.plot_noise_levels(x, "gaussian", [0.1], param="sigma")
    with pytest.raises(autoencoders.UnknownNameError, match="gausian"):
        plots.plot_noise_levels(x, "gausian")
    with pytest.raises(TypeError, match="noise must be"):
        plots.plot_noise_levels(x, 3)  # type: ignore[arg-type]


# -- loss curves ----------------------------------------------------------------------------------
RECORDS = [
    {"epoch": e, "train_loss": 10.0 / e, "val_loss": 11.0 / e, "train_kl": 1.0, "val_kl": 1.5}
    for e in (1, 2, 3)
]


def test_loss_curves_records(tmp_path) -> None:
    fig = plots.plot_loss_curves(RECORDS, save=tmp_path / "loss.png")
    _png_ok(tmp_path / "loss.png")
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == ["train", "val"]
    assert list(lines[1].get_ydata()) == pytest.approx([11.0, 5.5, 11.0 / 3])
    assert ax.get_xlabel() == "epoch"


def test_loss_curves_parts_and_nested(tmp_path) -> None:
    nested = [{"epoch": 1, "train": {"loss": 3.0, "recon": 2.0, "kl": 1.0}, "val": {"loss": 4.0}}]
    fig = plots.plot_loss_curves(nested, parts=True)
    assert [a.get_title() for a in fig.axes] == ["loss", "recon", "kl"]
    path = tmp_path / "history.json"
    path.write_text(json.dumps(RECORDS))
    fig = plots.plot_loss_curves(path, log_y=True)
    assert fig.axes[0].get_yscale() == "log"


def test_loss_curves_history_like_object() -> None:
    class Hist:
        records = RECORDS

    fig = plots.plot_loss_curves(Hist())
    assert len(fig.axes[0].get_lines()) == 2


def test_loss_curves_overlay() -> None:
    fig = plots.plot_loss_curves({"a": RECORDS, "b": RECORDS[:2]})
    lines = fig.axes[0].get_lines()
    assert len(lines) == 4
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["a", "b", "train", "val"]
    assert lines[1].get_linestyle() == "--"
    assert lines[0].get_color() != lines[2].get_color()


def test_loss_curves_errors() -> None:
    with pytest.raises(ValueError, match="no loss values"):
        plots.plot_loss_curves([{"epoch": 1, "lr": 0.1}])
    with pytest.raises(TypeError, match="history must be"):
        plots.plot_loss_curves(3)
    with pytest.raises(ValueError, match="empty"):
        plots.plot_loss_curves({})
