"""Checkpoint state encoding: JSON + tensors, exact round trips, clear errors."""

from __future__ import annotations

import json

import pytest
import torch

from autoencoders.training.state import dumps, join_state, split_state


def _adam_state() -> dict:
    params = [torch.nn.Parameter(torch.rand(3, 2)), torch.nn.Parameter(torch.rand(2))]
    opt = torch.optim.Adam(params, lr=0.01, betas=(0.8, 0.9))
    for _ in range(2):
        for p in params:
            p.grad = torch.rand_like(p)
        opt.step()
    return opt.state_dict()


def test_optimizer_state_round_trip_through_json() -> None:
    state = _adam_state()
    doc, tensors = split_state(state, "optimizer")
    doc = json.loads(dumps(doc))  # really through JSON text
    again = join_state(doc, tensors)
    assert again["param_groups"] == state["param_groups"]  # tuples (betas) restored
    assert set(again["state"]) == {0, 1}  # integer keys restored
    for i in (0, 1):
        for k, v in state["state"][i].items():
            assert torch.equal(again["state"][i][k], v), k


def test_inf_and_nested_values() -> None:
    state = {"best": float("inf"), "ks": [1, (2, 3)], "m": {"__tensor__": 1}}
    doc, tensors = split_state(state, "s")
    assert tensors == {}
    assert join_state(json.loads(dumps(doc)), tensors) == state


def test_unsupported_values_name_their_path() -> None:
    with pytest.raises(TypeError, match=r"scheduler\.lr_lambdas\.0 is a function"):
        split_state({"lr_lambdas": [lambda e: 1.0]}, "scheduler")
    with pytest.raises(TypeError, match="key"):
        split_state({(1, 2): 3}, "x")


def test_missing_tensor_is_an_error() -> None:
    with pytest.raises(ValueError, match="incomplete or corrupt"):
        join_state({"w": {"__tensor__": "nope"}}, {})
