"""`arch: unet`: an encoder-decoder with skip connections that predicts a correction to its input.

Fully convolutional: it runs on any image whose sides are multiples of its stride, 2 ** (len(channels) - 1)
(`dae.denoise_image` pads to that). Skips are added, not concatenated, which halves the decoder's cost; most of
the work happens at low resolution, so the view is wide for little compute (as in FFDNet and DRUNet).
"""

from __future__ import annotations

import torch
from torch import nn

from dae.models.base import ACTIVATIONS, Decoder, Encoder
from dae.models.config import ModelConfig
from dae.models.noise_map import with_noise_map


def _convs(c_in: int, c_out: int, count: int, act: type[nn.Module], norm: str, stride: int = 1) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(count):
        layers.append(nn.Conv2d(c_in if i == 0 else c_out, c_out, 3, stride=stride if i == 0 else 1, padding=1))
        layers += [nn.BatchNorm2d(c_out)] if norm == "batch" else []
        layers.append(act())
    return nn.Sequential(*layers)


class UNetEncoder(Encoder):
    """A full-resolution convolution to channels[0], then per further entry a stride-2 convolution and `blocks`
    stride-1 ones. Returns the input and every level's features (the decoder's skips). With `noise_map: estimate`
    the first convolution also sees the input's estimated noise level (dae.models.noise_map)."""

    def __init__(self, config: ModelConfig):
        act, ch, c = ACTIVATIONS[config.activation], config.channels, config.shape[0]
        self.noise_map = config.noise_map == "estimate"
        levels = [_convs(c * (1 + self.noise_map), ch[0], 1 + config.blocks, act, config.norm)]
        for a, b in zip(ch[:-1], ch[1:], strict=True):
            levels.append(_convs(a, b, 1 + config.blocks, act, config.norm, stride=2))
        super().__init__(levels)

    @staticmethod
    def stride(config: ModelConfig) -> int | None:
        return 2 ** (len(config.channels) - 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = [x, self.net[0](with_noise_map(x) if self.noise_map else x)]
        for level in self.net[1:]:
            features.append(level(features[-1]))
        return features


class UNetDecoder(Decoder):
    """Per level from the bottom: a stride-2 transposed convolution, the skip added, `blocks` convolutions; then a
    convolution to the image's channels, added to the input."""

    def __init__(self, config: ModelConfig):
        act, ch, c = ACTIVATIONS[config.activation], config.channels, config.shape[0]
        layers: list[nn.Module] = []
        for a, b in zip(reversed(ch[1:]), reversed(ch[:-1]), strict=True):
            layers += [nn.Sequential(nn.ConvTranspose2d(a, b, 2, stride=2), act())]
            layers += [_convs(b, b, config.blocks, act, config.norm)]
        layers.append(nn.Conv2d(ch[0], c, 3, padding=1))
        super().__init__(layers)

    def logits(self, features: list[torch.Tensor]) -> torch.Tensor:
        x, skips = features[0], features[1:]
        h = skips[-1]
        for i in range(len(skips) - 1):
            skip = skips[-2 - i]
            h = self.net[2 * i](h)[..., : skip.shape[-2], : skip.shape[-1]] + skip
            h = self.net[2 * i + 1](h)
        return x + self.net[-1](h)
