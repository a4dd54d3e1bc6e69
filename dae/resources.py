"""Fail early, with the param to lower, when a dataset or a batch would not fit in memory."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

from dae.errors import DaeError

if TYPE_CHECKING:  # torch is imported only where it is used: the corrupt stage runs without it
    import torch

LIMIT_ENV = "DAE_MEMORY_LIMIT_MB"  # an explicit cap, e.g. on a shared machine (also how the tests simulate one)
HEADROOM = 0.8  # plan to use at most this share of what is free


def available_memory(device: torch.device | None = None) -> int:
    """Bytes free for this process: GPU memory on CUDA; else the least of MemAvailable, the cgroup limit, and
    $DAE_MEMORY_LIMIT_MB."""
    limits = [] if env_limit() is None else [env_limit()]
    if device is not None and device.type == "cuda":
        import torch

        limits.append(torch.cuda.mem_get_info(device)[0])
        return min(limits)
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
    cgroup = Path("/sys/fs/cgroup/memory.max")
    if cgroup.exists() and cgroup.read_text().strip().isdigit():
        used = Path("/sys/fs/cgroup/memory.current")
        limits.append(int(cgroup.read_text()) - (int(used.read_text()) if used.exists() else 0))
    return min(limits) if limits else 2**62


def env_limit() -> int | None:
    """$DAE_MEMORY_LIMIT_MB in bytes, None when unset; anything but a positive number is refused."""
    raw = os.environ.get(LIMIT_ENV, "").strip()
    if not raw:
        return None
    try:
        mb = float(raw)
    except ValueError:
        mb = math.nan
    if not (math.isfinite(mb) and mb > 0):
        raise DaeError(f"${LIMIT_ENV} = {raw!r} is not allowed; expected a number of MB > 0 (or unset it)")
    return int(mb * 2**20)


def require(needed: int, what: str, lower: str, device: torch.device | None = None) -> None:
    """Raise a one-line DaeError if `needed` bytes would not fit; `lower` names the param(s) that shrink it."""
    free = available_memory(device)
    if needed > HEADROOM * free:
        where = "GPU memory" if device is not None and device.type == "cuda" else "memory"
        raise DaeError(
            f"{what} needs about {needed / 2**20:,.0f} MB of {where} but {free / 2**20:,.0f} MB is free; lower {lower}"
        )


def activation_bytes(model: torch.nn.Module, shape: tuple[int, ...]) -> int:
    """Bytes of the activations of one sample through `model` (forward outputs of every leaf module)."""
    import torch

    total = 0
    device = next(model.parameters()).device

    def hook(_module, _inputs, output) -> None:
        nonlocal total
        total += output.numel() * output.element_size()

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.no_grad():
            model(torch.zeros(1, *shape, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return total


def training_bytes(model: torch.nn.Module, n_images: int, shape: tuple[int, ...], batch_size: int) -> dict[str, int]:
    """Bytes of training, by what sets them: `data` (the noisy + clean float32 tensors of all `n_images`),
    `batch` (one batch's activations, kept for backward and mirrored by their gradients), and `weights` (weights,
    gradients and Adam's two moments).

    `weights` alone can be counted before building, with weight_bytes on a meta-device model.
    """
    data = data_bytes(n_images, shape)
    weights = weight_bytes(model)
    # A batch is never larger than the training set, whatever train.batch_size says.
    batch = 2 * min(batch_size, n_images) * activation_bytes(model, shape)
    return {"data": data, "batch": batch, "weights": weights}


def data_bytes(n_images: int, shape: tuple[int, ...]) -> int:
    """The noisy and clean float32 copies of `n_images` images, held in memory for the whole run."""
    return 2 * 4 * n_images * math.prod(shape)


def weight_bytes(model: torch.nn.Module) -> int:
    """Weights, their gradients and Adam's two moments; exact on the meta device, where nothing is allocated."""
    return 4 * sum(p.numel() * p.element_size() for p in model.parameters())


def knob_to_lower(parts: dict[str, int], model_params: dict) -> str:
    """The param(s) that shrink the largest part of a training_bytes() estimate."""
    largest = max(parts, key=parts.get)
    if largest == "weights":
        widths = "model.hidden" if model_params["arch"] == "mlp" else "model.channels"
        return f"model.latent or {widths}"
    return "train.batch_size" if largest == "batch" else "data.subset"
