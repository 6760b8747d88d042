"""
Model families on one backbone
==============================

The families beyond the classics, each one part swapped or added on the same dense
784-400-16 backbone and trained with the same budget: the plain AE, the beta-VAE at
beta = 0.5, 1, 2, 4, the IWAE (k = 5), the CVAE (given the class label), the WAE-MMD, the VQ-VAE with and without dead-code
re-initialisation, the sparse and the contractive AE. Every model gets the same test-set
columns (KL and importance-weighted NLL, MMD of the codes to the prior, the encoder's
Jacobian norm, codebook perplexity and usage, mean code activation; for the CVAE, how often
a classifier of real images names the class its samples were asked for), and the notes under
the title state each family's check as measured.

**The reference**: no single original exercise; each family follows its paper (Higgins et
al. 2017, Burgess et al. 2018, Burda et al. 2016, Sohn et al. 2015, Tolstikhin et al. 2018,
van den Oord et al. 2017, Rifai et al. 2011), with Adam (learning rate 1e-3, batch 128) for 20 epochs on
Fashion-MNIST.

Run it at full size (20 epochs, all the images) with::

    autoencoders experiment run families --out runs/families

This page runs it at the ``--quick`` size (one epoch on a thousand images, on the CPU, while
the documentation is built): a smoke test that draws every figure, not a result worth
quoting (at this size most checks cannot pass yet). The same from the command line::

    autoencoders experiment run families --quick --out runs/families-quick
"""

# sphinx_gallery_multi_image = "single"
# sphinx_gallery_thumbnail_number = -1

import shutil
import tempfile
from pathlib import Path

import autoencoders.runs

out = Path(tempfile.mkdtemp(prefix="families-"))
result = autoencoders.runs.run_experiment("families", quick=True, out=out, progress=False)
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
