"""Classical denoisers to beat, each tuned on the val split over a small grid of its one or two knobs.

Every method takes and returns one image as float (C, H, W) in [0, 1] and works channel by channel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Denoiser = Callable[..., np.ndarray]
BM3D_MIN_SIDE = 32  # bm3d crashes (segfault) on images smaller than its block search: pad first


def _per_channel(fn: Callable[[np.ndarray], np.ndarray], image: np.ndarray) -> np.ndarray:
    return np.stack([fn(channel) for channel in image]).astype(np.float32)


def identity(image: np.ndarray) -> np.ndarray:
    return image


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return _per_channel(lambda c: gaussian_filter(c, sigma, mode="reflect"), image)


def median(image: np.ndarray, size: int) -> np.ndarray:
    from scipy.ndimage import median_filter

    return _per_channel(lambda c: median_filter(c, size=size, mode="reflect"), image)


def total_variation(image: np.ndarray, weight: float) -> np.ndarray:
    from skimage.restoration import denoise_tv_chambolle

    return _per_channel(lambda c: denoise_tv_chambolle(c, weight=weight), image)


def non_local_means(image: np.ndarray, h_factor: float) -> np.ndarray:
    from skimage.restoration import denoise_nl_means, estimate_sigma

    def one(c: np.ndarray) -> np.ndarray:
        sigma = float(estimate_sigma(c))
        return denoise_nl_means(c, h=h_factor * sigma, sigma=sigma, patch_size=3, patch_distance=5, fast_mode=True)

    return _per_channel(one, image)


def wavelet(image: np.ndarray, method: str) -> np.ndarray:
    from skimage.restoration import denoise_wavelet

    return _per_channel(lambda c: denoise_wavelet(c, method=method, mode="soft", rescale_sigma=True), image)


def bm3d(image: np.ndarray, sigma: float) -> np.ndarray:
    """BM3D on each grey image; on RGB, CBM3D (`bm3d_rgb`: one block matching on luminance, shared by the
    channels), the field's colour reference and stronger than BM3D channel by channel."""
    import bm3d as bm3d_lib

    pad = [(0, 0)] + [(max(0, (BM3D_MIN_SIDE - s + 1) // 2),) * 2 for s in image.shape[1:]]
    padded = np.pad(image, pad, mode="reflect")
    if image.shape[0] == 3:
        out = np.moveaxis(bm3d_lib.bm3d_rgb(np.moveaxis(padded, 0, 2), sigma), 2, 0)
    else:
        out = np.stack([bm3d_lib.bm3d(c, sigma_psd=sigma) for c in padded])
    h, w = image.shape[1:]
    return out[:, pad[1][0] : pad[1][0] + h, pad[2][0] : pad[2][0] + w].astype(np.float32)


def grids(setting: dict[str, Any]) -> dict[str, tuple[Denoiser, list[dict[str, Any]]]]:
    """Each method with the knob values tried on val. BM3D gets the std the noise was drawn with when it is gaussian."""
    bm3d_sigmas = [setting["level"]] if setting["type"] == "gaussian" else [0.2, 0.4]
    return {
        "identity": (identity, [{}]),
        "gaussian_blur": (gaussian_blur, [{"sigma": s} for s in (0.5, 0.8, 1.2, 2.0)]),
        "median": (median, [{"size": s} for s in (3, 5)]),
        "total_variation": (total_variation, [{"weight": w} for w in (0.05, 0.1, 0.2, 0.4)]),
        "non_local_means": (non_local_means, [{"h_factor": h} for h in (0.6, 0.8, 1.0, 1.2)]),
        "wavelet": (wavelet, [{"method": m} for m in ("BayesShrink", "VisuShrink")]),
        "bm3d": (bm3d, [{"sigma": s} for s in bm3d_sigmas]),
    }


SLOW = {"bm3d"}  # run on a smaller seeded subset (about 0.2 s per image)


def apply(fn: Denoiser, images: np.ndarray, knobs: dict[str, Any]) -> np.ndarray:
    return np.clip(np.stack([fn(image, **knobs) for image in images]), 0, 1).astype(np.float32)


def tune(
    fn: Denoiser,
    grid: list[dict[str, Any]],
    noisy: np.ndarray,
    clean: np.ndarray,
    score: Callable[[np.ndarray, np.ndarray], float],
) -> dict[str, Any]:
    """The knob values with the best score on (noisy, clean): val images, never test."""
    if len(grid) == 1:
        return grid[0]
    return max(grid, key=lambda knobs: score(apply(fn, noisy, knobs), clean))
