"""`model.noise_map: estimate`: the network also sees its input's noise level, estimated from the input itself.

A blind denoiser has to infer the noise level from a patch's pixels, where texture and noise look alike. A fixed,
robust estimate over the whole input (each training patch, each inference tile) is cheap and tells it what a
local view cannot, as FFDNet's noise-level map does when the level is known; here nothing is given, so the model
stays blind. The estimator is Immerkaer's (1996) noise-only filter, whose response to white gaussian noise of std
sigma has std 6 sigma, read robustly by the median absolute value (Donoho's MAD) so that edges barely move it.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

# Immerkaer's filter: the difference of two Laplacians, blind to any plane and to most smooth image content.
_KERNEL = torch.tensor([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])
_MAD_TO_STD = 0.6745  # the median of |N(0, 1)|
_SCALE = 255 / 50  # the map is in units of sigma = 50 on the 0-255 scale, so its values are about 0 to 1


def estimate_sigma(x: torch.Tensor) -> torch.Tensor:
    """(N, C, 1, 1): the gaussian noise std of each image's each channel of `x` (N, C, H, W), on x's scale."""
    n, c, h, w = x.shape
    planes = x.detach().float().reshape(n * c, 1, h, w)
    with torch.autocast(x.device.type, enabled=False):  # in float32 under bf16 or fp16 training too
        response = F.conv2d(planes, _KERNEL.to(x.device).view(1, 1, 3, 3)).abs().flatten(1)
    # The lower median, as torch.median gives it, through a sort: torch.median with a dim has no deterministic CUDA
    # kernel, and training runs with torch.use_deterministic_algorithms.
    spread = response.sort(dim=1).values[:, (response.shape[1] - 1) // 2]
    return (spread / (6 * _MAD_TO_STD)).view(n, c, 1, 1)


def with_noise_map(x: torch.Tensor) -> torch.Tensor:
    """`x` with one more channel per channel: that channel's estimated noise std, constant over the image."""
    level = (estimate_sigma(x) * _SCALE).to(x.dtype).expand_as(x)
    return torch.cat([x, level], dim=1).contiguous(memory_format=_format(x))


def _format(x: torch.Tensor) -> torch.memory_format:
    nhwc = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    return torch.channels_last if nhwc else torch.contiguous_format
