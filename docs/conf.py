"""Sphinx configuration for the autoencoders documentation.

Build with::

    sphinx-build -W --keep-going -b html docs docs/_build/html

The build never touches the network: there is no intersphinx mapping, so references to
PyTorch or Python objects render as plain text rather than links.
"""

from __future__ import annotations

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
]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
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
