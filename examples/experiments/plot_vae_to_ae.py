"""
The best VAE, rebuilt as a plain autoencoder
============================================

The VAE configurations of ``vae-hz`` are trained first; the one with the best test
ELBO is then rebuilt with a deterministic bottleneck (the same encoder and decoder, no
sampling, no KL term) and trained with its own loss under the same settings. The figures
set their reconstructions and their codes side by side: the KL term pulls the VAE's codes
towards the N(0, I) prior, while the plain autoencoder's spread out freely.

**The original**: the follow-up of the VAE exercise that turns the best VAE into an
autoencoder and compares the two. At the quick size only two of the seven VAEs are trained.

Run it at full size (the original's epochs, all the images) with::

    autoencoders experiment run vae-to-ae --out runs/vae-to-ae

This page runs it at the ``--quick`` size (a few epochs on a few thousand images, on the
CPU, while the documentation is built): a smoke test that draws every figure, not a result
worth quoting. The same from the command line::

    autoencoders experiment run vae-to-ae --quick --out runs/vae-to-ae-quick
"""

# sphinx_gallery_multi_image = "single"
# sphinx_gallery_thumbnail_number = -1

import shutil
import tempfile
from pathlib import Path

import autoencoders.runs

out = Path(tempfile.mkdtemp(prefix="vae-to-ae-"))
result = autoencoders.runs.run_experiment("vae-to-ae", quick=True, out=out, progress=False)
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
