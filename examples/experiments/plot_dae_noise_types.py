"""
Gaussian against masking noise in a denoising autoencoder
=========================================================

Two 784-400-20 denoising autoencoders, one trained on Gaussian noise (factor 0.5,
clipped to [0, 1]) and one on masking noise (each pixel set to 0 with probability 0.5). Their
first-layer filters, side by side, show what each corruption teaches the encoder to look for;
the clean / corrupted / denoised rows show how well each undoes its own noise.

**The original**: the denoising-autoencoder exercise comparing the two corruptions
(binary cross-entropy against the clean image, Adam with learning rate 1e-3, batch 128, 20
epochs) on Fashion-MNIST.

Run it at full size (the original's epochs, all the images) with::

    autoencoders experiment run dae-noise-types --out runs/dae-noise-types

This page runs it at the ``--quick`` size (a few epochs on a few thousand images, on the
CPU, while the documentation is built): a smoke test that draws every figure, not a result
worth quoting. The same from the command line::

    autoencoders experiment run dae-noise-types --quick --out runs/dae-noise-types-quick
"""

# sphinx_gallery_multi_image = "single"
# sphinx_gallery_thumbnail_number = 2

import shutil
import tempfile
from pathlib import Path

import autoencoders.runs

out = Path(tempfile.mkdtemp(prefix="dae-noise-types-"))
result = autoencoders.runs.run_experiment("dae-noise-types", quick=True, out=out, progress=False)
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
