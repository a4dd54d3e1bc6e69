"""Per-image reconstruction metrics on [0, 1] images, batched in torch.

PSNR: data range 1.0, per image, on outputs clamped to [0, 1]; a perfect image is capped at 100 dB.
SSIM: Wang et al.'s settings, as scikit-image's `structural_similarity(data_range=1.0, gaussian_weights=True,
sigma=1.5, use_sample_covariance=False)`: an 11x11 gaussian window, averaged over positions where it fits.
Images smaller than 11 px (digits are 8x8) match scikit-image with `win_size` the largest odd size that fits
(7 for 8x8): the same 11-tap gaussian over a symmetrically padded image, averaged over the central crop.
"""

from __future__ import annotations

import torch

from dae.errors import DaeError

SIGMA = 1.5
K1, K2 = 0.01, 0.03
RADIUS = 5  # int(3.5 * 1.5 + 0.5): the 11-tap gaussian of scikit-image (and Wang et al.)


def ssim_win_size(height: int, width: int) -> int:
    """scikit-image's window: 11, or the largest odd size that fits a smaller image."""
    side = min(height, width, 2 * RADIUS + 1)
    return side if side % 2 else side - 1


def _blur_matrix(n: int, crop: int, device: torch.device) -> torch.Tensor:
    """The 1-D gaussian of scikit-image's SSIM as an (n - 2 crop, n) matrix: filter along one axis with
    scipy.ndimage's mode='reflect' padding (c b a | a b c), then keep the centre, `crop` pixels in from each side.

    Two matrix products (rows, then columns) blur a whole batch: far faster on the CPU than a convolution with the
    11x11 window, and the same sums.
    """
    x = torch.arange(-RADIUS, RADIUS + 1, dtype=torch.float64)
    g = torch.exp(-0.5 * (x / SIGMA) ** 2)
    g = g / g.sum()
    out = torch.zeros(n - 2 * crop, n, dtype=torch.float64)
    for i in range(crop, n - crop):
        for k in range(2 * RADIUS + 1):
            src = i + k - RADIUS
            src = -src - 1 if src < 0 else (2 * n - 1 - src if src >= n else src)
            out[i - crop, src] += g[k]
    return out.to(device)


def _check_pair(x: torch.Tensor, y: torch.Tensor, ndim: int) -> None:
    """Broadcasting would score (N, 1, H, W) against (N, H, W) as an N x N grid of pairs: refuse it."""
    if x.shape != y.shape:
        shapes = f"output shape {tuple(x.shape)} and clean shape {tuple(y.shape)}"
        raise DaeError(f"metrics: {shapes} differ; expected one shape for both")
    if x.dim() < ndim:
        raise DaeError(f"metrics: shape {tuple(x.shape)} is not allowed; expected a batch axis and {ndim} axes or more")


def mse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image mean squared error, shape (N,)."""
    _check_pair(x, y, 2)
    return (x.double() - y.double()).pow(2).flatten(1).mean(1)


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB for data range 1.0, shape (N,)."""
    return 10 * torch.log10(1.0 / mse(x.clamp(0, 1), y).clamp_min(1e-10))


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM (data range 1.0), averaged over channels, shape (N,), as scikit-image computes it."""
    _check_pair(x, y, 3)
    x, y = x.clamp(0, 1).double(), y.double()
    h, w = x.shape[-2:]
    crop = (ssim_win_size(h, w) - 1) // 2
    rows, cols = _blur_matrix(h, crop, x.device), _blur_matrix(w, crop, x.device)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return rows @ t @ cols.T

    ux, uy = blur(x), blur(y)
    # use_sample_covariance=False: population (co)variances, no n / (n - 1) factor.
    vx, vy, vxy = blur(x * x) - ux * ux, blur(y * y) - uy * uy, blur(x * y) - ux * uy
    c1, c2 = K1**2, K2**2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.flatten(1).mean(1)


def summarise(output: torch.Tensor, clean: torch.Tensor, batch: int = 1024) -> dict[str, float]:
    """Mean MSE, PSNR and SSIM of `output` against `clean` over a whole split, in batches."""
    _check_pair(output, clean, 3)  # once whole: batches of a longer output would each match
    totals = {"mse": 0.0, "psnr": 0.0, "ssim": 0.0}
    for i in range(0, len(clean), batch):
        o, c = output[i : i + batch], clean[i : i + batch]
        totals["mse"] += mse(o.clamp(0, 1), c).sum().item()
        totals["psnr"] += psnr(o, c).sum().item()
        totals["ssim"] += ssim(o, c).sum().item()
    return {k: v / len(clean) for k, v in totals.items()}
