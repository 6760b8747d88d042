"""
VAE hidden and latent sizes (h, z)
==================================

The six 784-h-z VAEs of the classic exercise, (h, z) = (400, 50), (400, 10), (400,
30), (300, 35), (300, 5), (300, 40), plus the four-layer 784-400-100-20 VAE, in one table
ranked by the test ELBO (nats per image, higher is better) with the importance-weighted
estimate of -log p(x) beside it, overlaid loss curves and samples from each prior.

**The original**: the PyTorch VAE example (a ReLU hidden layer, a Gaussian code, a Bernoulli
decoder: binary cross-entropy plus KL), trained with Adam (learning rate 1e-3, batch 128) for
10 epochs at each (h, z) pair, on Fashion-MNIST.

Run it at full size (the original's epochs, all the images) with::

    autoencoders experiment run vae-hz --out runs/vae-hz

This page runs it at the ``--quick`` size (a few epochs on a few thousand images, on the
CPU, while the documentation is built): a smoke test that draws every figure, not a result
worth quoting. The same from the command line::

    autoencoders experiment run vae-hz --quick --out runs/vae-hz-quick
"""

# sphinx_gallery_multi_image = "single"
# sphinx_gallery_thumbnail_number = -1

import shutil
import tempfile
from pathlib import Path

import autoencoders.runs

out = Path(tempfile.mkdtemp(prefix="vae-hz-"))
result = autoencoders.runs.run_experiment("vae-hz", quick=True, out=out, progress=False)
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
