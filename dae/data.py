"""Noisy/clean pairs as a `torch.utils.data.Dataset`, for training loops that use a DataLoader.

The pipeline's stages precompute whole splits as tensors (faster for images this small); NoisyPairs is the same
corruption item by item, with the noise either drawn per item (seeded by the seed, the epoch and the index, so any
item of any epoch can be redrawn alone, in any worker) or taken from precomputed noisy images.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from dae.errors import DaeError
from dae.noise import check_level, corrupt, to_unit


class NoisyPairs(Dataset):
    """(noisy, clean) float32 tensors (C, H, W) in [0, 1] over clean images (N, C, H, W), uint8 or float in [0, 1].

    Give `setting` ({type, level}, as in params.yaml's sweep) to draw the noise per item; a level [low, high] draws
    each item's level uniformly from that range (a blind model's training). Call `set_epoch(k)` at the start of
    each epoch for fresh noise, or leave it for the same noise every epoch. Give `noisy` instead to
    pair each clean image with a precomputed noisy one.
    """

    def __init__(
        self,
        clean: np.ndarray,
        setting: dict[str, Any] | None = None,
        seed: int = 0,
        noisy: np.ndarray | None = None,
        clip: bool = True,
    ):
        if (setting is None) == (noisy is None):
            raise ValueError("NoisyPairs needs exactly one of `setting` (noise per item) and `noisy` (precomputed)")
        if setting is not None:  # here, not at the first item a DataLoader worker draws
            _check_setting(setting)
        if noisy is not None and noisy.shape != clean.shape:
            raise ValueError(f"noisy images {noisy.shape} do not match the clean ones {clean.shape}")
        self.clean = to_unit(clean) if clean.dtype == np.uint8 else clean.astype(np.float32, copy=False)
        self.noisy = None if noisy is None else noisy.astype(np.float32, copy=False)
        self.setting, self.seed, self.clip, self.epoch = setting, seed, clip, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.clean)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        clean = self.clean[index]
        if self.noisy is not None:
            noisy = self.noisy[index]
        else:
            rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, self.epoch, index])))
            setting, level = self.setting, self.setting["level"]
            if isinstance(level, (list, tuple)):
                setting = {**setting, "level": float(rng.uniform(*level))}
            noisy = corrupt(clean[None], setting, rng, clip=self.clip)[0]
        return torch.from_numpy(np.ascontiguousarray(noisy)), torch.from_numpy(np.ascontiguousarray(clean))


def _check_setting(setting: dict[str, Any]) -> None:
    level = setting.get("level") if isinstance(setting, dict) else None
    pair = isinstance(level, (list, tuple))  # [low, high]: each item's level drawn from it
    numbers = list(level) if pair else [level]
    real = all(isinstance(v, Real) and not isinstance(v, bool) for v in numbers)
    if not isinstance(setting, dict) or "type" not in setting or not real or len(numbers) != (2 if pair else 1):
        raise DaeError(
            f"noise setting = {setting!r} is not allowed; expected {{type, level}}, level a number or [low, high]"
        )
    check_level(setting["type"], level)
    if len(numbers) == 2 and not numbers[0] <= numbers[1]:
        shown = [float(v) for v in numbers]
        raise DaeError(f"noise level = {shown} is not allowed; expected [low, high] with low <= high")


def stack(pairs: Dataset, batch_size: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """Every (noisy, clean) item of a dataset as two tensors (N, C, H, W), through a DataLoader in index order."""
    noisy, clean = zip(*DataLoader(pairs, batch_size=batch_size, shuffle=False), strict=True)
    return torch.cat(noisy), torch.cat(clean)
