"""The Trainer: inputs, losses, optimizers, schedulers, evaluation, callbacks, lean steps."""

from __future__ import annotations

import logging
import math
import sys

import pytest
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

import autoencoders
from autoencoders.losses import ELBOLoss, ReconstructionLoss
from autoencoders.registry import UnknownNameError
from autoencoders.training import Callback, EarlyStopping, History, MetricsLogger, Trainer
from autoencoders.training.batches import DatasetSource, InMemorySource, LoaderSource, make_source


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


class PairDataset(Dataset):
    """A map-style dataset of (x, label) pairs that is not a TensorDataset."""

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.x[i], i % 3


def test_exports() -> None:
    assert autoencoders.Trainer is Trainer
    assert autoencoders.History is History
    assert {"Trainer", "History"} <= set(autoencoders.__all__)


def test_fit_vae_history_records(make_vae, make_data) -> None:
    model = make_vae()
    trainer = Trainer(model, epochs=3, batch_size=16, progress=False, lr=1e-2)
    history = trainer.fit(make_data(96), val=make_data(40, seed=2))
    assert isinstance(history, History) and len(history) == 3
    expected = {"epoch", "step", "lr", "seconds", "samples_per_s", "skipped_steps"}
    for split in ("train", "val"):
        expected |= {f"{split}_{k}" for k in ("loss", "recon", "kl")}
    assert set(history.keys) == expected
    assert history["epoch"] == [1, 2, 3] and history["step"] == [6, 12, 18]
    assert history["train_loss"][-1] < history["train_loss"][0]
    rec = history[0]
    assert rec["train_loss"] == pytest.approx(rec["train_recon"] + rec["train_kl"], rel=1e-6)
    assert rec["samples_per_s"] > 0 and rec["skipped_steps"] == 0 and rec["lr"] == 1e-2
    assert isinstance(trainer.loss_fn, ELBOLoss)
    assert all(p.grad is None for p in model.parameters())  # zero_grad(set_to_none=True)


def test_default_loss_follows_the_model(make_ae) -> None:
    assert isinstance(Trainer(make_ae(), progress=False).loss_fn, ReconstructionLoss)
    assert repr(Trainer(make_ae(), loss="mse").loss_fn) == "ReconstructionLoss(recon='mse')"
    with pytest.raises(TypeError, match="registered loss name"):
        Trainer(make_ae(), loss=3)


def test_every_input_kind_gives_the_same_training(make_ae, make_data) -> None:
    """A tensor, a TensorDataset, a stacked map-style dataset and the DataLoader path (a
    dataset over the in-memory limit) all follow the same seeded order: identical weights."""
    x = make_data(70)
    results = {}
    inputs = {
        "tensor": (x, {}),
        "tensor_dataset": (TensorDataset(x, torch.zeros(70)), {}),
        "map_dataset": (PairDataset(x), {}),
        "loader_path": (PairDataset(x), {"in_memory_limit": 0, "num_workers": 0}),
    }
    for name, (train, kwargs) in inputs.items():
        model = make_ae()
        Trainer(model, epochs=2, batch_size=16, progress=False, **kwargs).fit(train)
        results[name] = _weights(model)
    for name in ("tensor_dataset", "map_dataset", "loader_path"):
        _assert_same(results["tensor"], results[name])


def test_sources_are_picked_by_kind(make_data) -> None:
    x, cpu = make_data(10), torch.device("cpu")
    kw = {"what": "train", "device": cpu, "batch_size": 4}
    assert isinstance(make_source(x, **kw), InMemorySource)
    assert isinstance(make_source(x.numpy(), **kw), InMemorySource)
    assert isinstance(make_source((x, torch.arange(10)), **kw), InMemorySource)
    assert isinstance(make_source(PairDataset(x), **kw), InMemorySource)
    big = make_source(PairDataset(x), in_memory_limit=100, num_workers=0, **kw)
    assert isinstance(big, DatasetSource)
    assert isinstance(make_source(DataLoader(x, batch_size=4), **kw), LoaderSource)
    with pytest.raises(TypeError, match="floating-point inputs or uint8 images"):
        make_source(torch.zeros(4, 2, dtype=torch.int16), **kw)
    with pytest.raises(ValueError, match="empty"):
        make_source(torch.zeros(0, 2), **kw)
    with pytest.raises(
        TypeError, match="a tensor, a numpy array, an \\(x, y\\) pair of them, a torch"
    ):
        make_source("images/", **kw)


def test_dataloader_input_trains_on_its_batches(make_ae, make_data) -> None:
    loader = DataLoader(TensorDataset(make_data(40)), batch_size=8, shuffle=False)
    history = Trainer(make_ae(), epochs=2, progress=False).fit(loader, val=loader)
    assert history["step"] == [5, 10]
    assert math.isfinite(history[-1]["val_loss"])


def test_last_partial_batch_is_trained(make_ae, make_data) -> None:
    sizes = []
    model = make_ae()
    model.register_forward_pre_hook(
        lambda m, args: sizes.append(args[0].shape[0]) if m.training else None
    )
    Trainer(model, epochs=1, batch_size=16, progress=False).fit(make_data(40))
    assert sizes == [16, 16, 8]


def test_evaluate_is_the_sample_weighted_mean(make_ae, make_data) -> None:
    model = make_ae()
    x = make_data(50)
    trainer = Trainer(model, batch_size=16, progress=False)  # batches of 16, 16, 16, 2
    result = trainer.evaluate(x)
    model.eval()
    with torch.no_grad():
        whole = ReconstructionLoss()(model(x), x)
    assert set(result) == {"loss", "recon"}
    assert result["loss"] == pytest.approx(float(whole.total), rel=1e-5)
    model.train()
    trainer.evaluate(x)
    assert model.training  # mode restored


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("adam", torch.optim.Adam),
        ("AdamW", torch.optim.AdamW),
        ("sgd", torch.optim.SGD),
        ("rmsprop", torch.optim.RMSprop),
    ],
)
def test_optimizers_by_name(make_ae, name, cls) -> None:
    trainer = Trainer(make_ae(), optimizer=name, lr=0.05, weight_decay=0.1)
    assert type(trainer.optimizer) is cls
    group = trainer.optimizer.param_groups[0]
    assert group["lr"] == 0.05 and group["weight_decay"] == 0.1


def test_optimizer_callable_and_errors(make_ae) -> None:
    trainer = Trainer(make_ae(), optimizer=lambda ps: torch.optim.SGD(ps, lr=0.3, momentum=0.5))
    assert trainer.optimizer.param_groups[0]["momentum"] == 0.5
    with pytest.raises(UnknownNameError, match=r"'lbfgs'.*adam, adamw, .*rmsprop, sgd"):
        Trainer(make_ae(), optimizer="lbfgs")  # a ValueError
    with pytest.raises(TypeError, match="must return a torch.optim.Optimizer"):
        Trainer(make_ae(), optimizer=lambda ps: None)


def test_schedulers(make_ae, make_data) -> None:
    x = make_data(32)
    h = Trainer(make_ae(), epochs=4, batch_size=16, scheduler="cosine", progress=False).fit(x)
    assert h["lr"][0] == 1e-3 and h["lr"] == sorted(h["lr"], reverse=True) and h["lr"][3] < 2e-4
    h = Trainer(make_ae(), epochs=3, scheduler="step", progress=False).fit(x)
    assert h["lr"] == pytest.approx([1e-3, 1e-4, 1e-5])
    t = Trainer(make_ae(), epochs=2, scheduler="plateau", progress=False)
    t.fit(x, val=x)
    assert isinstance(t.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    assert t.scheduler.last_epoch == 2
    t = Trainer(
        make_ae(), scheduler=lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 0.5**e)
    )
    assert isinstance(t.scheduler, torch.optim.lr_scheduler.LambdaLR)
    with pytest.raises(UnknownNameError, match=r"'warmu'.*cosine, exponential, .*plateau, step"):
        Trainer(make_ae(), scheduler="warmu")  # a ValueError


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"epochs": 0}, ValueError, "epochs must be an integer >= 1, got 0"),
        ({"batch_size": 2.5}, ValueError, "batch_size must be an integer"),
        ({"lr": -1}, ValueError, "lr must be > 0"),
        ({"betas": (0.9,)}, ValueError, "betas must be two numbers"),
        ({"amp": "fp8"}, ValueError, "amp must be None, 'bf16' or 'fp16', got 'fp8'"),
        ({"amp": "fp16", "device": "cpu"}, ValueError, r"needs a CUDA device.*None or 'bf16'"),
        ({"compile": "fastest"}, ValueError, "compile must be False, True or a mode"),
        ({"compile": "max-autotune", "compile_backend": "eager"}, ValueError, "inductor"),
        ({"nonfinite": "ignore"}, ValueError, "'raise', 'skip'"),
        ({"checkpoint_every": 10}, ValueError, "checkpoint_every needs checkpoint_dir"),
        ({"device": "tpu:9"}, ValueError, "device must be 'auto', 'cpu'"),
        ({"seed": -1}, ValueError, "seed must be None or an integer"),
        ({"early_stopping": "yes"}, TypeError, "early_stopping must be None"),
        ({"callbacks": [print]}, TypeError, "Callback instances"),
    ],
)
def test_bad_arguments(make_ae, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        Trainer(make_ae(), **kwargs)


def test_not_a_module() -> None:
    with pytest.raises(TypeError, match=r"torch\.nn\.Module, got str"):
        Trainer("vae")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback of device='cuda'")
def test_cuda_device_without_cuda(make_ae) -> None:
    with pytest.raises(ValueError, match="not available"):
        Trainer(make_ae(), device="cuda")


def test_progress_bar_only_when_asked(make_ae, make_data, capsys) -> None:
    Trainer(make_ae(), epochs=2, batch_size=8, progress=True).fit(make_data(32))
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err and "loss=" in err and "samples_s=" in err
    Trainer(make_ae(), epochs=2, batch_size=8, progress=False).fit(make_data(32))
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_progress_bar_closes_before_the_epoch_line(make_ae, make_data, capsys) -> None:
    """The epoch's log line starts on a line of its own, after the bar's last redraw."""
    handler = logging.StreamHandler(sys.stderr)  # capsys's stderr, which the bar writes to
    log = logging.getLogger("autoencoders.training.trainer")
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        trainer = Trainer(make_ae(), epochs=2, batch_size=8, progress=True)
        trainer.fit(make_data(24), val=make_data(8, seed=2))
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    lines = capsys.readouterr().err.replace("\r", "\n").split("\n")
    logged = [i for i, line in enumerate(lines) if "train_loss=" in line]
    assert len(logged) == 2, lines
    for epoch, i in enumerate(logged, 1):
        assert lines[i].startswith(f"epoch {epoch}/2: train_loss="), lines[i]
        bar = [
            j for j, line in enumerate(lines) if line.startswith(f"epoch {epoch}/2: ") and j != i
        ]
        assert bar and max(bar) < i and "3/3" in lines[max(bar)], lines  # closed, full, first


class _SyncCounter:
    """Counts host reads of tensor values (item, float, bool, tolist) while active."""

    names = ("item", "__float__", "__bool__", "tolist", "__int__")

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        for name in self.names:
            original = getattr(torch.Tensor, name)

            def wrapped(t, *a, _orig=original, **k):
                self.count += 1
                return _orig(t, *a, **k)

            monkeypatch.setattr(torch.Tensor, name, wrapped)


def test_no_host_sync_per_step(make_vae, make_data, monkeypatch) -> None:
    """The default step reads nothing back from the device: a fixed handful of reads per
    epoch, however many steps; nonfinite='skip' reads the loss every step."""
    x = make_data(256)
    counts = {}
    for steps_per_epoch in (4, 32):
        trainer = Trainer(make_vae(), epochs=2, batch_size=256 // steps_per_epoch, progress=False)
        counter = _SyncCounter(monkeypatch)
        trainer.fit(x)
        counts[steps_per_epoch] = counter.count
        monkeypatch.undo()
    assert counts[4] == counts[32] <= 10
    trainer = Trainer(make_vae(), epochs=1, batch_size=8, progress=False, nonfinite="skip")
    counter = _SyncCounter(monkeypatch)
    trainer.fit(x)
    assert counter.count >= 32


class Recorder(Callback):
    def __init__(self) -> None:
        self.events: list[str] = []

    def on_fit_start(self, trainer):
        self.events.append("fit_start")

    def on_epoch_start(self, trainer, epoch):
        self.events.append(f"epoch_start{epoch}")

    def on_step_end(self, trainer, step, loss):
        assert loss.ndim == 0
        self.events.append(f"step{step}")

    def on_epoch_end(self, trainer, record):
        self.events.append(f"epoch_end{record['epoch']}")

    def on_fit_end(self, trainer, history):
        self.events.append(f"fit_end{len(history)}")


def test_callback_hooks_in_order(make_ae, make_data) -> None:
    rec = Recorder()
    Trainer(make_ae(), epochs=2, batch_size=8, progress=False, callbacks=[rec]).fit(make_data(16))
    assert rec.events == [
        "fit_start",
        "epoch_start0",
        "step1",
        "step2",
        "epoch_end1",
        "epoch_start1",
        "step3",
        "step4",
        "epoch_end2",
        "fit_end2",
    ]


class BatchesEnd(Recorder):
    def on_train_batches_end(self, trainer, record):
        assert "train_loss" in record and "samples_per_s" in record and "val_loss" not in record
        self.events.append(f"batches_end{record['epoch']}")

    def on_epoch_end(self, trainer, record):
        assert "val_loss" in record
        super().on_epoch_end(trainer, record)


def test_train_batches_end_comes_before_validation(make_ae, make_data) -> None:
    rec = BatchesEnd()
    trainer = Trainer(make_ae(), epochs=2, batch_size=8, progress=False, callbacks=[rec])
    trainer.fit(make_data(16), val=make_data(8, seed=2))
    assert rec.events == [
        "fit_start",
        "epoch_start0",
        "step1",
        "step2",
        "batches_end1",
        "epoch_end1",
        "epoch_start1",
        "step3",
        "step4",
        "batches_end2",
        "epoch_end2",
        "fit_end2",
    ]


class SnapshotAtEpoch(Callback):
    def __init__(self, epoch: int) -> None:
        self.epoch, self.weights = epoch, None

    def on_epoch_end(self, trainer, record):
        if record["epoch"] == self.epoch:
            self.weights = _weights(trainer.model)


def test_early_stopping_stops_and_restores_best(make_ae, make_data) -> None:
    """Monitoring train_loss with mode='max' (it only falls) never improves after epoch 1:
    patience 2 stops after epoch 3 and restores the epoch-1 weights."""
    snap = SnapshotAtEpoch(1)
    model = make_ae()
    stop = EarlyStopping(monitor="train_loss", mode="max", patience=2)
    trainer = Trainer(
        model, epochs=10, batch_size=8, progress=False, early_stopping=stop, callbacks=[snap]
    )
    history = trainer.fit(make_data(32))
    assert len(history) == 3 and stop.stopped_epoch == 3 and stop.best_epoch == 1
    _assert_same(_weights(model), snap.weights)


class SnapshotEveryEpoch(Callback):
    def __init__(self) -> None:
        self.weights: dict[int, dict[str, torch.Tensor]] = {}

    def on_epoch_end(self, trainer, record):
        self.weights[record["epoch"]] = _weights(trainer.model)


def test_early_stopping_on_val_loss_restores_the_best_epoch(make_ae, make_data) -> None:
    """The default monitor, val_loss, in a real fit where validation gets worse: trained on
    images whose top half is bright and bottom half dark and validated on flat grey images,
    the reconstructions first move towards the grey mean (val_loss falls), then towards the
    two halves (val_loss rises). Training stops ``patience`` epochs after the minimum and
    the model ends with the weights it had at the end of that epoch."""
    top = torch.zeros(1, 8, 8)
    top[:, :4] = 1.0
    x_train = 0.6 * top * make_data(32).gt(0.2)
    x_val = torch.full((32, 1, 8, 8), 0.3)
    model, snap, epochs = make_ae(), SnapshotEveryEpoch(), 40
    trainer = Trainer(
        model,
        epochs=epochs,
        batch_size=8,
        lr=3e-3,
        seed=0,
        progress=False,
        early_stopping=3,
        callbacks=[snap],
    )
    stop = trainer.callbacks[0]
    assert isinstance(stop, EarlyStopping) and stop.monitor == "val_loss"
    history = trainer.fit(x_train, val=x_val)

    val = history["val_loss"]
    best_index = min(range(len(val)), key=val.__getitem__)
    best = history.best()  # by val_loss
    assert best["epoch"] == best_index + 1 == stop.best_epoch
    assert best["val_loss"] == stop.best == min(val)
    assert 1 < stop.best_epoch < len(history) < epochs  # improved, then got worse, stopped early
    assert stop.stopped_epoch == len(history) == stop.best_epoch + stop.patience
    assert all(v > best["val_loss"] for v in val[best_index + 1 :])
    _assert_same(_weights(model), snap.weights[stop.best_epoch])
    assert trainer.evaluate(x_val)["loss"] == best["val_loss"]


def test_early_stopping_rules() -> None:
    class FakeTrainer:
        should_stop, is_main, model = False, True, torch.nn.Linear(1, 1)

    t = FakeTrainer()
    stop = EarlyStopping(patience=2, min_delta=0.1)
    values = [3.0, 2.0, 1.95, 2.5]  # 1.95 is not better by more than min_delta
    for epoch, v in enumerate(values, 1):
        assert not t.should_stop
        stop.on_epoch_end(t, {"epoch": epoch, "val_loss": v})
    assert t.should_stop and stop.best == 2.0 and stop.best_epoch == 2
    with pytest.raises(ValueError, match=r"monitors 'val_loss'.*monitor='train_loss'"):
        EarlyStopping().on_epoch_end(t, {"epoch": 1, "train_loss": 1.0})
    with pytest.raises(ValueError, match="patience must be an integer >= 1, got 0"):
        EarlyStopping(patience=0)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        EarlyStopping(mode="best")


def test_early_stopping_shorthands(make_ae) -> None:
    stop = Trainer(make_ae(), early_stopping=3).callbacks[0]
    assert isinstance(stop, EarlyStopping) and stop.patience == 3
    stop = Trainer(make_ae(), early_stopping={"patience": 4, "min_delta": 0.5}).callbacks[0]
    assert (stop.patience, stop.min_delta) == (4, 0.5)


def test_metrics_logger(make_ae, make_data, tmp_path) -> None:
    loggers = [MetricsLogger(tmp_path / "m.csv"), MetricsLogger(tmp_path / "logs" / "m.json")]
    Trainer(make_ae(), epochs=3, batch_size=8, progress=False, callbacks=loggers).fit(make_data(16))
    lines = (tmp_path / "m.csv").read_text().splitlines()
    assert len(lines) == 4 and lines[0].startswith("epoch,step,train_loss")
    assert History.from_json(tmp_path / "logs" / "m.json")["epoch"] == [1, 2, 3]
    with pytest.raises(ValueError, match=r"\.csv or \.json"):
        MetricsLogger(tmp_path / "m.txt")


def test_seed_makes_runs_reproducible(make_vae, make_data) -> None:
    x = make_data(48)
    runs = []
    for seed in (3, 3, 4):
        model = make_vae(noise="gaussian")
        Trainer(model, epochs=2, batch_size=16, seed=seed, progress=False).fit(x)
        runs.append(_weights(model))
    _assert_same(runs[0], runs[1])
    assert not torch.equal(runs[0]["decoder.net.2.weight"], runs[2]["decoder.net.2.weight"])


def test_grad_clip_bounds_the_update(make_ae, make_data) -> None:
    model = make_ae()
    before = _weights(model)
    opt = lambda ps: torch.optim.SGD(ps, lr=1.0)  # noqa: E731
    Trainer(model, optimizer=opt, epochs=1, batch_size=64, grad_clip=1e-3, progress=False).fit(
        make_data(64)
    )
    moved = torch.sqrt(sum(((model.state_dict()[k] - v) ** 2).sum() for k, v in before.items()))
    assert 0 < float(moved) <= 1e-3 * (1 + 1e-4)
