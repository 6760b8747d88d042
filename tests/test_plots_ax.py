"""Plots compose: every plot function draws into the ``ax=`` it is given and returns it.

Given an Axes, a Figure / SubFigure or a sequence of Axes, no new Figure is created, the content
lands where it was asked to, and the object given comes back; wrong targets are refused before
anything is drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

import autoencoders

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from autoencoders import plots  # noqa: E402

RECORDS = [
    {"epoch": e, "train_loss": 9.0 / e, "val_loss": 10.0 / e, "train_recon": 8.0, "train_kl": 1.0}
    for e in (1, 2, 3)
]


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return torch.rand(12, 1, 28, 28, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def ae():
    return autoencoders.build("ae", h=16, z=2)


@pytest.fixture(scope="module")
def vae():
    return autoencoders.build("vae", h=16, z=5)


@pytest.fixture(scope="module")
def dae():
    return autoencoders.build("dae", h=16, z=2, noise_factor=0.5)


@pytest.fixture
def new_figures(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """Every Figure created while the test runs (after this fixture is set up)."""
    made: list[Figure] = []
    init = Figure.__init__

    def counting(self: Figure, *args: Any, **kwargs: Any) -> None:
        made.append(self)
        init(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "__init__", counting)
    return made


class _Compiled(torch.nn.Module):
    """Stands for ``torch.compile(model)`` (which takes seconds to set up): the model sits in
    ``_orig_mod``, and running the wrapper itself is an error."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self._orig_mod = model

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the wrapper was run instead of the model inside it")


def _content(ax: Axes) -> int:
    return len(ax.get_images()) + len(ax.collections) + len(ax.get_lines())


# name -> (call taking ax=, number of panels it draws)
Case = Callable[..., Any]


def _cases(x, ae, vae, dae) -> dict[str, tuple[Case, int]]:
    return {
        "loss_curves": (lambda **kw: plots.plot_loss_curves(RECORDS, **kw), 1),
        "loss_parts": (lambda **kw: plots.plot_loss_curves(RECORDS, parts=True, **kw), 3),
        "reconstructions": (lambda **kw: plots.plot_reconstructions(ae, x, n=4, **kw), 2),
        "denoising": (lambda **kw: plots.plot_reconstructions(dae, x, n=4, **kw), 3),
        "samples": (lambda **kw: plots.plot_samples(vae, n=9, **kw), 1),
        "interpolation": (lambda **kw: plots.plot_interpolation(vae, x[:2], x[2:4], **kw), 2),
        "latent_space": (
            lambda **kw: plots.plot_latent_space(ae, x, torch.arange(12) % 3, **kw),
            1,
        ),
        "filters": (lambda **kw: plots.plot_filters(ae, max_filters=9, **kw), 1),
        "noise_levels": (lambda **kw: plots.plot_noise_levels(x, "gaussian", [0, 0.5], **kw), 2),
    }


NAMES = list(_cases(None, None, None, None))
SINGLE = [n for n in NAMES if n in ("loss_curves", "samples", "latent_space", "filters")]
MULTI = [n for n in NAMES if n not in SINGLE]
IMAGE_ROWS = ["reconstructions", "denoising", "interpolation", "noise_levels"]


@pytest.fixture
def cases(x, ae, vae, dae) -> dict[str, tuple[Case, int]]:
    return _cases(x, ae, vae, dae)


def test_side_by_side_with_pyplot(ae, vae, x) -> None:
    """The issue's example: two models' latent spaces in one pyplot figure, a few lines."""
    plt = pytest.importorskip("matplotlib.pyplot")
    before = set(plt.get_fignums())
    fig, (a, b) = plt.subplots(1, 2)
    try:
        y = torch.arange(12) % 4
        assert plots.plot_latent_space(ae, x, y, ax=a, title="AE") is a
        assert plots.plot_latent_space(vae, x, y, ax=b, title="VAE") is b
        assert set(plt.get_fignums()) - before == {fig.number}  # no other figure appeared
        assert fig.axes == [a, b]
        for ax in (a, b):
            assert len(ax.collections) == 4  # one scatter per class
            assert sum(len(c.get_offsets()) for c in ax.collections) == 12
        assert [a.get_title(), b.get_title()] == ["AE", "VAE"]
        assert a.get_xlabel() == "z[0]" and b.get_xlabel().startswith("PC 1")
    finally:
        plt.close(fig)


@pytest.mark.parametrize("name", SINGLE)
def test_one_axes(name: str, cases, new_figures) -> None:
    fig = Figure()
    fig.subplots(1, 2)  # draw into the right one; the left stays empty
    left, right = fig.axes
    new_figures.clear()
    call, _ = cases[name]
    assert call(ax=right) is right
    assert new_figures == []
    assert _content(right) > 0 and _content(left) == 0
    assert fig.axes == [left, right]


@pytest.mark.parametrize("name", NAMES)
def test_figure_or_subfigure(name: str, cases, new_figures) -> None:
    fig = Figure(layout="constrained")
    left, right = fig.subfigures(1, 2)
    new_figures.clear()
    call, panels = cases[name]
    assert call(ax=right) is right
    assert new_figures == []
    assert left.axes == [] and len(right.axes) == panels
    assert all(_content(a) > 0 for a in right.axes)
    assert call(ax=fig) is fig  # a whole Figure works too
    assert len(fig.axes) == 2 * panels


@pytest.mark.parametrize("name", MULTI)
def test_sequence_of_axes(name: str, cases, new_figures) -> None:
    call, panels = cases[name]
    grid = Figure().subplots(panels, 2, squeeze=False)
    column = list(grid[:, 1])
    new_figures.clear()
    assert call(ax=column) == column
    assert new_figures == []
    assert all(_content(a) > 0 for a in column)
    assert all(_content(a) == 0 for a in grid[:, 0])
    with pytest.raises(ValueError, match=f"{panels}"):
        call(ax=[*grid[:, 0], column[0]])  # one Axes too many
    assert all(_content(a) == 0 for a in grid[:, 0])  # refused before drawing


@pytest.mark.parametrize("name", IMAGE_ROWS)
def test_image_rows_stack_on_one_axes(name: str, cases, new_figures) -> None:
    """Given one Axes, the rows are stacked in one image labelled by its y ticks."""
    call, panels = cases[name]
    ax = Figure().add_subplot()
    new_figures.clear()
    assert call(ax=ax) is ax
    assert new_figures == []
    (img,) = ax.get_images()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == panels and all(labels)
    assert img.get_array().shape[0] > panels * 28


def test_stacked_labels_match_the_figure_rows(dae, x) -> None:
    ax = Figure().add_subplot()
    plots.plot_reconstructions(dae, x, n=3, ax=ax, title="DAE")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["clean", "noisy", "denoised"]
    assert ax.get_title() == "DAE"
    arr = ax.get_images()[0].get_array()
    assert arr.shape[1] == 3 * 29 + 1 and arr.shape[0] > 3 * 30


def test_loss_parts_need_one_axes_per_panel() -> None:
    ax = Figure().add_subplot()
    with pytest.raises(ValueError, match="3 panels"):
        plots.plot_loss_curves(RECORDS, parts=True, ax=ax)
    assert _content(ax) == 0
    axes = Figure().subplots(1, 3)
    plots.plot_loss_curves(RECORDS, parts=True, ax=axes, title="run a")
    assert [a.get_title() for a in axes] == ["run a", "recon", "kl"]
    assert [len(a.get_lines()) for a in axes] == [2, 1, 1]


def test_figure_target_keeps_the_figure_title(ae, x) -> None:
    sub = Figure().subfigures(1, 2)[0]
    plots.plot_reconstructions(ae, x, n=3, ax=sub, title="AE")
    assert sub._suptitle.get_text() == "AE"
    assert [a.get_ylabel() for a in sub.axes] == ["original", "reconstructed"]


def test_without_ax_a_new_figure_is_made_and_saved(ae, x, tmp_path, new_figures) -> None:
    fig = plots.plot_filters(ae, save=tmp_path / "f.png")
    assert new_figures == [fig] and (tmp_path / "f.png").is_file()


@pytest.mark.parametrize("name", NAMES)
def test_ax_and_save_together_are_refused(name: str, cases, tmp_path) -> None:
    call, _ = cases[name]
    fig = Figure()
    with pytest.raises(ValueError, match="both ax= and save="):
        call(ax=fig, save=tmp_path / "p.png")
    assert fig.axes == [] and not (tmp_path / "p.png").exists()


@pytest.mark.parametrize("bad", ["left", 3, [None], []])
def test_bad_targets(bad, ae, x) -> None:
    with pytest.raises(TypeError, match="ax must be"):
        plots.plot_latent_space(ae, x, ax=bad)
    with pytest.raises(TypeError, match="ax must be"):
        plots.plot_reconstructions(ae, x, ax=bad)


def test_value_range_follows_the_model_pixel_range(monkeypatch: pytest.MonkeyPatch) -> None:
    tanh = autoencoders.build("vae", h=8, z=2, output_activation="tanh")
    assert plots.resolve_value_range("auto", tanh) == (-1.0, 1.0)
    assert plots.resolve_value_range("auto", _Compiled(tanh)) == (-1.0, 1.0)
    assert plots.resolve_value_range("auto") == (0.0, 1.0)
    monkeypatch.setattr(
        autoencoders.Autoencoder, "pixel_range", property(lambda self: (0.0, 255.0))
    )
    assert plots.resolve_value_range("auto", tanh) == (0.0, 255.0)
    shown = plots.to_display_range(torch.tensor([0.0, 51.0, 255.0]), model=tanh)
    assert shown.tolist() == pytest.approx([0.0, 0.2, 1.0])


def test_plots_take_compiled_models(ae, vae, x) -> None:
    """Compiled (and DDP) wrappers are looked through, never run."""
    fig = plots.plot_reconstructions(_Compiled(ae), x, n=2)
    assert [a.get_ylabel() for a in fig.axes] == ["original", "reconstructed"]
    assert plots.plot_latent_space(_Compiled(vae), x).axes[0].get_xlabel().startswith("PC 1")
    assert len(plots.plot_samples(_Compiled(vae), n=4).axes) == 1
    assert len(plots.plot_interpolation(_Compiled(vae), x[0], x[1], steps=2).axes) == 1
    assert "Linear(784→16)" in plots.plot_filters(_Compiled(ae)).axes[0].get_title()


def test_image_plots_take_a_split_as_well_as_a_tensor() -> None:
    """The data splits are accepted like a tensor; only the first n items are read."""
    import matplotlib.pyplot as plt
    import numpy as np

    from autoencoders.data import from_tensors
    from autoencoders.plots import plot_noise_levels, plot_reconstructions

    torch.manual_seed(0)
    model = autoencoders.build("ae", h=8, z=2).eval()
    splits = from_tensors(torch.randint(0, 256, (40, 28, 28), dtype=torch.uint8))
    x = splits.tensors("test")[0]
    from_split = plot_reconstructions(model, splits.test, n=4)
    from_tensor = plot_reconstructions(model, x, n=4)
    a = [im.get_array() for ax in from_split.axes for im in ax.get_images()]
    b = [im.get_array() for ax in from_tensor.axes for im in ax.get_images()]
    assert len(a) == len(b) > 0
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert plot_noise_levels(splits.test, "gaussian", [0.1, 0.5], n=3).axes
    plt.close("all")
