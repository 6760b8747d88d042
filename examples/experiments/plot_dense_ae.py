"""
Dense autoencoders 784-400-z
============================

Four dense autoencoders on Fashion-MNIST that differ only in their code size, z = 2,
10, 20 and 50: how much of an image a code of each size keeps.

**The original**: the dense autoencoder lab. A 784-400-z network (one hidden layer of 400
ReLU units, a linear code, a sigmoid output) trained on the squared error summed over the
pixels, with Adam (learning rate 1e-3, batch 128), for 30 epochs. The table reports the test
mean squared error per pixel; the figures are the loss curves and test reconstructions.

Run it at full size (the original's epochs, all the images) with::

    autoencoders experiment run dense-ae --out runs/dense-ae

This page runs it at the ``--quick`` size (a few epochs on a few thousand images, on the
CPU, while the documentation is built): a smoke test that draws every figure, not a result
worth quoting. The same from the command line::

    autoencoders experiment run dense-ae --quick --out runs/dense-ae-quick
"""

# sphinx_gallery_multi_image = "single"
# sphinx_gallery_thumbnail_number = -1

import shutil
import tempfile
from pathlib import Path

import autoencoders.runs

out = Path(tempfile.mkdtemp(prefix="dense-ae-"))
result = autoencoders.runs.run_experiment("dense-ae", quick=True, out=out, progress=False)
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
