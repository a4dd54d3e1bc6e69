"""Natural-image denoising data and scoring: folders split into train and val images, training patches with noise
drawn afresh each epoch, fixed val patches and test noise, and the field's whole-image scoring.

The field's protocol (DnCNN, FFDNet, DRUNet on Set12): unclipped gaussian noise of std sigma/255 added in float,
the output clamped to [0, 1] and rounded to 8 bit, PSNR with peak 255 averaged over the images.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import torch

from dae.data import NoisyPairs, stack
from dae.datasets import resolve_mirror
from dae.errors import DaeError
from dae.images import quantise
from dae.metrics import psnr, ssim
from dae.patches import sample_patches


def resolve_folder(folder: str, mirror: str | None) -> Path:
    """`folder` as given when it exists, else that folder of the data mirror ($DAE_DATA_MIRROR or data.mirror)."""
    if Path(folder).expanduser().is_dir():
        return Path(folder).expanduser()
    root = resolve_mirror(mirror)
    if root and "://" not in root and (Path(root) / folder).is_dir():
        return Path(root) / folder
    where = f"nor in the data mirror {root}" if root else "and no data mirror is set (data.mirror or $DAE_DATA_MIRROR)"
    raise DaeError(f"natural image folder {folder!r} not found, {where}")


def split_names(names: list[str], val_images: int, seed: int) -> tuple[list[str], list[str]]:
    """(train, val) file names: `val_images` of them drawn by `seed` for validation, both lists in name order."""
    if val_images >= len(names):
        raise DaeError(f"params: natural.val_images = {val_images} leaves no training image of {len(names)}")
    picked = set(np.random.default_rng(seed).choice(len(names), size=val_images, replace=False).tolist())
    return [n for i, n in enumerate(names) if i not in picked], [n for i, n in enumerate(names) if i in picked]


def noise_tag(sigma: float | str) -> str:
    """The name of a noise level in files and tables: `15`, `12.5`, or `blind`."""
    return sigma if isinstance(sigma, str) else f"{sigma:g}"


def level(sigma: float | str, blind: list[float]) -> float | list[float]:
    """The [0, 1]-scale gaussian std of a model's training noise: one value, or the [low, high] range of blind."""
    return [b / 255 for b in blind] if sigma == "blind" else float(sigma) / 255


def _rng(*keys: int | str) -> np.random.Generator:
    words = [k if isinstance(k, int) else zlib.crc32(k.encode()) for k in keys]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(words)))


def add_test_noise(clean: np.ndarray, sigma: float, seed: int, name: str) -> np.ndarray:
    """The fixed noisy copy of one test image: its own draw, keyed by the seed, the sigma and the file name."""
    rng = _rng(seed, noise_tag(sigma), name)
    return clean + np.float32(sigma / 255) * rng.standard_normal(clean.shape, dtype=np.float32)


def patch_pairs(
    images: list[np.ndarray], patch: int, count: int, noise: float | list[float], seed: int, epoch: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(noisy, clean) tensors of `count` patches: crops drawn by (seed, epoch), unclipped gaussian noise per patch
    (a [low, high] `noise` draws each patch's std from that range) through NoisyPairs."""
    clean = sample_patches(images, patch, count, _rng(seed, "patches", epoch))
    pairs = NoisyPairs(clean, {"type": "gaussian", "level": noise}, seed=seed, clip=False)
    pairs.set_epoch(epoch)
    return stack(pairs)


def score(output: np.ndarray, clean: np.ndarray) -> dict[str, float]:
    """PSNR (peak 255) and SSIM of one output, clamped and rounded to 8 bit as a saved image would be."""
    out = torch.from_numpy(quantise(output).astype(np.float32) / 255)[None, None]
    ref = torch.from_numpy(clean)[None, None]
    return {"psnr": psnr(out, ref).item(), "ssim": ssim(out, ref).item()}
