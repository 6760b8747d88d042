"""Fuzzing the files a user may be handed: a saved model folder and a checkpoint.

Hypothesis mutates the bytes (truncation, bit flips, overwritten bytes) and the fields
(wrong types, missing and extra keys) of ``config.json``, ``model.safetensors``,
``trainer_state.json`` and the checkpoint's tensor files. Every load either gives exactly the
model (or training state) that was saved or raises a library exception
(:class:`~autoencoders.errors.AutoencodersError`) — never a raw exception, never a hang.
"""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import autoencoders
from autoencoders.errors import AutoencodersError
from autoencoders.training.checkpoint import checkpoint_name, save_checkpoint
from autoencoders.training.restore import load_checkpoint
from autoencoders.training.state import TrainingState

FUZZ = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
ODD_VALUES = [None, "x", "", -1, 0, 1.5, 10**30, float("nan"), True, [], {}, [[[[]]]], {"a": {}}]
COUNTS = {"examples": 0, "exact": 0, "refused": 0}


@pytest.fixture(scope="module", autouse=True)
def report_counts() -> Iterator[None]:
    yield
    print(f"\nfuzz: {COUNTS}")  # the figures for the closing note (pytest -s)


@contextmanager
def no_hang(seconds: int = 20) -> Iterator[None]:
    def fail(*_: Any) -> None:
        raise TimeoutError(f"a load took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def mutate_json(data: st.DataObject, raw: bytes) -> bytes:
    doc = json.loads(raw)
    path = data.draw(st.sampled_from(_paths(doc)[1:]))
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    op = data.draw(st.sampled_from(["delete", "replace", "extra"]))
    if op == "delete":
        del parent[path[-1]]
    elif op == "replace":
        parent[path[-1]] = data.draw(st.sampled_from(ODD_VALUES))
    elif isinstance(parent, dict):
        parent["unexpected_key"] = data.draw(st.sampled_from(ODD_VALUES))
    else:
        parent.append(data.draw(st.sampled_from(ODD_VALUES)))
    return json.dumps(doc).encode()


def mutate_bytes(data: st.DataObject, raw: bytes) -> bytes:
    op = data.draw(st.sampled_from(["truncate", "flip", "overwrite", "header"]))
    if op == "truncate":
        return raw[: data.draw(st.integers(0, len(raw) - 1))]
    if op == "header":  # where the structure is: the first bytes of the file
        i = data.draw(st.integers(0, min(len(raw), 200) - 1))
    else:
        i = data.draw(st.integers(0, len(raw) - 1))
    out = bytearray(raw)
    if op == "overwrite":
        out[i] = data.draw(st.integers(0, 255))
    else:
        out[i] ^= 1 << data.draw(st.integers(0, 7))
    return bytes(out)


def mutate(data: st.DataObject, name: str, raw: bytes) -> bytes:
    if name.endswith(".json") and data.draw(st.booleans()):
        return mutate_json(data, raw)
    return mutate_bytes(data, raw)


def _equal_states(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, bytes]]:
    torch.manual_seed(0)
    model = autoencoders.build("vae", h=8, z=2, input_shape=(1, 4, 4), noise="gaussian")
    folder = autoencoders.save(model, tmp_path_factory.mktemp("model"))
    return model, {p.name: p.read_bytes() for p in folder.iterdir()}


@FUZZ
@given(data=st.data())
def test_a_mutated_model_folder_loads_exactly_or_is_refused(saved_model, data) -> None:
    model, files = saved_model
    name = data.draw(st.sampled_from(sorted(files)))
    mutated = mutate(data, name, files[name])
    with tempfile.TemporaryDirectory() as d:
        for n, raw in files.items():
            (Path(d) / n).write_bytes(mutated if n == name else raw)
        COUNTS["examples"] += 1
        try:
            with no_hang():
                again = autoencoders.load(d)
        except AutoencodersError:
            COUNTS["refused"] += 1
            return
    assert again.config == model.config
    assert _equal_states(again.state_dict(), model.state_dict())
    COUNTS["exact"] += 1


def _state(seed: int) -> TrainingState:
    torch.manual_seed(seed)
    model = autoencoders.build("vae", h=8, z=2, input_shape=(1, 4, 4))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return TrainingState(model, opt, epochs=2, batch_size=4, seed=seed)


@pytest.fixture(scope="module")
def saved_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict[str, bytes]]:
    state = _state(0)
    x = torch.rand(8, 1, 4, 4)
    loss = state.model(x).logits.square().mean()  # one step: the optimizer has state
    loss.backward()
    state.optimizer.step()
    state.global_step, state.epoch = 1, 1
    state.history.append({"epoch": 1, "train_loss": 1.5})
    folder = save_checkpoint(tmp_path_factory.mktemp("ckpt") / checkpoint_name(1, 1), state)
    assert folder is not None
    return _comparable(state), {p.name: p.read_bytes() for p in folder.iterdir()}


def _comparable(state: TrainingState) -> dict[str, Any]:
    opt = state.optimizer.state_dict()
    return {
        "model": {k: v.clone() for k, v in state.model.state_dict().items()},
        "opt_state": {i: {k: v.clone() for k, v in s.items()} for i, s in opt["state"].items()},
        "groups": json.dumps(opt["param_groups"], default=str),
        "counters": (state.epoch, state.batch_in_epoch, state.global_step),
        "history": json.dumps(state.history.records),
    }


@FUZZ
@given(data=st.data())
def test_a_mutated_checkpoint_restores_exactly_or_is_refused(saved_checkpoint, data) -> None:
    want, files = saved_checkpoint
    name = data.draw(st.sampled_from(sorted(files)))
    mutated = mutate(data, name, files[name])
    state = _state(1)  # other weights: a failed load cannot pass for a good one
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / checkpoint_name(1, 1)
        folder.mkdir()
        for n, raw in files.items():
            (folder / n).write_bytes(mutated if n == name else raw)
        COUNTS["examples"] += 1
        try:
            with no_hang():
                load_checkpoint(folder, state)
        except AutoencodersError:
            COUNTS["refused"] += 1
            return
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    got = _comparable(state)
    assert _equal_states(got["model"], want["model"])
    assert got["opt_state"].keys() == want["opt_state"].keys()
    for i in want["opt_state"]:
        assert _equal_states(got["opt_state"][i], want["opt_state"][i])
    assert (got["groups"], got["counters"], got["history"]) == (
        want["groups"],
        want["counters"],
        want["history"],
    )
    COUNTS["exact"] += 1
