"""
A linear autoencoder against PCA
================================

A linear autoencoder, ``Linear(784, k)`` then ``Linear(k, 784)`` with an identity
output and a squared-error loss, at code sizes k = 2, 10, 20 and 32, against exact PCA with
the same k. A linear autoencoder can at best span the top-k principal subspace, so PCA fitted
on the whole training set is its floor: the column ``ae_over_pca`` is 1.0 when it gets there.

**The original**: the exercise that trains a linear autoencoder and compares its test error
with the PCA reconstruction error of the same rank, on Fashion-MNIST, with Adam (learning rate
1e-3, batch 128), for 20 epochs.

Run it at full size (the original's epochs, all the images) with::

    autoencoders experiment run linear-vs-pca --out runs/linear-vs-pca

This page runs it at the ``--quick`` size (a few epochs on a few thousand images, on the
CPU, while the documentation is built): a smoke test that draws every figure, not a result
worth quoting. The same from the command line::

    autoencoders experiment run linear-vs-pca --quick --out runs/linear-vs-pca-quick
"""

# sphinx_gallery_multi_image = "single"
# sphinx_gallery_thumbnail_number = -1

import shutil
import tempfile
from pathlib import Path

import autoencoders.runs

out = Path(tempfile.mkdtemp(prefix="linear-vs-pca-"))
result = autoencoders.runs.run_experiment("linear-vs-pca", quick=True, out=out, progress=False)
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
