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


# -- the training state and its checkpoint files ------------------------------------------------
def _tiny_state(seed: int = 0):
    import autoencoders
    from autoencoders.training.state import TrainingState

    torch.manual_seed(seed)
    model = autoencoders.build("ae", h=8, z=2, input_shape=(1, 4, 4))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    return TrainingState(model, opt, sched, epochs=3, batch_size=4, seed=1), model, opt


def test_training_state_round_trip() -> None:
    state, model, opt = _tiny_state()
    loss = model(torch.rand(4, 1, 4, 4)).logits.sum()
    loss.backward()
    opt.step()
    state.scheduler.step()
    state.epoch, state.global_step, state.should_stop = 2, 9, True
    state.history.append({"epoch": 1, "train_loss": 1.5})
    saved = state.state_dict()
    expected = torch.rand(3)  # the draw after the saved RNG state
    assert set(saved) >= {"model", "optimizer", "scheduler", "rng", "history", "global_step"}

    other, model2, opt2 = _tiny_state(seed=5)
    other.load_state_dict(saved)
    assert torch.equal(torch.rand(3), expected)  # RNG restored
    assert (other.epoch, other.global_step, other.should_stop) == (2, 9, True)
    assert other.history.records == [{"epoch": 1, "train_loss": 1.5}]
    assert other.scheduler.last_epoch == 1 and opt2.param_groups[0]["lr"] == 0.005
    for k, v in model.state_dict().items():
        assert torch.equal(v, model2.state_dict()[k]), k
    assert opt2.state_dict()["state"][0]["step"] == 1


def test_mid_epoch_state_checks_the_run() -> None:
    state, _, _ = _tiny_state()
    state.batch_in_epoch, state.num_train_samples = 2, 40
    saved = state.state_dict()
    other, _, _ = _tiny_state()
    other.num_train_samples = 44
    other.load_state_dict(saved)
    with pytest.raises(ValueError, match="num_train_samples=40, but this run has"):
        other.check_resumable("ckpt")


def test_checkpoint_files_round_trip(tmp_path) -> None:
    from autoencoders.training.checkpoint import save_checkpoint
    from autoencoders.training.restore import load_checkpoint

    state, model, _ = _tiny_state()
    state.global_step = 4
    folder = save_checkpoint(tmp_path / "ckpt-epoch0001-step000000004", state)
    doc = json.loads((folder / "trainer_state.json").read_text())
    assert doc["format_version"] == 2 and doc["global_step"] == 4
    assert list(doc)[:4] == ["format_version", "epoch", "batch_in_epoch", "global_step"]
    other, model2, _ = _tiny_state(seed=3)
    load_checkpoint(folder, other)
    assert other.global_step == 4
    for k, v in model.state_dict().items():
        assert torch.equal(v, model2.state_dict()[k]), k
    doc["format_version"] = 99
    (folder / "trainer_state.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="format_version 99"):
        load_checkpoint(folder, other)
    with pytest.raises(ValueError, match="missing model.safetensors"):
        load_checkpoint(tmp_path / "nothing", other)


def test_compiled_models_checkpoint_like_plain_ones(make_ae, make_data, tmp_path) -> None:
    """A model the user compiled trains, checkpoints (with early stopping's best weights)
    and saves best/final under the plain module's names; a plain model resumes from it."""
    from safetensors.torch import load_file

    import autoencoders
    from autoencoders.training import Trainer

    torch._dynamo.reset()
    plain = make_ae()
    compiled = torch.compile(plain, backend="eager")
    x = make_data(32)
    kwargs = {"batch_size": 16, "progress": False, "checkpoint_dir": tmp_path}
    Trainer(
        compiled, epochs=1, early_stopping={"patience": 3, "monitor": "train_loss"}, **kwargs
    ).fit(x)
    keys = set(plain.state_dict())
    latest = next(tmp_path.glob("ckpt-*"))
    assert set(load_file(latest / "model.safetensors")) == keys
    for folder in ("best", "final"):
        loaded = autoencoders.load(tmp_path / folder)
        assert set(loaded.state_dict()) == keys
    resumed = make_ae(seed=3)
    history = Trainer(
        resumed, epochs=2, early_stopping={"patience": 3, "monitor": "train_loss"}, **kwargs
    ).fit(x, resume=True)
    assert history["epoch"] == [1, 2]
    torch._dynamo.reset()
