"""The docs gallery matches the registered experiments (fast: nothing is run or built here).

The documentation build executes every ``examples/experiments/plot_*.py`` (sphinx-gallery);
these tests only check that each registered experiment has its script and its place on the
Experiments page, so that a new recipe cannot silently miss the gallery.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

from autoencoders.runs import experiment_names

ROOT = Path(__file__).resolve().parents[1]
GALLERY = ROOT / "examples" / "experiments"
NAMES = experiment_names()

pytestmark = pytest.mark.skipif(
    not GALLERY.is_dir(), reason="examples/ is not here (tests run from an installed copy)"
)


def script(name: str) -> Path:
    return GALLERY / f"plot_{name.replace('-', '_')}.py"


def test_the_ten_classic_experiments_are_registered():
    assert len(NAMES) >= 10
    assert {"dense-ae", "vae-hz", "face-vae", "small-conv-latents"} <= set(NAMES)


def test_one_gallery_script_per_experiment_and_no_other():
    scripts = {p.name for p in GALLERY.glob("plot_*.py")}
    assert scripts == {script(name).name for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_gallery_script_runs_its_experiment_at_quick_size(name):
    source = script(name).read_text(encoding="utf-8")
    tree = ast.parse(source)
    doc = ast.get_docstring(tree, clean=False)
    assert doc, f"{script(name).name} has no docstring"
    lines = doc.strip("\n").splitlines()
    # sphinx-gallery takes the page title from an underlined first line
    assert len(lines) > 2
    assert re.fullmatch(r"=+", lines[1]), lines[:2]
    assert len(lines[1]) == len(lines[0])
    assert f"autoencoders experiment run {name} --out " in doc  # the full-size command

    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "run_experiment"
    ]
    assert len(calls) == 1
    call = calls[0]
    assert isinstance(call.args[0], ast.Constant)
    assert call.args[0].value == name
    keywords = {k.arg: k.value for k in call.keywords}
    assert isinstance(keywords["quick"], ast.Constant)
    assert keywords["quick"].value is True
    assert isinstance(keywords["progress"], ast.Constant)
    assert keywords["progress"].value is False
    assert "out" in keywords
    # the table is printed and every figure is shown
    assert "print(result.table_text())" in source
    assert "result.show_figures()" in source


def test_experiments_page_links_every_gallery_page():
    page = (ROOT / "docs" / "experiments.rst").read_text(encoding="utf-8")
    for name in NAMES:
        label = f"sphx_glr_auto_examples_experiments_{script(name).stem}.py"
        assert label in page, f"docs/experiments.rst does not link {label}"
        assert f"(``{name}``)" in page, f"docs/experiments.rst has no tutorial for {name}"


def test_docs_conf_points_the_gallery_at_examples():
    spec = importlib.util.spec_from_file_location("docs_conf", ROOT / "docs" / "conf.py")
    assert spec is not None
    assert spec.loader is not None
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    assert "sphinx_gallery.gen_gallery" in conf.extensions
    gallery = conf.sphinx_gallery_conf
    assert (ROOT / "docs" / gallery["examples_dirs"]).resolve() == ROOT / "examples"
    assert gallery["gallery_dirs"] == "auto_examples"
    for folder in (ROOT / "examples", GALLERY):
        assert (folder / "README.rst").is_file()  # sphinx-gallery needs one per folder
    index = (ROOT / "docs" / "index.rst").read_text(encoding="utf-8")
    assert "auto_examples/index" in index
    assert "experiments" in index


def test_generated_docs_files_are_ignored_by_git():
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "docs/auto_examples/" in ignored
    assert "docs/sg_execution_times.rst" in ignored
