"""
The 64x64 face VAE
==================

The convolutional VAE for 64x64 colour faces: Conv(3-64-128-256, kernel 4, stride 2)
with BatchNorm and LeakyReLU, a 512-dimensional Gaussian code and the mirror-image decoder
with a tanh output (pixels in [-1, 1]); reconstructions of test faces and samples from the
prior.

**The original**: the face-VAE notebook on CelebA, trained with Adam (learning rate 5e-4,
betas (0.5, 0.999), weight decay 1e-5) on the squared error summed over the pixels plus the
KL term, for 10 epochs. The original also sums its loss over the batch, where this library
averages it, so the recipe sets the weight decay to 1e-5 / batch size: with Adam that gives
the original's updates (the run's settings record the value used).

**Data**: the experiment reads CelebA (``--data celeba``) or any folder of images
(``--data folder:PATH``). CelebA cannot be downloaded on the machine that builds these pages,
so there it trains on generated stand-in images and says so in its table: the figures show
that the pipeline works, not what the model learns from faces.

Run it at full size (the original's epochs, all the images) with::

    autoencoders experiment run face-vae --out runs/face-vae

This page runs it at the ``--quick`` size (a few epochs on a few thousand images, on the
CPU, while the documentation is built): a smoke test that draws every figure, not a result
worth quoting. The same from the command line::

    autoencoders experiment run face-vae --quick --out runs/face-vae-quick
"""

# sphinx_gallery_multi_image = "single"
# sphinx_gallery_thumbnail_number = -1

import shutil
import tempfile
from pathlib import Path

import autoencoders.runs

out = Path(tempfile.mkdtemp(prefix="face-vae-"))
result = autoencoders.runs.run_experiment("face-vae", quick=True, out=out, progress=False)
print(f"{len(result.runs)} runs in {result.seconds:.0f} s, written to {result.dir}")

# %%
# The comparison table
# --------------------
# ``comparison.md`` holds the table (numbers formatted) and, below it, links to the figures
# that follow on this page; ``comparison.csv`` has the same rows. ``table_text()`` gives the
# file without the links, its prose wrapped.

print(result.table_text())

# %%
# The figures
# -----------
# Every figure of ``result.figures`` is a PNG in the experiment folder, with its caption;
# ``show_figures()`` opens each one with matplotlib at its own size.

figures = result.show_figures()

# %%
# The experiment folder was a temporary one: remove it. Pass ``out="runs/..."`` to keep the
# run folders (weights, histories, metrics, reports) and the figures.

shutil.rmtree(out)
