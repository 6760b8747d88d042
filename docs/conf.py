"""Sphinx configuration for the autoencoders documentation.

Build with::

    MPLBACKEND=Agg sphinx-build -W --keep-going -b html docs docs/_build/html

The build never touches the network: there is no intersphinx mapping, so references to
PyTorch or Python objects render as plain text rather than links.

It runs code, on the CPU:

- the gallery (sphinx-gallery): every ``examples/**/plot_*.py`` script is executed and its
  output and figures are captured into ``docs/auto_examples/`` (generated, git-ignored, like
  ``docs/sg_execution_times.rst``); other scripts under ``examples/`` are shown, not run. The
  experiment scripts train at their ``--quick`` size, which is most of the build's time. Add
  ``-D plot_gallery=0`` for a fast build that shows the scripts without running them.
- the ``.. plot::`` directives of the Plots page (matplotlib's plot directive), which train
  small models for a few seconds and draw each figure the page describes.
"""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")  # never open a window, whoever runs the build

import autoencoders

# -- project ----------------------------------------------------------------------------------
project = "autoencoders"
author = "The autoencoders developers"
copyright = "2026, The autoencoders developers"
release = autoencoders.__version__
version = ".".join(release.split(".")[:2])

# -- general ----------------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb"]
nitpicky = False

# -- autodoc / napoleon -----------------------------------------------------------------------
autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_class_signature = "mixed"
autodoc_preserve_defaults = True
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_attr_annotations = True

# -- HTML -------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"autoencoders {release}"
html_static_path: list[str] = []

# -- the gallery (sphinx-gallery) -------------------------------------------------------------
# Every value is a plain string, tuple or bool so that Sphinx can cache the configuration.
sphinx_gallery_conf = {
    "examples_dirs": "../examples",  # README.rst there and in each subfolder
    "gallery_dirs": "auto_examples",
    # executed: the experiments and the custom-encoder walk-through (a few seconds)
    "filename_pattern": r"/plot_|/custom_encoder\.py",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",  # = autoencoders.runs.experiment_names()
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "capture_repr": (),  # print() is the output; a cell's last value is not shown
    "remove_config_comments": True,
    "download_all_examples": False,
    "show_memory": False,
    "abort_on_example_error": False,  # run them all, then fail the build listing each error
    "only_warn_on_example_error": False,
    "min_reported_time": 0,
    # the sg_execution_times pages load jQuery and DataTables from CDNs: no network here; the
    # build log and each example's page still give its running time
    "write_computation_times": False,
}

# -- the Plots page's figures (matplotlib's plot directive) -----------------------------------
plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 100)]
plot_pre_code = ""  # every snippet imports what it uses
plot_rcparams = {"figure.dpi": 100, "savefig.bbox": "tight"}
