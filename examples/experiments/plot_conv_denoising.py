"""
Convolutional denoising autoencoders over the noise level
=========================================================

Seven convolutional denoising autoencoders, each trained on Fashion-MNIST images
corrupted by clipped Gaussian noise ``x + f * N(0, 1)`` at one noise factor f = 0.1, 0.2, ...,
0.7, ranked by the **denoising MSE**: the reconstruction of a seeded, fixed noisy copy of the
test set against the clean test set. The clean-input test MSE is reported beside it.

**The original**: the convolutional denoising exercise (two stride-2 convolutions of 16 and
32 channels, a 32-unit code and the mirror-image decoder, binary cross-entropy against the
clean image), trained for 10 epochs with Adam (learning rate 1e-3, batch 128) and compared
over the noise factor.

Run it at full size (the original's epochs, all the images) with::

    autoencoders experiment run conv-denoising --out runs/conv-denoising

This page runs it at the ``--quick`` size (a few epochs on a few thousand images, on the
CPU, while the documentation is built): a smoke test that draws every figure, not a result
worth quoting. The same from the command line::

    autoencoders experiment run conv-denoising --quick --out runs/conv-denoising-quick
"""

# sphinx_gallery_multi_image = "single"
# sphinx_gallery_thumbnail_number = 2

import shutil
import tempfile
from pathlib import Path

import autoencoders.runs

out = Path(tempfile.mkdtemp(prefix="conv-denoising-"))
result = autoencoders.runs.run_experiment("conv-denoising", quick=True, out=out, progress=False)
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
