"""
The codes of a plain autoencoder and of a VAE
=============================================

A 784-400-2 autoencoder and a 784-400-2 VAE trained alike on Fashion-MNIST; their
two-dimensional test codes (the posterior means for the VAE) on one figure, coloured by
class. The plain autoencoder's codes may go anywhere in the plane; the VAE's are pulled
towards the N(0, I) prior, which is what makes decoding a draw from the prior work.

**The original**: the exercise that plots the latent spaces of an autoencoder and a VAE of
the same size side by side (binary cross-entropy, plus the KL term for the VAE; Adam with
learning rate 1e-3, batch 128, 20 epochs).

Run it at full size (the original's epochs, all the images) with::

    autoencoders experiment run ae-vs-vae-latents --out runs/ae-vs-vae-latents

This page runs it at the ``--quick`` size (a few epochs on a few thousand images, on the
CPU, while the documentation is built): a smoke test that draws every figure, not a result
worth quoting. The same from the command line::

    autoencoders experiment run ae-vs-vae-latents --quick --out runs/ae-vs-vae-latents-quick
"""

# sphinx_gallery_multi_image = "single"
# sphinx_gallery_thumbnail_number = -1

import shutil
import tempfile
from pathlib import Path

import autoencoders.runs

out = Path(tempfile.mkdtemp(prefix="ae-vs-vae-latents-"))
result = autoencoders.runs.run_experiment("ae-vs-vae-latents", quick=True, out=out, progress=False)
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
