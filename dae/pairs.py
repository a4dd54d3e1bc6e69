"""The corrupt stage's pair files as the training and scoring stages read them: float32 tensors in [0, 1].

A pairs file holds, per split, `{split}_noisy` (float32 in [0, 1]) and `{split}_clean` (uint8, as downloaded).
Kept apart from dae.io, which stays free of torch: the corrupt stage writes these files without importing it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from dae.io import load_arrays
from dae.noise import to_unit


def load_pairs(path: str | Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(noisy, clean) of one split (train, val or test); only those two arrays are read from the file."""
    noisy, clean = f"{split}_noisy", f"{split}_clean"
    arrays, _ = load_arrays(path, keys=(noisy, clean))
    return torch.from_numpy(arrays[noisy]), torch.from_numpy(to_unit(arrays[clean]))
