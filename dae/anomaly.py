"""Anomaly detection by reconstruction error: score functions for one-class autoencoders, and AUROC.

A model trained only on "normal" images reconstructs them well and anything else badly, so a per-image
reconstruction error ranks test images from most normal to most anomalous. Every score here is "higher = more
anomalous" and takes clean test images (N, C, H, W) in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from dae.errors import DaeError
from dae.metrics import ssim

Score = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
WINDOW = 7  # local-error window of `window_max`: about a stroke's width on 28x28 digits


def mse(images: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """Per-image mean squared error between an image and the model's output for it."""
    return (images.double() - recon.double()).pow(2).flatten(1).mean(1)


def ssim_error(images: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """1 - SSIM: structure the model could not rebuild, less sensitive to overall brightness than MSE."""
    return 1 - ssim(recon, images)


def window_max(images: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """The largest mean squared error over any WINDOW x WINDOW patch: an anomaly is often one wrong stroke, which a
    whole-image mean dilutes among the pixels that were rebuilt well."""
    err = (images.double() - recon.double()).pow(2).mean(1, keepdim=True)
    size = min(WINDOW, *images.shape[-2:])
    return F.avg_pool2d(err, size, stride=1).flatten(1).amax(1)


SCORES: dict[str, Score] = {"mse": mse, "ssim": ssim_error, "window_max": window_max}


def _check_images(model: torch.nn.Module, images: Any) -> None:
    """Refuse in one line what would give a traceback deep in torch, or scores that look valid but are not."""
    if not isinstance(images, torch.Tensor) or not images.is_floating_point() or images.dim() != 4:
        got = f"{images.dtype} of shape {tuple(images.shape)}" if isinstance(images, torch.Tensor) else type(images)
        raise DaeError(f"anomaly scores: expected a float tensor (N, C, H, W) in [0, 1], got {got}")
    shape, stride = tuple(getattr(model, "config", {}).get("shape", ())), getattr(model, "stride", None)
    fits = tuple(images.shape[1:]) == shape or (  # a fully convolutional model takes sides of its stride's multiples
        stride is not None
        and images.shape[1] == shape[0]
        and not (images.shape[2] % stride or images.shape[3] % stride)
    )
    if shape and not fits:
        raise DaeError(f"anomaly scores: images of shape {tuple(images.shape[1:])}; this model takes {shape}")
    if not len(images):
        return
    low, high = (float(v) for v in torch.aminmax(images))  # one pass; NaN and inf carry through it
    if not (math.isfinite(low) and math.isfinite(high)):
        raise DaeError("anomaly scores: the images hold NaN or infinite values")
    if low < -1e-3 or high > 1 + 1e-3:  # a float32 rounding is no error
        hint = " (divide 8-bit images by 255)" if high > 1.5 else ""
        raise DaeError(f"anomaly scores: images must be floats in [0, 1]{hint}")


@torch.inference_mode()
def reconstruct(model: torch.nn.Module, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """The model's output for every image, in batches on the model's device, float32 on the CPU."""
    _check_images(model, images)
    model.eval()
    device = next(model.parameters()).device
    outs = [model(images[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(outs) if outs else torch.empty_like(images)


def score_all(images: torch.Tensor, recon: torch.Tensor) -> dict[str, np.ndarray]:
    """Every score of SCORES for each image, as float64 arrays (N,)."""
    return {name: fn(images, recon).numpy() for name, fn in SCORES.items()}


def auroc(scores: np.ndarray, anomalous: np.ndarray) -> float:
    """Area under the ROC curve of `scores` separating anomalous (True) from normal images: 0.5 is chance."""
    from sklearn.metrics import roc_auc_score

    _check_classes(anomalous)
    return float(roc_auc_score(anomalous.astype(np.int64), scores))


def _check_classes(anomalous: np.ndarray) -> None:
    """A mask of both kinds: bool, or 0 and 1 (class labels such as 0-9 are not one: sklearn reads them as classes)."""
    mask = np.asarray(anomalous)
    if mask.dtype != bool and not (mask.dtype.kind in "iu" and set(np.unique(mask)) <= {0, 1}):
        raise ValueError(
            f"anomalous must be a mask of True/1 (anomalous) and False/0, got {mask.dtype} {np.unique(mask)[:5]}"
        )
    if mask.all() or not mask.any():
        raise ValueError("AUROC needs both normal and anomalous images")


def roc_points(scores: np.ndarray, anomalous: np.ndarray, n: int = 101) -> list[dict[str, float]]:
    """The ROC curve resampled at `n` evenly spaced false-positive rates (a small, fixed-size CSV for dvc plots)."""
    from sklearn.metrics import roc_curve

    _check_classes(anomalous)
    fpr, tpr, _ = roc_curve(anomalous.astype(np.int64), scores)
    grid = np.linspace(0, 1, n)
    tprs = np.interp(grid, fpr, tpr)
    return [{"fpr": round(float(f), 4), "tpr": round(float(t), 6)} for f, t in zip(grid, tprs, strict=True)]


def score_images(model: torch.nn.Module, images: torch.Tensor) -> dict[str, np.ndarray]:
    """Every score of SCORES for each of `images`, from the model's reconstruction of the clean image."""
    recon = reconstruct(model, images)  # checks the images first
    return score_all(images.cpu(), recon)


def mean_roc(curves: list[list[dict[str, float]]]) -> list[float]:
    """The true-positive rates of several `roc_points` curves averaged at each false-positive rate (vertical
    averaging, Fawcett 2006): one curve for all the one-class models of a dataset."""
    return [round(float(np.mean([c[i]["tpr"] for c in curves])), 6) for i in range(len(curves[0]))]


HIST_EDGES = np.linspace(-1.0, 2.0, 61)  # log10 of score / median normal val score: 0.1x to 100x a normal image's


def relative_histogram(ratios: np.ndarray, anomalous: np.ndarray) -> list[dict[str, float]]:
    """Density of log10(score / typical normal score) for normal and for anomalous images, clipped to the edges.

    Each one-class model's scores live on their own scale; dividing by the median score of that model's normal val
    images puts every class on one axis, where 0 is "as well rebuilt as a typical normal image".
    """
    logs = np.clip(np.log10(np.maximum(ratios, 1e-12)), HIST_EDGES[0], HIST_EDGES[-1])
    normal, _ = np.histogram(logs[~anomalous], HIST_EDGES, density=True)
    anomal, _ = np.histogram(logs[anomalous], HIST_EDGES, density=True)
    centres = (HIST_EDGES[:-1] + HIST_EDGES[1:]) / 2
    return [
        {"log10_ratio": round(float(x), 3), "normal": round(float(n), 5), "anomalous": round(float(a), 5)}
        for x, n, a in zip(centres, normal, anomal, strict=True)
    ]
