"""
A custom encoder, registered and used like a built-in block
===========================================================

The encoder below (a small residual MLP) is not part of the library: it is defined and
registered in this script. Registering it under a name is all it takes for it to be composed
into a VAE, trained, saved to ``config.json`` + ``model.safetensors`` and loaded back through
the registry.

Run it from the repository root (CPU, a few seconds)::

    python examples/custom_encoder.py

:doc:`/extending` explains each step: the encoder contract (``input_shape`` and
``out_features``), the registration, and what ``config.json`` records.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence

import torch
from torch import nn

import autoencoders
from autoencoders.io import load_config
from autoencoders.losses import ELBOLoss


@autoencoders.register_encoder("my_encoder")
class ResidualMLPEncoder(autoencoders.Encoder):
    """Flatten, project to ``width`` features, then ``depth`` pre-norm residual blocks.

    Args:
        input_shape: shape of one input, e.g. ``(1, 28, 28)``.
        width: feature size, also the encoder's ``out_features``.
        depth: number of residual blocks ``h + Linear(GELU(Linear(LayerNorm(h))))``.
    """

    def __init__(
        self, input_shape: Sequence[int] = (1, 28, 28), width: int = 128, depth: int = 2
    ) -> None:
        super().__init__()
        # the encoder contract: what one input looks like, and how many features come out
        self.input_shape = tuple(input_shape)
        self.out_features = width
        self.proj = nn.Linear(math.prod(self.input_shape), width)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.LayerNorm(width), nn.Linear(width, width), nn.GELU(), nn.Linear(width, width)
            )
            for _ in range(depth)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.proj(x.flatten(1))
        for block in self.blocks:
            h = h + block(h)
        return h


def main() -> None:
    torch.manual_seed(0)

    # the custom encoder, by name, with the library's Gaussian bottleneck and MLP decoder
    model = autoencoders.compose(
        (1, 28, 28),
        encoder="my_encoder",
        encoder_kwargs={"width": 128, "depth": 2},
        bottleneck="gaussian",
        z=16,
        decoder="mlp",
        decoder_kwargs={"hidden": [128]},
    )

    # one training step on a stand-in batch of images in [0, 1]
    x = torch.rand(32, 1, 28, 28)
    loss_fn = ELBOLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    loss = loss_fn(model(x), x)
    optimizer.zero_grad()
    loss.total.backward()
    optimizer.step()

    # save, load back through the registry, and compare in eval mode
    model.eval()
    with tempfile.TemporaryDirectory() as folder:
        autoencoders.save(model, folder)
        saved_encoder = load_config(folder)["encoder"]
        again = autoencoders.load(folder)

    assert isinstance(again.encoder, ResidualMLPEncoder)
    with torch.no_grad():
        before, after = model(x), again(x)
    assert torch.equal(before.logits, after.logits), "loaded model disagrees with the saved one"
    assert torch.equal(before.mean, after.mean)

    print(f"encoder in config.json: {saved_encoder}")
    print(f"parameters: {model.num_parameters():,}")
    print(f"one step of ELBO loss: {loss.detached()}")
    print("save -> load round trip: identical outputs in eval mode")


if __name__ == "__main__":
    main()
