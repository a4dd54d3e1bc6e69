"""`arch: mlp`: fully connected layers (`model.hidden`) to a latent vector and back."""

from __future__ import annotations

from torch import nn

from dae.models.base import ACTIVATIONS, Decoder, Encoder
from dae.models.config import ModelConfig


class MLPEncoder(Encoder):
    """Flatten, then Linear + activation + dropout per `hidden` width, then a Linear to `latent`."""

    def __init__(self, config: ModelConfig):
        act = ACTIVATIONS[config.activation]
        c, h, w = config.shape
        width = c * h * w
        layers: list[nn.Module] = [nn.Flatten()]
        for out in config.hidden:
            layers += [nn.Linear(width, out), act(), nn.Dropout(config.dropout)]
            width = out
        layers.append(nn.Linear(width, config.latent))
        super().__init__(layers)


class MLPDecoder(Decoder):
    """The encoder's widths in reverse, then a Linear to every pixel, unflattened to (C, H, W)."""

    def __init__(self, config: ModelConfig):
        act = ACTIVATIONS[config.activation]
        c, h, w = config.shape
        width = config.latent
        layers: list[nn.Module] = []
        for out in reversed(config.hidden):
            layers += [nn.Linear(width, out), act(), nn.Dropout(config.dropout)]
            width = out
        layers += [nn.Linear(width, c * h * w), nn.Unflatten(1, (c, h, w))]
        super().__init__(layers)
