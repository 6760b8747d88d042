"""Optimizers and schedulers by name: every registered one trains, kwargs are checked."""

from __future__ import annotations

import pytest
import torch

from autoencoders.registry import UnknownArgumentError, UnknownNameError, optimizers, schedulers
from autoencoders.training import Callback, Trainer
from autoencoders.training.optim import build_optimizer
from autoencoders.training.schedules import Schedule, build_scheduler, is_per_step


class InterruptError(Exception):
    pass


class StopAt(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, trainer, step, loss):
        if step == self.step:
            raise InterruptError


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class LrAtSteps(Callback):
    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_step_end(self, trainer, step, loss):
        self.lrs.append(trainer.lr_now)


def test_registries_hold_the_documented_names() -> None:
    assert {"adam", "adamw", "sgd", "rmsprop"} <= set(optimizers.names())
    assert {"step", "cosine", "exponential", "plateau", "onecycle"} <= set(schedulers.names())


@pytest.mark.parametrize("name", optimizers.names())
def test_every_optimizer_trains(make_ae, make_data, name) -> None:
    model = make_ae()
    before = _weights(model)
    trainer = Trainer(model, optimizer=name, lr=1e-2, epochs=1, batch_size=16, progress=False)
    history = trainer.fit(make_data(32))
    assert history[-1]["lr"] == 1e-2
    assert any(not torch.equal(before[k], v) for k, v in _weights(model).items())


def test_adam_is_fused_where_possible(make_ae) -> None:
    opt = Trainer(make_ae(), device="cpu").optimizer
    assert isinstance(opt, torch.optim.Adam) and opt.defaults["fused"] is True
    plain = Trainer(make_ae(), optimizer_kwargs={"fused": False}).optimizer
    assert not plain.defaults["fused"]


def test_optimizer_kwargs(make_ae) -> None:
    t = Trainer(make_ae(), optimizer="sgd", optimizer_kwargs={"momentum": 0.9, "nesterov": True})
    group = t.optimizer.param_groups[0]
    assert (group["momentum"], group["nesterov"], group["lr"]) == (0.9, True, 1e-3)
    t = Trainer(make_ae(), optimizer="adamw", lr=0.1, optimizer_kwargs={"lr": 0.2, "eps": 1e-6})
    assert t.optimizer.param_groups[0]["lr"] == 0.2  # optimizer_kwargs win over lr
    with pytest.raises(UnknownArgumentError, match=r"'momentm'; did you mean 'momentum'\?"):
        Trainer(make_ae(), optimizer="sgd", optimizer_kwargs={"momentm": 0.9})
    with pytest.raises(UnknownNameError, match=r"did you mean 'adamw'\?.*Registered optimizers"):
        Trainer(make_ae(), optimizer="adamwd")
    with pytest.raises(TypeError, match="need a registered optimizer name"):
        Trainer(make_ae(), optimizer=torch.optim.SGD, optimizer_kwargs={"lr": 0.1})
    with pytest.raises(TypeError, match="registered name"):
        build_optimizer(3, [torch.nn.Parameter(torch.zeros(1))])


@pytest.mark.parametrize("name", schedulers.names())
def test_every_scheduler_trains(make_ae, make_data, name) -> None:
    trainer = Trainer(make_ae(), scheduler=name, lr=0.1, epochs=3, batch_size=8, progress=False)
    history = trainer.fit(make_data(32), val=make_data(16, seed=3))
    assert len(history) == 3 and trainer.scheduler is not None
    assert all(0 <= lr <= 0.1 + 1e-12 for lr in history["lr"])


def test_per_step_schedules_step_every_batch(make_ae, make_data) -> None:
    assert is_per_step("onecycle") and not is_per_step("cosine") and not is_per_step(None)
    seen = LrAtSteps()
    trainer = Trainer(
        make_ae(), scheduler="onecycle", lr=0.1, epochs=2, batch_size=8, callbacks=[seen]
    )
    assert trainer.scheduler is None  # built by fit, which knows the batches per epoch
    trainer.progress = False
    trainer.fit(make_data(40))  # 5 batches per epoch
    sched = trainer.scheduler
    assert isinstance(sched, torch.optim.lr_scheduler.OneCycleLR)
    assert sched.total_steps == 10 and sched.last_epoch == 10
    lrs = seen.lrs  # the lr after each step: up to max_lr (the lr), then down to ~0
    assert max(lrs) == pytest.approx(0.1) and lrs[1] == max(lrs)  # after 30 % of 10 steps
    assert lrs[8] == min(lrs) < 0.1 / 25 / 1000


def test_per_step_schedule_resumes_exactly(make_vae, make_data, tmp_path) -> None:
    x = make_data(70)
    kwargs = {"epochs": 2, "batch_size": 16, "progress": False, "scheduler": "onecycle"}
    full = make_vae()
    full_history = Trainer(full, **kwargs).fit(x)
    trainer = Trainer(
        make_vae(), checkpoint_dir=tmp_path, checkpoint_every=3, callbacks=[StopAt(7)], **kwargs
    )
    with pytest.raises(InterruptError):
        trainer.fit(x)
    resumed = make_vae(seed=4)
    history = Trainer(resumed, checkpoint_dir=tmp_path, **kwargs).fit(x, resume=True)
    for k, v in _weights(full).items():
        assert torch.equal(v, _weights(resumed)[k]), k
    assert history["lr"] == full_history["lr"]


@pytest.mark.parametrize("name", ["onecycle", "warmup_cosine"])
def test_per_step_schedule_refuses_a_longer_resume(make_ae, make_data, tmp_path, name) -> None:
    x, kwargs = make_data(40), {"batch_size": 8, "progress": False, "scheduler": name}
    Trainer(make_ae(), epochs=2, checkpoint_dir=tmp_path, **kwargs).fit(x)
    seen = LrAtSteps()
    longer = Trainer(make_ae(), epochs=4, checkpoint_dir=tmp_path, callbacks=[seen], **kwargs)
    with pytest.raises(ValueError, match=rf"epochs=2 and the per-step scheduler '{name}'") as err:
        longer.fit(x, resume=True)
    assert "resumed with epochs=4" in str(err.value) and "Resume with epochs=2" in str(err.value)
    assert "new run" in str(err.value) and seen.lrs == []  # refused before any step
    again = Trainer(make_ae(), epochs=2, checkpoint_dir=tmp_path, **kwargs).fit(x, resume=True)
    assert len(again) == 2  # the same epochs: nothing left to do, no error
    Schedule("exponential").check_resume(2, 4, "ckpt")  # a per-epoch schedule extends
    Schedule(name, {"epochs": 8}).check_resume(2, 4, "ckpt")  # its own length: not the run's


def test_scheduler_kwargs(make_ae, make_data) -> None:
    t = Trainer(make_ae(), scheduler="cosine", epochs=4, scheduler_kwargs={"eta_min": 1e-4})
    assert t.scheduler.eta_min == 1e-4 and t.scheduler.T_max == 4
    t = Trainer(make_ae(), scheduler="step", epochs=9, scheduler_kwargs={"epochs": 3})
    assert t.scheduler.step_size == 1  # the kwargs win over the run's epochs
    h = Trainer(
        make_ae(),
        epochs=3,
        batch_size=16,
        progress=False,
        scheduler="exponential",
        scheduler_kwargs={"gamma": 0.5},
    ).fit(make_data(32))
    assert h["lr"] == pytest.approx([1e-3, 5e-4, 2.5e-4])
    with pytest.raises(UnknownArgumentError, match=r"'eta_mn'; did you mean 'eta_min'\?"):
        Trainer(make_ae(), scheduler="cosine", scheduler_kwargs={"eta_mn": 0.0})
    with pytest.raises(UnknownArgumentError, match="'gama'"):
        Schedule("onecycle", {"gama": 0.1})  # checked at once, though built by fit
    with pytest.raises(TypeError, match="need a registered scheduler name"):
        Trainer(make_ae(), scheduler=None, scheduler_kwargs={"gamma": 0.5})


def test_per_step_schedule_needs_a_length() -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        build_scheduler("onecycle", opt, epochs=2)
    sched = build_scheduler("onecycle", opt, epochs=2, kwargs={"steps_per_epoch": 3})
    assert sched.total_steps == 6


def test_warmup_cosine_warms_up_then_decays(make_ae, make_data) -> None:
    seen = LrAtSteps()
    Trainer(
        make_ae(),
        lr=0.1,
        epochs=2,
        batch_size=8,
        progress=False,
        scheduler="warmup_cosine",
        scheduler_kwargs={"warmup_steps": 4},
        callbacks=[seen],
    ).fit(make_data(40))  # 10 steps
    lrs = seen.lrs  # the lr after each step: factors 2/4, 3/4, 4/4, then the cosine
    assert lrs[:3] == pytest.approx([0.05, 0.075, 0.1])
    assert lrs[2:] == sorted(lrs[2:], reverse=True) and lrs[-1] == pytest.approx(0.0)
