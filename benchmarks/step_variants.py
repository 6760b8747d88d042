"""One training step of the 784-400-20 VAE, in variants, timed step by step in alternation.

Each variant owns a model (the same initial weights), a fused Adam and its own stream of
Fashion-MNIST batches (synthetic data of that shape without the files). The variants take one
step each in turn, in rotation (``a b c b c a c a b ...``: never two steps of one variant in a
row, whose second would find the first's weights in the cache), for ``--steps`` steps, and the
table shows the median milliseconds per step and each variant's speed relative to the
first. A step costs a few milliseconds, so neighbouring steps of two variants see the same state of a shared,
drifting machine: differences of 2-3 % are resolved where whole-run medians vary by 20 %.
This is how the changes on :doc:`performance` (docs) were kept or dropped.

Variants (the first listed is the reference):

* ``library`` — what the Trainer does: the analytic step
  (:class:`~autoencoders.analytic.AnalyticStep`: forward, ``ELBOLoss`` and the gradients
  without autograd), :class:`~autoencoders.training.fusedstep.FusedAdamStep`, ``clear_grads``;
* ``autograd`` — the Trainer's step with ``analytic=False``: ``ELBOLoss()(model(x), x)``,
  ``backward()``, the same optimizer step. The variants below are autograd steps too;
* ``optimizer.step()`` — the autograd step with ``optimizer.step()`` and ``zero_grad()``;
* ``fused heads`` — mean and log-variance from one ``(400, 40)`` product of the two heads'
  concatenated weights (the same parameters);
* ``BCE log of products`` — the BCE's ``sum(log(sigmoid(|z|)))`` as the log of products of 64
  values (each in [0.5, 1], so no underflow), one log per 64 elements;
* ``BCE in-place backward`` — the BCE's ``sigmoid(z) - t`` and the scaling done in place;
* ``no loss object`` — the model's parts called directly and the loss written inline (not a
  contender: it measures what the model and loss objects cost).

Usage::

    python benchmarks/step_variants.py                   # all variants, 600 steps each
    python benchmarks/step_variants.py --steps 20 --synthetic   # quick (tests)
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

import autoencoders
from autoencoders.analytic import AnalyticStep
from autoencoders.blocks.base import BottleneckOutput
from autoencoders.blocks.bottlenecks import GaussianBottleneck, gaussian_kl
from autoencoders.losses import ELBOLoss, summed_bce_with_logits
from autoencoders.losses.reconstruction import _SummedBCEWithLogits
from autoencoders.training.fusedstep import FusedAdamStep, clear_grads

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trainer_throughput import load_training_images

BATCH = 128
_BCE = _SummedBCEWithLogits


class _FusedHeads(GaussianBottleneck):
    """Both heads in one product; the parameters are the two Linears' as before."""

    def forward(self, h, *, sample=None, generator=None):  # type: ignore[override]
        z = self.mean.out_features
        w = torch.cat([self.mean.weight, self.logvar.weight])
        b = torch.cat([self.mean.bias, self.logvar.bias])
        stats = F.linear(h, w, b)
        mean, logvar = stats[:, :z], stats[:, z:]
        eps = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
        zs = mean + torch.exp(0.5 * logvar) * eps
        return BottleneckOutput(z=zs, mean=mean, logvar=logvar, kl=gaussian_kl(mean, logvar))


class _LogOfProducts(_BCE):
    @staticmethod
    def forward(z, t):  # type: ignore[override]
        s = torch.sigmoid(z.abs()).reshape(-1)
        n = s.numel() // 64 * 64
        logs = torch.log(s[:n].view(-1, 64).prod(1)).sum() + torch.log(s[n:]).sum()
        return torch.relu(z).sum() - torch.dot(z.reshape(-1), t.reshape(-1)) - logs


class _InPlaceBackward(_BCE):
    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        z, t = ctx.saved_tensors
        return torch.sigmoid(z).sub_(t).mul_(grad), None


for _cls in (_LogOfProducts, _InPlaceBackward):
    _cls.forward.__signature__ = inspect.signature(_cls.forward)  # type: ignore[attr-defined]


def _elbo_with(bce: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    def loss(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        out = model(x)
        return bce(out.logits, x) / len(x) + out.kl.mean()

    return loss


def _inline(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    flat = x.view(len(x), -1)
    h = model.encoder.net(flat)
    mean, logvar = model.bottleneck.mean(h), model.bottleneck.logvar(h)
    z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
    logits = model.decoder.net(z)
    return summed_bce_with_logits(logits, flat) / len(x) + gaussian_kl(mean, logvar).mean()


_ELBO = ELBOLoss()
VARIANTS: dict[str, dict] = {
    "library": {"analytic": True},
    "autograd": {},
    "optimizer.step()": {"plain_step": True},
    "fused heads": {"heads": True},
    "BCE log of products": {"loss": _elbo_with(_LogOfProducts.apply)},
    "BCE in-place backward": {"loss": _elbo_with(_InPlaceBackward.apply)},
    "no loss object": {"loss": _inline},
}


def make_step(
    x: torch.Tensor, *, heads=False, plain_step=False, loss=None, analytic=False
) -> Callable[[], None]:
    """A closure making one training step of a new VAE on the next batch of ``x``."""
    torch.manual_seed(0)
    model = autoencoders.build("vae", h=400, z=20).train()
    if heads:
        model.bottleneck.__class__ = _FusedHeads
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    direct = FusedAdamStep(opt)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(1))
    n_batches, at = len(x) // BATCH, [0]
    compute = loss or (lambda m, xb: _ELBO(m(xb), xb).total)
    by_hand = AnalyticStep(model, _ELBO)

    def step() -> None:
        i = at[0] % n_batches
        at[0] += 1
        xb = x.index_select(0, perm[i * BATCH : (i + 1) * BATCH])
        if analytic:
            by_hand(xb)[1]()
        else:
            compute(model, xb).backward()
        if plain_step:
            opt.step()
            opt.zero_grad(set_to_none=True)
            return
        if not direct():
            opt.step()
        clear_grads(opt)

    return step


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=600, help="timed steps per variant (600)")
    p.add_argument("--synthetic", action="store_true", help="synthetic data, not Fashion-MNIST")
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    args = p.parse_args(argv)
    if args.steps < 1:
        p.error(f"--steps must be >= 1, got {args.steps}")
    x, source = load_training_images(None, synthetic=args.synthetic)
    x = x[: BATCH * 400].contiguous()
    names = args.variants
    steps = {name: make_step(x, **VARIANTS[name]) for name in names}
    for step in steps.values():  # warm-up: state, allocator, caches
        for _ in range(10):
            step()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(args.steps):
        # rotate, a b c, b c a, c a b, ...: no variant takes two steps in a row (a second
        # step right after one's own finds its weights and state in the cache, as the first
        # and last variants would at every turn of a b c c b a)
        k = r % len(names)
        for name in names[k:] + names[:k]:
            t0 = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - t0)
    print(f"# one training step, VAE 784-400-20, batch {BATCH}; data: {source}")
    print(
        f"{args.steps} steps per variant, alternating; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads\n"
    )
    print("| variant | ms per step (median) | speed vs first |")
    print("|---|---:|---:|")
    ref = statistics.median(times[names[0]])
    for name in names:
        med = statistics.median(times[name])
        print(f"| {name} | {med * 1e3:.3f} | {ref / med:.3f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
