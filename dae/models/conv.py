"""`arch: conv`: stride-2 convolutions down to a latent code (a vector or a low-resolution map) and back up."""

from __future__ import annotations

from torch import nn

from dae.models.base import ACTIVATIONS, Decoder, Encoder
from dae.models.config import ModelConfig


def _down_sizes(size: int, levels: int) -> list[int]:
    """Spatial size after each stride-2 convolution (kernel 3, padding 1)."""
    sizes = [size]
    for _ in range(levels):
        sizes.append((sizes[-1] + 1) // 2)
    return sizes


def _conv(c_in: int, c_out: int, stride: int, act: type[nn.Module], norm: str) -> list[nn.Module]:
    """3x3 convolution, then BatchNorm (which makes the conv's own bias redundant) and the activation."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=norm == "none")]
    if norm == "batch":
        layers.append(nn.BatchNorm2d(c_out))
    return [*layers, act()]


class ConvEncoder(Encoder):
    """A stride-2 convolution per `channels` entry (each followed by `blocks` stride-1 ones), then either a linear
    layer to a latent vector (`bottleneck: dense`) or a convolution to a `latent`-channel map at the lowest
    resolution (`spatial`)."""

    def __init__(self, config: ModelConfig):
        act, norm = ACTIVATIONS[config.activation], config.norm
        c, h, w = config.shape
        layers: list[nn.Module] = []
        for out in config.channels:
            layers += _conv(c, out, 2, act, norm)
            for _ in range(config.blocks):
                layers += _conv(out, out, 1, act, norm)
            c = out
        h, w = _down_sizes(h, len(config.channels))[-1], _down_sizes(w, len(config.channels))[-1]
        if config.bottleneck == "dense":
            layers += [nn.Flatten(), nn.Dropout(config.dropout), nn.Linear(c * h * w, config.latent)]
        else:
            layers += [nn.Dropout(config.dropout), nn.Conv2d(c, config.latent, 3, padding=1)]
        super().__init__(layers)

    @staticmethod
    def stride(config: ModelConfig) -> int | None:
        return 2 ** len(config.channels) if config.bottleneck == "spatial" else None


class ConvDecoder(Decoder):
    """The encoder mirrored: the latent code back to the lowest resolution, then per level `blocks` stride-1
    convolutions and a stride-2 transposed convolution; the last one gives the image's logits."""

    def __init__(self, config: ModelConfig):
        act, norm, channels = ACTIVATIONS[config.activation], config.norm, config.channels
        c, h, w = config.shape
        hs, ws = _down_sizes(h, len(channels)), _down_sizes(w, len(channels))
        if config.bottleneck == "dense":
            layers: list[nn.Module] = [
                nn.Linear(config.latent, channels[-1] * hs[-1] * ws[-1]),
                act(),
                nn.Dropout(config.dropout),
                nn.Unflatten(1, (channels[-1], hs[-1], ws[-1])),
            ]
        else:
            layers = _conv(config.latent, channels[-1], 1, act, norm)
        outs = [*reversed(channels[:-1]), c]
        for i, out in enumerate(outs):
            level = len(channels) - i
            for _ in range(config.blocks):
                layers += _conv(channels[level - 1], channels[level - 1], 1, act, norm)
            # output_padding picks the exact size the encoder came from (odd sizes such as 7 need 0, not 1).
            pad = (hs[level - 1] - (2 * hs[level] - 1), ws[level - 1] - (2 * ws[level] - 1))
            last = i == len(outs) - 1
            layers.append(
                nn.ConvTranspose2d(
                    channels[level - 1], out, 3, stride=2, padding=1, output_padding=pad, bias=last or norm == "none"
                )
            )
            if not last:
                layers += [nn.BatchNorm2d(out)] if norm == "batch" else []
                layers.append(act())
        super().__init__(layers)
