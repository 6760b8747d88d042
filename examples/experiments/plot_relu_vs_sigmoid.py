"""
ReLU against sigmoid hidden units, 2-D codes
============================================

The same multi-layer autoencoder, 784-512-256-128-2 with a linear two-dimensional
code and a sigmoid output, trained once with ReLU and once with sigmoid hidden units. The two
scatters of the test codes, coloured by class, show how the choice of unit shapes the code.

**The original**: the exercise that trains the deep autoencoder with a 2-D code in both
variants (binary cross-entropy, Adam with learning rate 1e-3, batch 128, 20 epochs) on
Fashion-MNIST and plots the codes side by side.

Run it at full size (the original's epochs, all the images) with::

    autoencoders experiment run relu-vs-sigmoid --out runs/relu-vs-sigmoid

This page runs it at the ``--quick`` size (a few epochs on a few thousand images, on the
CPU, while the documentation is built): a smoke test that draws every figure, not a result
worth quoting. The same from the command line::

    autoencoders experiment run relu-vs-sigmoid --quick --out runs/relu-vs-sigmoid-quick
"""

# sphinx_gallery_multi_image = "single"
# sphinx_gallery_thumbnail_number = -1

import shutil
import tempfile
from pathlib import Path

import autoencoders.runs

out = Path(tempfile.mkdtemp(prefix="relu-vs-sigmoid-"))
result = autoencoders.runs.run_experiment("relu-vs-sigmoid", quick=True, out=out, progress=False)
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
