"""Bad saved model folders: every one a ModelFileError (or the registry's UnknownNameError)
naming the file and what is wrong; never a silently different model."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import autoencoders
from autoencoders.errors import ModelFileError, UnknownArgumentError, UnknownNameError
from autoencoders.io import CONFIG_NAME, WEIGHTS_NAME


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    model = autoencoders.build("vae", h=8, z=2, input_shape=(1, 4, 4))
    return autoencoders.save(model, tmp_path / "m")


def _edit(folder: Path, change) -> None:
    cfg = json.loads((folder / CONFIG_NAME).read_text())
    change(cfg)
    (folder / CONFIG_NAME).write_text(json.dumps(cfg))


def test_an_unknown_block_name_names_what_exists(folder: Path) -> None:
    _edit(folder, lambda c: c["decoder"].update(name="nonexistent_decoder"))
    with pytest.raises(UnknownNameError, match="unknown decoder 'nonexistent_decoder'"):
        autoencoders.load(folder)


def test_an_unknown_keyword_names_the_accepted_ones(folder: Path) -> None:
    _edit(folder, lambda c: c["encoder"]["kwargs"].update(hiden=[8]))
    with pytest.raises(UnknownArgumentError, match="did you mean 'hidden'"):
        autoencoders.load(folder)


@pytest.mark.parametrize("bad", ["many", [-3], {"a": 1}, None])
def test_a_keyword_of_the_wrong_type_names_the_field(folder: Path, bad) -> None:
    _edit(folder, lambda c: c["encoder"]["kwargs"].update(hidden=bad))
    with pytest.raises(ModelFileError, match=r"config\.json.*config\['encoder'\]"):
        autoencoders.load(folder)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.update(format_version=99), "unsupported model config format_version 99"),
        (lambda c: c.pop("encoder"), "has no 'encoder' entry"),
        (lambda c: c.update(decoder="mlp"), r"config\['decoder'\] must be"),
        (lambda c: c["bottleneck"].update(extra=1), r"unknown keys \['extra'\]"),
        (lambda c: c["encoder"].update(kwargs=[1]), r"\['kwargs'\] must be a dict"),
        (lambda c: c.update(regularizers={}), r"config\['regularizers'\] must be a list"),
        (lambda c: c.update(architecture="vae"), r"config\['architecture'\] must be"),
        (lambda c: c.update(weights="abc"), "the field 'weights' must be"),
    ],
)
def test_malformed_configs_are_named(folder: Path, change, message: str) -> None:
    _edit(folder, change)
    with pytest.raises(ModelFileError, match=message):
        autoencoders.load(folder)


def test_an_unregistered_architecture_name_is_said(folder: Path) -> None:
    _edit(folder, lambda c: c["architecture"].update(name="from_a_plugin"))
    with pytest.raises(ModelFileError, match="not the config"):  # the edit is caught first
        autoencoders.load(folder)  # (and no warning: the error says what matters)
    with pytest.warns(UserWarning, match="architecture 'from_a_plugin', which is not a registered"):
        autoencoders.load(folder, verify=False)


def test_integer_weights_are_refused_not_cast(folder: Path) -> None:
    state = load_file(folder / WEIGHTS_NAME)
    state["encoder.net.0.weight"] = state["encoder.net.0.weight"].to(torch.int32)
    save_file(state, folder / WEIGHTS_NAME)
    with pytest.raises(
        ModelFileError, match=r"wrong dtype.*file torch.int32 vs model torch.float32"
    ):
        autoencoders.load(folder)


def test_float16_weights_are_cast_and_said_so_in_the_docs(folder: Path) -> None:
    state = load_file(folder / WEIGHTS_NAME)
    save_file({k: v.half() for k, v in state.items()}, folder / WEIGHTS_NAME)
    model = autoencoders.load(folder, verify=False)  # a deliberate edit: verify=False
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_a_shape_mismatch_is_a_short_list(folder: Path) -> None:
    state = load_file(folder / WEIGHTS_NAME)
    state["encoder.net.0.weight"] = torch.zeros(3, 3)
    save_file(state, folder / WEIGHTS_NAME)
    with pytest.raises(ModelFileError, match=r"wrong shape \['encoder.net.0.weight: file"):
        autoencoders.load(folder)


def test_new_weights_with_the_old_config_load_as_the_new_model(folder: Path) -> None:
    """A crash between the two writes of save(): the new weights beside the old config. The
    weights carry their own config and vouch for it, so the folder loads as the new model."""
    old_config = (folder / CONFIG_NAME).read_bytes()
    torch.manual_seed(1)
    new = autoencoders.build("vae", h=12, z=2, input_shape=(1, 4, 4))
    autoencoders.save(new, folder)
    (folder / CONFIG_NAME).write_bytes(old_config)
    with pytest.warns(UserWarning, match="is from an earlier save than"):
        again = autoencoders.load(folder)
    assert again.config == new.config
    assert all(
        torch.equal(a, b) for a, b in zip(again.state_dict().values(), new.state_dict().values())
    )


def test_weights_with_damaged_tensors_are_refused_even_with_their_own_config(
    folder: Path,
) -> None:
    raw = bytearray((folder / WEIGHTS_NAME).read_bytes())
    raw[-3] ^= 0x10  # inside the tensor data
    (folder / WEIGHTS_NAME).write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="not the weights file"):
        autoencoders.load(folder)


def test_an_edited_config_is_refused_unless_verify_is_off(folder: Path) -> None:
    _edit(folder, lambda c: c["bottleneck"]["kwargs"].update(samples=2))
    with pytest.raises(ModelFileError, match="is not the config that"):
        autoencoders.load(folder)
    assert autoencoders.load(folder, verify=False).bottleneck.samples == 2


def test_a_config_record_without_weights_record_is_refused(folder: Path) -> None:
    _edit(folder, lambda c: c.pop("weights"))
    with pytest.raises(ModelFileError, match="has no 'weights' record"):
        autoencoders.load(folder)


@pytest.mark.parametrize("content", [b"", b"[1, 2]", b"\xff\xfe", b"{" * 100000])
def test_unreadable_configs(folder: Path, content: bytes) -> None:
    (folder / CONFIG_NAME).write_bytes(content)
    with pytest.raises(ModelFileError, match=r"config\.json"):
        autoencoders.load(folder)


@pytest.mark.parametrize("cut", [0, 7, 8, 50, -1])
def test_truncated_weights(folder: Path, cut: int) -> None:
    raw = (folder / WEIGHTS_NAME).read_bytes()
    (folder / WEIGHTS_NAME).write_bytes(raw[:cut])
    with pytest.raises(ModelFileError, match="cannot read weights"):
        autoencoders.load(folder)


def test_stale_temporaries_of_a_killed_save_are_removed(folder: Path) -> None:
    dead = folder / f".{WEIGHTS_NAME}.999999999.abcd.tmp"
    dead.write_bytes(b"half a file")
    alive = folder / f".{CONFIG_NAME}.{os.getpid()}.efgh.tmp"  # a writer that still runs
    alive.write_bytes(b"in progress")
    autoencoders.save(autoencoders.load(folder), folder)
    assert not dead.exists() and alive.exists()


def test_saves_are_deterministic(folder: Path, tmp_path: Path) -> None:
    model = autoencoders.load(folder)
    again = autoencoders.save(model, tmp_path / "again")
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        assert (again / name).read_bytes() == (folder / name).read_bytes()


def test_a_save_that_cannot_describe_the_model_changes_nothing(folder: Path) -> None:
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    model = autoencoders.load(folder)
    model.noise = torch.nn.Identity()  # not a registered noise transform
    with pytest.raises(TypeError):
        autoencoders.save(model, folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
