"""FusedAdamStep makes bitwise the update optimizer.step() makes, and declines what it cannot."""

from __future__ import annotations

import copy
import types

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from autoencoders.training.fusedstep import FusedAdamStep


def _params(seed: int = 0, dtypes: tuple[torch.dtype, ...] = (torch.float32,)) -> list:
    g = torch.Generator().manual_seed(seed)
    shapes = [(5, 3), (3,), (2, 2, 2), (7,)]
    return [
        torch.nn.Parameter(torch.randn(s, generator=g, dtype=dtypes[i % len(dtypes)]))
        for i, s in enumerate(shapes)
    ]


def _grads(params: list, step: int, skip: int | None = None) -> list:
    g = torch.Generator().manual_seed(100 + step)
    out = [torch.randn(p.shape, generator=g, dtype=p.dtype) for p in params]
    if skip is not None:
        out[skip] = None
    return out


def _pair(make_opt, params):
    """The same optimizer twice: one stepped by torch, one by FusedAdamStep."""
    ref = [torch.nn.Parameter(p.detach().clone()) for p in params]
    mine = [torch.nn.Parameter(p.detach().clone()) for p in params]
    return ref, make_opt(ref), mine, make_opt(mine)


def _run(ref, opt_ref, mine, opt_mine, steps, skip_at=None, before_step=None):
    direct = FusedAdamStep(opt_mine)
    for t in range(steps):
        skip = 1 if skip_at is not None and t in skip_at else None
        for ps in (ref, mine):
            for p, gr in zip(ps, _grads(ps, t, skip)):
                p.grad = gr
        if before_step is not None:
            before_step(t, opt_ref, opt_mine)
        opt_ref.step()
        if not direct():
            opt_mine.step()
    return direct


def _same(ref, mine, opt_ref, opt_mine):
    for a, b in zip(ref, mine):
        assert torch.equal(a, b), (a - b).abs().max()
    for a, b in zip(ref, mine):
        sa, sb = opt_ref.state[a], opt_mine.state[b]
        assert sa.keys() == sb.keys()
        for k in sa:
            assert torch.equal(sa[k], sb[k]), k


CONFIGS = {
    "adam": lambda ps: torch.optim.Adam(ps, lr=1e-2, fused=True),
    "adam wd": lambda ps: torch.optim.Adam(ps, lr=1e-2, weight_decay=0.1, fused=True),
    "adamw": lambda ps: torch.optim.AdamW(ps, lr=1e-2, weight_decay=0.05, fused=True),
    "amsgrad": lambda ps: torch.optim.Adam(ps, lr=1e-2, amsgrad=True, fused=True),
    "maximize betas eps": lambda ps: torch.optim.Adam(
        ps, lr=3e-3, betas=(0.5, 0.9), eps=1e-4, maximize=True, fused=True
    ),
    "two groups": lambda ps: torch.optim.AdamW(
        [{"params": ps[:2], "lr": 1e-2}, {"params": ps[2:], "lr": 5e-3, "weight_decay": 0.0}],
        fused=True,
    ),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_bitwise_the_update_of_optimizer_step(name):
    ref, opt_ref, mine, opt_mine = _pair(CONFIGS[name], _params())
    direct = _run(ref, opt_ref, mine, opt_mine, steps=6)
    _same(ref, mine, opt_ref, opt_mine)
    assert direct.direct_steps == 5  # every step but the first, which makes the state


def test_mixed_dtypes_are_stepped_per_dtype():
    params = _params(dtypes=(torch.float32, torch.float64))
    ref, opt_ref, mine, opt_mine = _pair(CONFIGS["adam"], params)
    direct = _run(ref, opt_ref, mine, opt_mine, steps=4)
    _same(ref, mine, opt_ref, opt_mine)
    assert direct.direct_steps == 3


def test_a_schedule_changing_lr_and_betas_applies_at_once():
    def change(t, *opts):
        for opt in opts:
            for g in opt.param_groups:
                g["lr"] = 1e-2 / (t + 1)
                g["betas"] = (0.9 - 0.01 * t, 0.999)

    ref, opt_ref, mine, opt_mine = _pair(CONFIGS["adamw"], _params())
    _run(ref, opt_ref, mine, opt_mine, steps=5, before_step=change)
    _same(ref, mine, opt_ref, opt_mine)


def test_lr_scheduler_wrapper_is_accepted_and_its_bookkeeping_kept(recwarn):
    ref, opt_ref, mine, opt_mine = _pair(CONFIGS["adam"], _params())
    sched_ref = torch.optim.lr_scheduler.StepLR(opt_ref, step_size=1, gamma=0.5)
    sched_mine = torch.optim.lr_scheduler.StepLR(opt_mine, step_size=1, gamma=0.5)

    def sched(t, *_):
        if t:
            sched_ref.step()
            sched_mine.step()

    direct = _run(ref, opt_ref, mine, opt_mine, steps=4, before_step=sched)
    _same(ref, mine, opt_ref, opt_mine)
    assert direct.direct_steps == 3
    assert not [w for w in recwarn if "lr_scheduler.step()" in str(w.message)]


def test_parameters_without_gradient_are_left_alone_as_torch_does():
    ref, opt_ref, mine, opt_mine = _pair(CONFIGS["adam"], _params())
    # parameter 1 has no gradient at steps 2 and 3, then gets one again
    direct = _run(ref, opt_ref, mine, opt_mine, steps=6, skip_at={2, 3})
    _same(ref, mine, opt_ref, opt_mine)
    assert direct.direct_steps == 5


def test_a_parameter_getting_its_first_gradient_late_is_left_to_torch_once():
    ref, opt_ref, mine, opt_mine = _pair(CONFIGS["adam"], _params())
    direct = _run(ref, opt_ref, mine, opt_mine, steps=5, skip_at={0, 1})
    _same(ref, mine, opt_ref, opt_mine)
    # steps 0 and 2 make state (for all, then for parameter 1): both by optimizer.step()
    assert direct.direct_steps == 3


def test_load_state_dict_replaces_the_state_and_the_lists_follow():
    ref, opt_ref, mine, opt_mine = _pair(CONFIGS["amsgrad"], _params())
    _run(ref, opt_ref, mine, opt_mine, steps=3)
    saved = copy.deepcopy(opt_ref.state_dict())

    def reload(t, *opts):
        if t == 1:
            for opt in opts:  # a copy each: a loaded state may share the given tensors
                opt.load_state_dict(copy.deepcopy(saved))

    _run(ref, opt_ref, mine, opt_mine, steps=3, before_step=reload)
    _same(ref, mine, opt_ref, opt_mine)


def test_step_hooks_are_honoured_by_declining():
    ps = _params()
    opt = torch.optim.Adam(ps, lr=1e-2, fused=True)
    direct = FusedAdamStep(opt)
    calls = []
    for p, g in zip(ps, _grads(ps, 0)):
        p.grad = g
    opt.step()  # state
    handle = opt.register_step_post_hook(lambda *a: calls.append(1))
    assert direct() is False  # a hook: optimizer.step() must run it
    handle.remove()
    glob = register_optimizer_step_pre_hook(lambda *a: None)
    try:
        assert direct() is False
    finally:
        glob.remove()
    before = [p.detach().clone() for p in ps]
    assert direct() is True
    assert not all(torch.equal(a, b) for a, b in zip(before, ps))


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: torch.optim.Adam(ps, lr=1e-2),  # foreach, not fused
        lambda ps: torch.optim.Adam(ps, lr=1e-2, fused=False),
        lambda ps: torch.optim.SGD(ps, lr=1e-2),
        lambda ps: type("MyAdam", (torch.optim.Adam,), {})(ps, lr=1e-2, fused=True),
    ],
    ids=["foreach", "for-loop", "sgd", "subclass"],
)
def test_declines_what_it_cannot_reproduce(make):
    ps = _params()
    opt = make(ps)
    direct = FusedAdamStep(opt)
    for t in range(3):
        for p, g in zip(ps, _grads(ps, t)):
            p.grad = g
        before = [p.detach().clone() for p in ps]
        assert direct() is False
        assert all(torch.equal(a, b) for a, b in zip(before, ps))  # nothing changed
        opt.step()


def test_a_step_replaced_on_the_instance_is_declined():
    ps = _params()
    opt = torch.optim.Adam(ps, lr=1e-2, fused=True)
    for p, g in zip(ps, _grads(ps, 0)):
        p.grad = g
    opt.step()
    opt.step = lambda *a, **k: None  # a user's own step
    assert FusedAdamStep(opt)() is False


def test_sparse_gradients_are_left_to_torchs_error():
    p = torch.nn.Parameter(torch.zeros(4, 2))
    opt = torch.optim.Adam([p], lr=1e-2, fused=True)
    p.grad = torch.ones(4, 2)
    opt.step()
    p.grad = torch.ones(4, 2).to_sparse()
    assert FusedAdamStep(opt)() is False


def test_the_trainer_steps_directly_and_trains_the_same_model(monkeypatch):
    import autoencoders
    from autoencoders.training import Trainer

    x = torch.rand(96, 1, 28, 28, generator=torch.Generator().manual_seed(0))

    def fit(direct: bool):
        if not direct:
            monkeypatch.setattr(FusedAdamStep, "__call__", lambda self: False)
        torch.manual_seed(0)
        model = autoencoders.build("vae", h=16, z=2)
        trainer = Trainer(model, batch_size=32, epochs=2, device="cpu", progress=False)
        trainer.fit(x)
        monkeypatch.undo()
        return model, trainer

    m1, t1 = fit(direct=True)
    m2, _ = fit(direct=False)
    assert t1.runtime._direct is not None and t1.runtime._direct.direct_steps == 5
    for (k, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items()):
        assert torch.equal(a, b), k


def test_clear_grads_matches_zero_grad_and_respects_an_override():
    from autoencoders.training.fusedstep import clear_grads

    ps = _params()
    opt = torch.optim.Adam(ps, lr=1e-2)
    for p, g in zip(ps, _grads(ps, 0)):
        p.grad = g
    clear_grads(opt)
    assert all(p.grad is None for p in ps)

    class Keeps(torch.optim.SGD):
        def zero_grad(self, set_to_none=True):  # a subclass's own rule: keep the grads
            self.calls = getattr(self, "calls", 0) + 1

    keeps = Keeps(ps, lr=0.1)
    for p, g in zip(ps, _grads(ps, 1)):
        p.grad = g
    clear_grads(keeps)
    assert keeps.calls == 1 and all(p.grad is not None for p in ps)


def _stepped_once(lr=1e-2, **kw):
    """A fused Adam over ``_params()`` after one optimizer.step() (so it has state)."""
    ps = _params()
    opt = torch.optim.Adam(ps, lr=lr, fused=True, **kw)
    for p, g in zip(ps, _grads(ps, 0)):
        p.grad = g
    opt.step()
    for p, g in zip(ps, _grads(ps, 1)):
        p.grad = g
    return ps, opt


def _declines_untouched(opt, ps):
    before = [p.detach().clone() for p in ps]
    steps = [opt.state[p]["step"].clone() for p in ps if torch.is_tensor(opt.state[p]["step"])]
    assert FusedAdamStep(opt)() is False
    assert all(torch.equal(a, b) for a, b in zip(before, ps))
    now = [opt.state[p]["step"] for p in ps if torch.is_tensor(opt.state[p]["step"])]
    assert all(torch.equal(a, b) for a, b in zip(steps, now))


def test_a_patched_class_step_or_a_scheduler_over_a_users_step_is_declined(monkeypatch):
    ps, opt = _stepped_once()
    calls = []
    opt.step = types.MethodType(lambda self, *a, **k: calls.append(1), opt)  # a user's step...
    torch.optim.lr_scheduler.StepLR(opt, step_size=1)  # ...under the scheduler's wrapper
    _declines_untouched(opt, ps)
    ps, opt = _stepped_once()
    original = torch.optim.Adam.step
    monkeypatch.setattr(torch.optim.Adam, "step", lambda self, closure=None: original(self))
    _declines_untouched(opt, ps)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda opt, ps: setattr(opt, "found_inf", torch.ones(())),  # a GradScaler's flag
        lambda opt, ps: opt.param_groups[0].update(fused=False),  # changed mid-run
        lambda opt, ps: opt.param_groups[0].update(differentiable=True),
        lambda opt, ps: opt.state[ps[0]].update(step=opt.state[ps[0]]["step"].long()),
        lambda opt, ps: opt.state[ps[0]].update(exp_avg=opt.state[ps[0]]["exp_avg"].half()),
        lambda opt, ps: opt.state[ps[0]].update(step=3.0),
        lambda opt, ps: setattr(ps[1], "data", ps[1].data.double()),
        lambda opt, ps: opt.param_groups[0].update(lr=torch.tensor(1e-2), foreach=True),
    ],
    ids=[
        "found_inf",
        "fused off",
        "differentiable",
        "int64 step",
        "half moment",
        "float step",
        "param cast",
        "tensor lr + foreach",
    ],
)
def test_what_torch_would_refuse_or_do_otherwise_is_declined_untouched(spoil):
    ps, opt = _stepped_once()
    assert FusedAdamStep(opt)() is True  # the lists are built, then the setting changes
    ps, opt = _stepped_once()
    direct = FusedAdamStep(opt)
    spoil(opt, ps)
    before = [p.detach().clone() for p in ps]
    assert direct() is False
    assert all(torch.equal(a, b) for a, b in zip(before, ps))


def test_the_schedulers_flag_is_set_only_under_its_wrapper(recwarn):
    _, opt = _stepped_once()
    assert FusedAdamStep(opt)() is True
    assert not getattr(opt, "_opt_called", False)  # no scheduler: nothing to record
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1)
    sched.step()  # before any step: torch warns, as it would without the direct step
    assert [w for w in recwarn if "lr_scheduler.step()" in str(w.message)]


def test_a_loaded_state_lets_the_old_tensors_go():
    import gc
    import weakref

    ps, opt = _stepped_once()
    direct = FusedAdamStep(opt)
    assert direct() is True
    old = weakref.ref(opt.state[ps[0]]["exp_avg"])
    opt.load_state_dict(copy.deepcopy(opt.state_dict()))
    gc.collect()
    assert old() is None


def test_under_the_profiler_torchs_step_runs_with_its_record():
    from torch.profiler import profile

    _, opt = _stepped_once()
    direct = FusedAdamStep(opt)
    with profile() as prof:
        assert direct() is False
        opt.step()
    assert any("Optimizer.step#Adam.step" in e.key for e in prof.key_averages())


def test_clear_grads_honours_a_patched_base_zero_grad(monkeypatch):
    from autoencoders.training.fusedstep import clear_grads

    calls = []
    monkeypatch.setattr(
        torch.optim.Optimizer, "zero_grad", lambda self, set_to_none=True: calls.append(1)
    )
    ps = _params()
    clear_grads(torch.optim.Adam(ps, lr=1e-2))
    assert calls == [1]
