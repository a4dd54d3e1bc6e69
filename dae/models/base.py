"""What every architecture builds: an Encoder and a Decoder, each an `nn.Sequential` called `net`.

The name `net` is part of the model file format: weights are stored as `encoder.net.0.weight` ... `decoder.net.N.bias`.
"""

from __future__ import annotations

import torch
from torch import nn

from dae.models.config import ModelConfig

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
}


class Encoder(nn.Module):
    """Image (C, H, W) -> latent code. An architecture subclasses it and passes its layers to __init__."""

    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.net = nn.Sequential(*layers)

    @staticmethod
    def stride(config: ModelConfig) -> int | None:
        """What image sides must be a multiple of; None for a model of one fixed image size (a dense layer)."""
        return None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """Latent code -> image logits; `forward` applies the sigmoid that maps them onto the [0, 1] data range."""

    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.net = nn.Sequential(*layers)

    output = "sigmoid"  # model.output: DenoisingAutoencoder sets it from the config

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)

    def activate(self, logits: torch.Tensor) -> torch.Tensor:
        """The output activation: the sigmoid, or (`linear`) none in training and a clamp to [0, 1] in use."""
        return torch.sigmoid(logits) if self.output == "sigmoid" else logits.clamp(0, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.activate(self.logits(z))
