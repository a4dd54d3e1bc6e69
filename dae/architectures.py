"""What each `model.arch` accepts, checked without torch: `dae.params` runs it on every network the params build
before any stage runs, and `dae.models.build_model` again on what it is given."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from dae.errors import DaeError

# The architectures whose first layer also sees the input's estimated noise level (`noise_map: estimate`).
TAKE_NOISE_MAP = ("unet", "dncnn")
# Residual architectures: their output is the input plus what they compute, which a sigmoid would squash.
RESIDUAL = {"unet": "adds a correction to its input", "dncnn": "subtracts its noise estimate from the input"}


def check_noise_map(arch: str, noise_map: str, key: str = "model") -> None:
    if noise_map != "none" and arch not in TAKE_NOISE_MAP:
        raise DaeError(
            f"{key}: noise_map = {noise_map!r} needs arch {', '.join(TAKE_NOISE_MAP)}; set {key}.noise_map: none"
        )


def check_model(model: Mapping[str, Any], shape: tuple[int, ...], key: str = "model") -> None:
    """Raise a DaeError naming the param of `key` to change when `model` (a `model:` mapping) builds no sensible
    network for images of `shape` (C, H, W)."""
    arch, levels, side = model["arch"], len(model["channels"]), min(shape[1:])
    check_noise_map(arch, model.get("noise_map", "none"), key)
    if arch in RESIDUAL and model.get("output", "sigmoid") != "linear":
        raise DaeError(f"{key}: arch {arch} {RESIDUAL[arch]}; set {key}.output: linear")
    if arch == "dncnn" and levels != 1:
        raise DaeError(f"{key}: arch dncnn has one width; give {key}.channels one entry (and depth as blocks)")
    # conv halves the image at every level; unet at every level after the first.
    halvings = {"conv": levels, "unet": levels - 1}.get(arch, 0)
    if side < 2**halvings:
        most = int(math.log2(side)) + (arch == "unet")
        raise DaeError(
            f"{key}: {levels} {arch} levels shrink a {shape[1]}x{shape[2]} image below 1 pixel; use at most {most} "
            f"entries in {key}.channels"
        )
