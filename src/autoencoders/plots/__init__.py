"""Figures for autoencoders: loss curves, reconstructions, samples, latent space, filters.

Every function draws either into a new :class:`matplotlib.figure.Figure` built directly
(never through ``pyplot``, so no global state is touched and nothing needs closing), which it
writes as a PNG when given ``save=path`` and returns, or -- given ``ax=`` -- into axes or a
figure of yours, which it returns. Nothing is ever shown: display the figure in a notebook by
leaving it as the cell's value, or open the saved file.

``ax`` makes figures compose: a side-by-side comparison of two models is a few lines. One-panel
plots take an Axes (or a Figure / SubFigure to add one to); multi-panel plots take a Figure /
SubFigure, a sequence of Axes with one per panel, or a single Axes (image rows are then stacked
in one image, labelled by its y ticks). With ``ax`` no new figure is created and ``save`` is
refused: save the figure the axes belong to.

Images are ``(N, C, H, W)`` tensors (``(N, H, W)`` is read as grayscale) with 1 (grayscale),
3 (RGB) or 4 (RGBA) channels. They are mapped to [0, 1] for display from ``value_range``:
``"auto"`` takes the model's :attr:`~autoencoders.Autoencoder.pixel_range` (``(-1, 1)`` for a
``tanh`` output, ``(0, 1)`` otherwise, see :func:`resolve_value_range`); values outside the
range are clipped.

matplotlib is a dependency of the package (imported only when a plot is drawn).

Example:
    >>> import torch, autoencoders
    >>> from autoencoders import plots
    >>> model = autoencoders.build("ae", h=32, z=2)
    >>> fig = plots.plot_reconstructions(model, torch.rand(6, 1, 28, 28))
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['original', 'reconstructed']

    Two models side by side, in one figure of your own:

    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(8, 4), layout="constrained")
    >>> left, right = fig.subplots(1, 2)
    >>> x, y = torch.rand(30, 1, 28, 28), torch.arange(30) % 3
    >>> vae = autoencoders.build("vae", h=32, z=2)
    >>> plots.plot_latent_space(model, x, y, ax=left, title="AE") is left
    True
    >>> _ = plots.plot_latent_space(vae, x, y, ax=right, title="VAE")
    >>> [ax.get_title() for ax in fig.axes]
    ['AE', 'VAE']
"""

from autoencoders.plots._figures import PlotPath
from autoencoders.plots.curves import plot_loss_curves
from autoencoders.plots.filters import plot_filters
from autoencoders.plots.images import (
    plot_interpolation,
    plot_reconstructions,
    plot_samples,
    resolve_value_range,
    to_display_range,
)
from autoencoders.plots.latent import plot_latent_space
from autoencoders.plots.noise import plot_noise_levels

__all__ = [
    "PlotPath",
    "plot_filters",
    "plot_interpolation",
    "plot_latent_space",
    "plot_loss_curves",
    "plot_noise_levels",
    "plot_reconstructions",
    "plot_samples",
    "resolve_value_range",
    "to_display_range",
]
