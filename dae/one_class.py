"""One-class training data and model files: a model per class, trained on that class's images only.

Kept apart from dae.anomaly (the scores) so that changing how models are scored does not retrain them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dae.noise import gaussian, sampler, to_unit

# The two ways each one-class model is trained: with noisy inputs (the DAE) and with clean ones (the plain AE).
VARIANTS = ("dae", "plain")


def variants(anomaly: dict[str, Any]) -> list[str]:
    return list(VARIANTS) if anomaly["plain"] else ["dae"]


def class_images(splits: dict[str, np.ndarray], split: str, cls: int | None = None) -> torch.Tensor:
    """One split's images as float32 in [0, 1]: only class `cls`, or all of them (None)."""
    x = splits[f"{split}_x"] if cls is None else splits[f"{split}_x"][splits[f"{split}_y"] == cls]
    return torch.from_numpy(to_unit(x))


def one_class_pairs(
    train: torch.Tensor, val: torch.Tensor, std: float, seed: int
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor], Callable[[int], np.ndarray] | None]:
    """(input, target) pairs of one class for `dae.training.fit`, and the per-epoch redraw of the inputs.

    std > 0: the DAE, its training inputs redrawn with fresh gaussian noise every epoch (the corruption of Vincent et
    al. 2008) and its val inputs noisy once, seeded; std == 0: the plain autoencoder, clean in and clean out.
    """
    if std == 0:
        return (train, train), (val, val), None
    redraw = sampler(train.numpy(), [{"type": "gaussian", "low": std, "high": std}], seed, "anomaly:train")
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 1])))
    noisy_val = torch.from_numpy(gaussian(val.numpy(), std, rng))
    return (torch.from_numpy(redraw(0)), train), (noisy_val, val), redraw


def run_files(root: str | Path, dataset: str, cls: int, runs: list[tuple[str, int]]) -> dict[tuple[str, int], Path]:
    """Where each (variant, seed) model of one class lives under `root`: the first run (the DAE of the first seed,
    the model the headline `auroc` values come from) at `<dataset>-<class>.safetensors`, the others in
    `runs/<dataset>-<class>/<variant>-seed<seed>.safetensors`."""
    files = {runs[0]: Path(root) / f"{dataset}-{cls}.safetensors"}
    files.update({(v, s): runs_dir(root, dataset, cls) / f"{v}-seed{s}.safetensors" for v, s in runs[1:]})
    return files


def runs_dir(root: str | Path, dataset: str, cls: int) -> Path:
    """The folder of one class's runs after the first (a stage output even when it holds none)."""
    return Path(root) / "runs" / f"{dataset}-{cls}"


def all_runs(anomaly: dict[str, Any]) -> list[tuple[str, int]]:
    """Every (variant, seed) trained per class, the headline DAE of the first seed first."""
    return [(v, s) for v in variants(anomaly) for s in anomaly["seeds"]]
