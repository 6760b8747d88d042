"""A user's own encoder, registered in their script, builds, trains, saves and loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import autoencoders


@pytest.fixture
def residual_encoder():
    @autoencoders.register_encoder("test_residual_mlp")
    class ResidualMLP(autoencoders.Encoder):
        """Flatten, project, then residual blocks."""

        def __init__(self, input_shape=(1, 28, 28), width: int = 64, blocks: int = 2) -> None:
            super().__init__()
            self.input_shape = tuple(input_shape)
            self.out_features = width
            self.proj = nn.Linear(int(torch.tensor(self.input_shape).prod()), width)
            self.blocks = nn.ModuleList(
                nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.GELU())
                for _ in range(blocks)
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.proj(x.flatten(1))
            for block in self.blocks:
                h = h + block(h)
            return h

    yield ResidualMLP
    autoencoders.encoders.unregister("test_residual_mlp")


def test_custom_encoder_builds_trains_saves_loads(residual_encoder, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = autoencoders.compose(
        (1, 28, 28),
        encoder="test_residual_mlp",
        encoder_kwargs={"width": 32, "blocks": 3},
        bottleneck="gaussian",
        z=6,
        decoder="mlp",
        decoder_kwargs={"hidden": [32]},
    )
    assert model.config["encoder"] == {
        "name": "test_residual_mlp",
        "kwargs": {"input_shape": [1, 28, 28], "width": 32, "blocks": 3},
    }
    x = (torch.rand(16, 1, 28, 28) > 0.5).float()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = autoencoders.ELBOLoss()

    def eval_loss() -> float:
        model.eval()
        with torch.no_grad():
            return loss_fn(model(x), x).total.item()

    before = eval_loss()
    model.train()
    for _ in range(20):
        opt.zero_grad()
        loss_fn(model(x), x).total.backward()
        opt.step()
    assert eval_loss() < before - 10  # it learns something in 20 steps

    autoencoders.save(model, tmp_path / "custom")
    again = autoencoders.load(tmp_path / "custom")
    assert isinstance(again.encoder, residual_encoder)
    model.eval()
    with torch.no_grad():
        assert torch.equal(again.reconstruct(x), model.reconstruct(x))


def test_model_checks_shapes_for_a_custom_encoder(residual_encoder) -> None:
    """The custom encoder flattens whatever it gets; the model still refuses a wrong shape."""
    enc = residual_encoder(width=16, blocks=1)
    model = autoencoders.Autoencoder(
        enc,
        autoencoders.blocks.GaussianBottleneck(16, z=3),
        autoencoders.blocks.MLPDecoder(z=3, hidden=[16]),
    )
    assert enc(torch.rand(2, 784)).shape == (2, 16)  # the encoder alone would accept it
    with pytest.raises(ValueError, match=r"shape \(N, 1, 28, 28\), got shape \(2, 784\)"):
        model(torch.rand(2, 784))
    with pytest.raises(ValueError, match=r"latent codes of shape \(N, 3\), got shape \(2, 5\)"):
        model.decode(torch.rand(2, 5))


def test_instance_built_directly_saves_too(residual_encoder, tmp_path: Path) -> None:
    enc = residual_encoder(width=16, blocks=1)
    model = autoencoders.Autoencoder(
        enc,
        autoencoders.blocks.DeterministicBottleneck(16, z=3),
        autoencoders.blocks.MLPDecoder(z=3, hidden=[16]),
    ).eval()
    autoencoders.save(model, tmp_path)
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(autoencoders.load(tmp_path).reconstruct(x), model.reconstruct(x))


def test_custom_architecture_and_factory_blocks(tmp_path: Path) -> None:
    """A decoder made by a registered *function* and a registered architecture round-trip."""

    @autoencoders.register_decoder("test_wide_mlp")
    def wide_mlp(z: int, output_shape=(1, 28, 28), width: int = 48):
        return autoencoders.blocks.MLPDecoder(z=z, output_shape=output_shape, hidden=[width, width])

    @autoencoders.register_model("test_wide_vae")
    def wide_vae(z: int = 3, width: int = 48) -> autoencoders.Autoencoder:
        return autoencoders.compose(
            encoder_kwargs={"hidden": [width]},
            z=z,
            decoder="test_wide_mlp",
            decoder_kwargs={"width": width},
        )

    try:
        model = autoencoders.build("test_wide_vae", width=24).eval()
        assert model.config["decoder"]["name"] == "test_wide_mlp"
        autoencoders.save(model, tmp_path)
        x = torch.rand(2, 1, 28, 28)
        assert torch.equal(autoencoders.load(tmp_path).reconstruct(x), model.reconstruct(x))
    finally:
        autoencoders.decoders.unregister("test_wide_mlp")
        autoencoders.models.unregister("test_wide_vae")
    # once the block is gone, loading says which name is missing
    with pytest.raises(autoencoders.UnknownNameError, match="unknown decoder 'test_wide_mlp'"):
        autoencoders.load(tmp_path)
