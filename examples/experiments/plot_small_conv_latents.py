"""
The small Keras-style convolutional autoencoder over its code size
==================================================================

The small convolutional autoencoder at code sizes z = 2, 4, 8 and 16, and then its
denoising variant at the same sizes, trained on ``x + 0.5 * N(0, 1)`` clipped to [0, 1] and
scored on one seeded, fixed noisy copy of the test set (the denoising MSE).

**The original**: the Keras exercise on MNIST: three 2x2 convolutions of 8, 16 and 32
channels with max pooling, a tanh code, a transposed-convolution decoder with a ReLU output
and Glorot initialisation, trained on the mean squared error with Adam (learning rate 1e-3,
batch 128) for 20 epochs; its denoising part evaluates every model on the same noisy copy of
the test set.

**Data**: the experiment reads MNIST. Where MNIST is not on disk (as on the machine that
builds these pages) it runs on Fashion-MNIST instead and says so in its table; give it MNIST
with ``--data-root DIR``, or set ``AUTOENCODERS_DOWNLOAD=1`` to let torchvision download it.

Run it at full size (the original's epochs, all the images) with::

    autoencoders experiment run small-conv-latents --out runs/small-conv-latents

This page runs it at the ``--quick`` size (a few epochs on a few thousand images, on the
CPU, while the documentation is built): a smoke test that draws every figure, not a result
worth quoting. The same from the command line::

    autoencoders experiment run small-conv-latents --quick --out runs/small-conv-latents-quick
"""

# sphinx_gallery_multi_image = "single"
# sphinx_gallery_thumbnail_number = 2

import shutil
import tempfile
from pathlib import Path

import autoencoders.runs

out = Path(tempfile.mkdtemp(prefix="small-conv-latents-"))
result = autoencoders.runs.run_experiment("small-conv-latents", quick=True, out=out, progress=False)
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
