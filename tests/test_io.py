"""save/load: file layout, strict loading, clear errors, no pickle, nothing lost on failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import autoencoders
from autoencoders.io import CONFIG_NAME, WEIGHTS_NAME, load_config


@pytest.fixture
def saved(tmp_path: Path) -> tuple[autoencoders.Autoencoder, Path]:
    model = autoencoders.build("vae", h=32, z=4).eval()
    return model, autoencoders.save(model, tmp_path / "run")


def test_files_are_json_and_safetensors(saved) -> None:
    model, folder = saved
    cfg = json.loads((folder / CONFIG_NAME).read_text())
    assert cfg["format_version"] == 1
    assert cfg["architecture"] == {"name": "vae", "kwargs": {"h": 32, "z": 4}}
    assert cfg["bottleneck"] == {
        "name": "gaussian",
        "kwargs": {"in_features": 32, "z": 4, "sample_in_eval": False, "samples": 1},
    }
    assert "regularizers" not in cfg and "loss" not in cfg  # only written when a model has them
    tensors = load_file(folder / WEIGHTS_NAME)
    assert set(tensors) == set(model.state_dict())
    assert not list(folder.glob("*.tmp"))  # atomic writes leave no temp files


def test_a_config_written_before_the_families_still_loads(saved) -> None:
    model, folder = saved
    cfg = json.loads((folder / CONFIG_NAME).read_text())
    del cfg["bottleneck"]["kwargs"]["samples"]  # what version 0.2 wrote
    del cfg["weights"]  # 0.2 recorded no hashes, in neither file
    (folder / CONFIG_NAME).write_text(json.dumps(cfg))
    save_file(load_file(folder / WEIGHTS_NAME), folder / WEIGHTS_NAME)
    again = autoencoders.load(folder)
    assert again.bottleneck.samples == 1 and len(again.regularizers) == 0
    assert again.loss_spec is None
    weights = model.state_dict()
    assert all(torch.equal(weights[k], v) for k, v in again.state_dict().items())


def test_saved_files_get_ordinary_permissions(saved) -> None:
    # atomic writes go through mkstemp (owner-only 0o600); the final files must follow the umask
    import os

    mask = os.umask(0)
    os.umask(mask)
    _, folder = saved
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        assert (folder / name).stat().st_mode & 0o777 == 0o666 & ~mask


def test_load_returns_eval_model_with_same_weights(saved) -> None:
    model, folder = saved
    again = autoencoders.load(folder)
    assert not again.training
    for (k, a), (k2, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert k == k2 and torch.equal(a, b)


def test_missing_folder_and_files(tmp_path: Path, saved) -> None:
    with pytest.raises(ValueError, match="it is not a folder"):
        autoencoders.load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="has no config.json"):
        autoencoders.load(tmp_path / "empty")
    _, folder = saved
    (folder / WEIGHTS_NAME).unlink()
    with pytest.raises(ValueError, match="has config.json but no model.safetensors"):
        autoencoders.load(folder)


def test_mismatched_weights_are_listed(saved) -> None:
    _, folder = saved
    state = load_file(folder / WEIGHTS_NAME)
    state.pop("decoder.net.0.bias")
    state["encoder.net.0.weight"] = torch.zeros(3, 3)
    state["extra"] = torch.zeros(1)
    save_file(state, folder / WEIGHTS_NAME)
    with pytest.raises(ValueError) as exc:
        autoencoders.load(folder)
    msg = str(exc.value)
    assert "missing ['decoder.net.0.bias']" in msg
    assert "unexpected ['extra']" in msg
    assert "encoder.net.0.weight: file (3, 3) vs model (32, 784)" in msg


def test_corrupt_files(saved) -> None:
    _, folder = saved
    (folder / WEIGHTS_NAME).write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="cannot read weights"):
        autoencoders.load(folder)
    (folder / CONFIG_NAME).write_text("{oops")
    with pytest.raises(ValueError, match="is not valid JSON"):
        load_config(folder)


def test_unknown_block_name_says_what_exists(saved) -> None:
    _, folder = saved
    cfg = json.loads((folder / CONFIG_NAME).read_text())
    cfg["encoder"]["name"] = "transformer_from_elsewhere"
    (folder / CONFIG_NAME).write_text(json.dumps(cfg))
    with pytest.raises(
        autoencoders.UnknownNameError,
        match=r"unknown encoder 'transformer_from_elsewhere'.*install the package",
    ):
        autoencoders.load(folder)


def test_unsupported_format_version(saved) -> None:
    _, folder = saved
    cfg = json.loads((folder / CONFIG_NAME).read_text())
    cfg["format_version"] = 99
    (folder / CONFIG_NAME).write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="unsupported model config format_version 99"):
        autoencoders.load(folder)


def test_failed_save_keeps_what_was_saved(saved) -> None:
    """A model that cannot be described raises before anything on disk changes."""
    _, folder = saved
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    class Unregistered(autoencoders.Encoder):
        def __init__(self) -> None:
            super().__init__()
            self.input_shape, self.out_features = (1, 28, 28), 784

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.flatten(1)

    bad = autoencoders.Autoencoder(
        Unregistered(),
        autoencoders.bottlenecks.build("gaussian", in_features=784, z=2),
        autoencoders.decoders.build("mlp", z=2, hidden=[]),
    )
    with pytest.raises(TypeError, match="Unregistered is not a registered encoder"):
        autoencoders.save(bad, folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_save_refuses_non_models_and_files(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="takes an autoencoders.Autoencoder, got Linear"):
        autoencoders.save(torch.nn.Linear(2, 2), tmp_path)  # type: ignore[arg-type]
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="needs a folder"):
        autoencoders.save(autoencoders.build("linear_ae"), f)


def test_non_json_block_argument_is_named(tmp_path: Path) -> None:
    enc = autoencoders.encoders.build("mlp", hidden=[8])
    enc._built_by[1]["activation"] = object()  # simulate a block built with a non-JSON value
    model = autoencoders.Autoencoder(
        enc,
        autoencoders.bottlenecks.build("deterministic", in_features=8, z=2),
        autoencoders.decoders.build("mlp", z=2, hidden=[8]),
    )
    with pytest.raises(TypeError, match="encoder 'mlp' is not JSON-serialisable"):
        autoencoders.save(model, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_compiled_model_saves_and_loads_like_the_plain_one(tmp_path: Path) -> None:
    # issue 9 bug: the type check ran before the unwrap, so save(torch.compile(m)) raised
    model = autoencoders.build("vae", h=16, z=2)
    compiled = torch.compile(model)  # wrapping only; nothing is compiled until it is called
    plain_dir = autoencoders.save(model, tmp_path / "plain")
    compiled_dir = autoencoders.save(compiled, tmp_path / "compiled")
    assert (compiled_dir / CONFIG_NAME).read_bytes() == (plain_dir / CONFIG_NAME).read_bytes()
    assert "_orig_mod" not in (compiled_dir / CONFIG_NAME).read_text()
    loaded = autoencoders.load(compiled_dir)
    assert set(loaded.state_dict()) == set(model.state_dict())  # no "_orig_mod." prefixes
    assert _same_weights(loaded, model)


def test_ddp_wrapped_model_saves_and_loads_like_the_plain_one(tmp_path: Path) -> None:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    if dist.is_initialized():
        pytest.skip("a process group is already initialised in this process")
    store = dist.FileStore(str(tmp_path / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        model = autoencoders.build("ae", h=16, z=2)
        folder = autoencoders.save(DistributedDataParallel(model), tmp_path / "ddp")
        nested = torch.compile(DistributedDataParallel(model))
        folder2 = autoencoders.save(nested, tmp_path / "nested")
    finally:
        dist.destroy_process_group()
    for f in (folder, folder2):
        loaded = autoencoders.load(f)
        assert set(loaded.state_dict()) == set(model.state_dict())  # no "module." prefixes
        assert _same_weights(loaded, model)
        assert loaded.config == model.config
