"""Experiments: the registered recipes and the run_experiment machinery."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from autoencoders import registry, runs
from autoencoders.data import DatasetNotFoundError, from_tensors
from autoencoders.runs import Config, Experiment, RunError, run_experiment
from autoencoders.runs.recipes.faces import effective_weight_decay

FASHION = Path("/usr/share/datasets/fashion-mnist")

#: The ten classic experiments and the model families' comparison.
TEN = [
    "ae-vs-vae-latents",
    "conv-denoising",
    "dae-noise-types",
    "dense-ae",
    "face-vae",
    "families",
    "linear-vs-pca",
    "relu-vs-sigmoid",
    "small-conv-latents",
    "vae-hz",
    "vae-to-ae",
]


def test_the_ten_classic_experiments_are_registered():
    assert runs.experiment_names() == TEN
    table = runs.experiment_table()
    for name in TEN:
        assert any(line.startswith(name + " ") for line in table.splitlines()), name
    # dashes or underscores
    assert runs.get_experiment("vae_hz") is runs.get_experiment("vae-hz")
    assert registry.experiments.get("vae-hz") is runs.get_experiment("vae-hz")


def test_unknown_experiment_suggests_a_close_name():
    # the suggestion and the list are spelled as the user spelled the name
    with pytest.raises(LookupError) as dashed:
        runs.get_experiment("vae-hzz")
    assert "did you mean 'vae-hz'?" in str(dashed.value)
    assert "experiments: ae-vs-vae-latents, conv-denoising," in str(dashed.value)
    with pytest.raises(LookupError) as underscored:
        runs.get_experiment("vae_hzz")
    assert "did you mean 'vae_hz'?" in str(underscored.value)
    assert "experiments: ae_vs_vae_latents, conv_denoising," in str(underscored.value)


@pytest.mark.parametrize("name", TEN)
@pytest.mark.parametrize("quick", [False, True])
def test_every_configuration_builds_and_its_settings_check(name, quick):
    exp = runs.get_experiment(name)
    configs = exp.configs(quick)
    assert configs, name
    assert len({c.name for c in configs}) == len(configs)
    for c in configs:
        with torch.device("meta"):
            net = runs.build_model(c.model, c.kwargs)
        assert net.num_parameters() > 0
    settings = runs.RunSettings(**{**exp.settings, **(exp.quick if quick else {})})
    if exp.prepare is not None:
        settings = exp.prepare(settings)
    settings.check()
    if quick:
        assert settings.epochs <= 4 and settings.limit is not None and settings.limit <= 3000


def test_vae_hz_has_the_six_pairs_and_the_four_layer_vae():
    configs = runs.get_experiment("vae-hz").configs(False)
    pairs = [(c.kwargs.get("h"), c.kwargs["z"]) for c in configs if "h" in c.kwargs]
    assert pairs == [(400, 50), (400, 10), (400, 30), (300, 35), (300, 5), (300, 40)]
    assert [c.kwargs for c in configs if "hidden" in c.kwargs] == [{"hidden": [400, 100], "z": 20}]


def test_vae_hz_table_has_the_importance_weighted_nll():
    from autoencoders.runs.settings import RunResult
    from autoencoders.training import History

    columns = runs.get_experiment("vae-hz").columns
    result = RunResult(dir=None, model="vae", num_parameters=1, variational=True,
                       best_val_loss=1.0, best_epoch=1, history=History(), seconds=0.1,
                       metrics={"test_mse": 0.02, "test_nll": 240.5})  # fmt: skip
    assert columns(None, None, result) == {"test_nll": 240.5}


def test_face_vae_uses_the_original_optimizer_with_the_effective_weight_decay():
    exp = runs.get_experiment("face-vae")
    assert exp.settings["lr"] == 5e-4 and tuple(exp.settings["betas"]) == (0.5, 0.999)
    assert exp.settings["loss"] == "elbo" and exp.settings["loss_kwargs"] == {"recon": "mse"}
    s = effective_weight_decay(runs.RunSettings(batch_size=128))
    assert s.weight_decay == pytest.approx(1e-5 / 128)
    kept = effective_weight_decay(runs.RunSettings(batch_size=128, weight_decay=1e-3))
    assert kept.weight_decay == 1e-3  # an explicit weight decay is kept


def _tiny(**fields):
    base = {
        "name": "tiny",
        "title": "Tiny",
        "summary": "tiny",
        "configs": lambda quick: [
            Config("z=2", "ae", {"h": 8, "z": 2}),
            Config("z=3", "ae", {"h": 8, "z": 3}),
        ],
        "settings": {"epochs": 1, "batch_size": 16},
    }
    base.update(fields)
    return Experiment(**base)


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(0)
    return from_tensors(torch.rand(60, 1, 28, 28, generator=g), torch.arange(60) % 3)


def test_run_experiment_writes_runs_table_json_and_figures(tmp_path, data):
    seen = {}

    def figures(ctx):
        seen["models"] = [ctx.model(c.name).z_dim for c in ctx.configs]
        x, y = ctx.test_set("z=2", limit=4)
        seen["test"] = (x.shape, y.shape)
        return []

    exp = _tiny(rank_by="test_mse", figures=figures)
    result = run_experiment(exp, out=tmp_path / "e", splits=data)
    assert sorted(result.runs) == ["z=2", "z=3"]
    for name in ("z=2", "z=3"):
        assert (result.dir / name / "model.safetensors").is_file()
        assert json.loads((result.dir / name / "run.json").read_text())["status"] == "done"
    assert [r["rank"] for r in result.rows] == [1, 2]
    mses = [r["test_mse"] for r in result.rows]
    assert mses == sorted(mses)
    assert [r["z"] for r in sorted(result.rows, key=lambda r: r["run"])] == [2, 3]  # varying key
    assert "h" not in result.rows[0]  # the same in every run: not a column
    record = json.loads((result.dir / "experiment.json").read_text())
    assert record["status"] == "done" and record["experiment"] == "tiny"
    assert [c["name"] for c in record["configs"]] == ["z=2", "z=3"]
    csv_lines = (result.dir / "comparison.csv").read_text().strip().splitlines()
    assert len(csv_lines) == 3 and csv_lines[0].startswith("rank,run,z")
    md = (result.dir / "comparison.md").read_text()
    assert md.startswith("# Tiny") and "Ranked by `test_mse`" in md
    assert "![Training and validation loss of every run](loss_curves.png)" in md
    assert (result.dir / "loss_curves.png").stat().st_size > 1000
    assert seen["models"] == [2, 3] and seen["test"][0][0] == 4
    # the folder is taken now
    with pytest.raises(RunError, match="already holds"):
        run_experiment(exp, out=tmp_path / "e", splits=data)

    # the table as text (for a notebook or the gallery): no figure links, table rows kept whole
    text = result.table_text(width=40)
    assert text.startswith("# Tiny\n\n")
    assert "loss_curves.png" not in text
    table = [line for line in md.splitlines() if line.startswith("|")]
    assert table and [line for line in text.splitlines() if line.startswith("|")] == table
    prose = [line for line in text.splitlines() if line and not line.startswith("|")]
    assert max(len(line) for line in prose) <= 40

    # every figure opened at its saved size, titled with its caption
    import matplotlib.pyplot as plt

    shown = result.show_figures()
    try:
        assert len(shown) == len(result.figures) == 1
        png, caption = result.figures[0]
        height, width = plt.imread(png).shape[:2]
        assert shown[0].get_size_inches()[1] * 100 == pytest.approx(height + 40)
        assert shown[0].get_size_inches()[0] * 100 == pytest.approx(width)
        assert shown[0].axes[0].get_title() == caption
    finally:
        plt.close("all")


def test_columns_and_followup(tmp_path, data):
    def columns(ctx, config, result):
        return {"double_z": 2 * config.kwargs["z"]}

    def followup(ctx):
        best = ctx.best("test_mse")
        return [Config(f"again_{best.name}", "vae", dict(best.kwargs))]

    exp = _tiny(columns=columns, followup=followup, settings={"epochs": 1, "plots": False})
    result = run_experiment(exp, out=tmp_path / "e", splits=data)
    assert len(result.rows) == 3
    assert [r["double_z"] for r in result.rows[:2]] == [4, 6]
    assert result.rows[2]["run"].startswith("again_z=")
    assert result.rows[2]["model"] == "vae" and result.rows[2]["test_elbo"] is not None
    record = json.loads((result.dir / "experiment.json").read_text())
    assert len(record["configs"]) == 3
    assert result.figures == []  # plots off


def test_a_failing_figure_marks_the_experiment_failed(tmp_path, data):
    def figures(ctx):
        raise RuntimeError("boom in a figure")

    with pytest.raises(RuntimeError, match="boom"):
        run_experiment(_tiny(figures=figures), out=tmp_path / "e", splits=data)
    record = json.loads((tmp_path / "e" / "experiment.json").read_text())
    assert record["status"] == "failed" and "boom in a figure" in record["error"]


def test_a_bad_configuration_is_named_before_anything_trains(tmp_path, data):
    exp = _tiny(configs=lambda quick: [Config("bad", "ae", {"h": 8, "zz": 2})])
    with pytest.raises(RunError, match="run 'bad'.*zz"):
        run_experiment(exp, out=tmp_path / "e", splits=data)
    assert not (tmp_path / "e" / "bad").exists()


def test_unknown_settings_are_an_error_naming_them(tmp_path, data):
    with pytest.raises(RunError, match="unknown settings epoch"):
        run_experiment(_tiny(settings={"epoch": 1}), out=tmp_path / "e", splits=data)


def test_missing_data_falls_back_with_a_note(tmp_path):
    exp = _tiny(
        configs=lambda quick: [Config("rgb", "ae", {"h": 8, "z": 2, "input_shape": [3, 16, 16]})],
        settings={"data": "mnist", "data_root": str(tmp_path / "empty"), "epochs": 1},
        fallback_data="synthetic_faces",
    )
    result = run_experiment(exp, out=tmp_path / "e", limit=40)
    assert len(result.notes) == 1 and "stand-in dataset 'synthetic_faces'" in result.notes[0]
    assert "stand-in dataset" in (result.dir / "comparison.md").read_text()
    record = json.loads((result.dir / "experiment.json").read_text())
    assert record["data"] == "synthetic_faces" and record["notes"] == result.notes
    run = json.loads((result.dir / "rgb" / "run.json").read_text())
    assert run["data"]["name"] == "synthetic_faces"
    # naming the data explicitly turns the fallback off: the missing data is an error
    with pytest.raises(DatasetNotFoundError):
        run_experiment(exp, out=tmp_path / "f", data="mnist")


@pytest.mark.realdata
@pytest.mark.skipif(not FASHION.is_dir(), reason="Fashion-MNIST not installed")
def test_a_recipe_runs_on_fashion_mnist(tmp_path):
    result = run_experiment(
        "ae-vs-vae-latents", out=tmp_path / "e", quick=True, limit=500, epochs=1
    )
    assert [r["run"] for r in result.rows] == ["ae", "vae"]
    names = [p.name for p, _ in result.figures]
    assert names == ["loss_curves.png", "latents.png"]
    for path, caption in result.figures:
        assert path.stat().st_size > 5000 and caption
    record = json.loads((result.dir / "experiment.json").read_text())
    assert record["quick"] is True and record["settings"]["epochs"] == 1


def test_the_families_experiment_writes_each_familys_check(tmp_path):
    g = torch.Generator().manual_seed(0)
    data = from_tensors(torch.rand(64, 1, 28, 28, generator=g), torch.arange(64) % 4)
    exp = runs.get_experiment("families")
    # no figures here (the docs gallery draws them): the notes are written without them
    quiet = dataclasses.replace(exp, settings={**exp.settings, "plots": False})
    result = run_experiment(quiet, out=tmp_path / "f", splits=data, epochs=1)
    rows = {r["run"]: r for r in result.rows}
    assert set(rows) == {c.name for c in runs.get_experiment("families").configs(False)}
    # every model gets the same measurements; the VAEs their NLL, the VQ-VAEs their codebook
    for row in rows.values():
        assert row["code_mmd"] is not None and row["jacobian_norm"] > 0
    assert rows["ae"]["jacobian_vs_ae"] == 1.0
    assert rows["iwae_k=5"]["test_nll"] > 0 and rows["ae"].get("test_nll") is None
    assert 1.0 <= rows["vq_vae"]["perplexity"] <= 128
    assert rows["sparse_ae"]["code_mean"] is not None
    # the CVAE trained on the (x, y) split and had its samples judged by a classifier
    assert 0.0 <= rows["cvae"]["sample_class_acc"] <= 1.0
    assert 0.0 <= rows["cvae"]["classifier_acc"] <= 1.0 and rows["cvae"]["test_nll"] > 0
    assert rows["ae"].get("sample_class_acc") is None
    notes = " ".join(result.notes)
    for start in ("IWAE (k=5) test NLL", "CVAE samples classified", "beta-VAE over beta",
                  "VQ-VAE with dead-code",
                  "VQ-VAE without dead-code", "WAE-MMD test MMD", "Sparse AE mean code",
                  "Contractive AE mean Jacobian"):  # fmt: skip
        assert start in notes, start
    assert result.figures == []
    assert "Contractive AE mean Jacobian" in (result.dir / "comparison.md").read_text()
