"""`arch: dncnn`: a plain stack of 3x3 convolutions that predicts the noise, subtracted from the input.

After Zhang et al., "Beyond a Gaussian Denoiser: Residual Learning of Deep CNN for Image Denoising" (TIP 2017):
DnCNN-S is 17 layers of 64 channels (`channels: [64]`, `blocks: 15`, `norm: batch`). Stride 1, so any image size.
"""

from __future__ import annotations

import torch
from torch import nn

from dae.models.base import ACTIVATIONS, Decoder, Encoder
from dae.models.config import ModelConfig
from dae.models.noise_map import with_noise_map


class DnCNNEncoder(Encoder):
    """Convolution + activation to channels[0], then `blocks` convolutions (+ BatchNorm) + activation. Returns the
    input and the features (the decoder subtracts the predicted noise from the input). With `noise_map: estimate`
    the first convolution also sees the input's estimated noise level (dae.models.noise_map)."""

    def __init__(self, config: ModelConfig):
        act, width, norm = ACTIVATIONS[config.activation], config.channels[0], config.norm
        self.noise_map = config.noise_map == "estimate"
        layers: list[nn.Module] = [nn.Conv2d(config.shape[0] * (1 + self.noise_map), width, 3, padding=1), act()]
        for _ in range(config.blocks):
            layers.append(nn.Conv2d(width, width, 3, padding=1, bias=norm == "none"))
            layers += [nn.BatchNorm2d(width)] if norm == "batch" else []
            layers.append(act())
        super().__init__(layers)

    @staticmethod
    def stride(config: ModelConfig) -> int | None:
        return 1

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [x, self.net(with_noise_map(x) if self.noise_map else x)]


class DnCNNDecoder(Decoder):
    """One convolution from the features to the noise estimate; the output is the input minus it."""

    def __init__(self, config: ModelConfig):
        super().__init__([nn.Conv2d(config.channels[0], config.shape[0], 3, padding=1)])

    def logits(self, features: list[torch.Tensor]) -> torch.Tensor:
        return features[0] - self.net(features[1])
