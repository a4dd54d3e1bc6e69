"""Corruptions on float32 images in [0, 1], drawn from seeded PCG64 generators (same bytes on every machine)."""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np

from dae.errors import DaeError

SPLITS = ("train", "val", "test")
# Allowed levels, as params.yaml allows them: a gaussian std on the [0, 1] scale (1 is 255 on the 0-255 one, an
# image buried in noise), and fractions of the pixels.
LEVELS = {"gaussian": (0.0, 1.0), "salt_pepper": (0.0, 1.0), "masking": (0.0, 1.0)}


def gaussian(x: np.ndarray, std: float, rng: np.random.Generator, clip: bool = True) -> np.ndarray:
    """Additive white gaussian noise, std on the [0, 1] scale; clipped back to [0, 1] unless `clip` is off."""
    noisy = x + np.float32(std) * rng.standard_normal(x.shape, dtype=np.float32)
    return np.clip(noisy, 0.0, 1.0, out=noisy) if clip else noisy


def salt_pepper(x: np.ndarray, amount: float, rng: np.random.Generator, salt_ratio: float = 0.5) -> np.ndarray:
    """Set a fraction `amount` of values to 1 (salt) or 0 (pepper), salt with probability `salt_ratio`."""
    u = rng.random(x.shape, dtype=np.float32)
    return np.where(u < amount * salt_ratio, np.float32(1.0), np.where(u < amount, np.float32(0.0), x))


def masking(x: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Masking (dropout) noise: each value is zeroed with probability `rate`."""
    # Multiplying by the kept-mask is twice as fast as np.where here, and exact (x * 1 == x, x * 0 == 0).
    return x * (rng.random(x.shape, dtype=np.float32) >= rate)


def rng_for(seed: int, setting: dict, split: str) -> np.random.Generator:
    """A generator keyed by the seed, the setting's content (not its name) and the split.

    Two names for the same setting (e.g. the main setting and the matching sweep entry) draw the same noise.
    """
    tag = f"{setting['type']}:{setting['level']!r}:{split}".encode()
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, zlib.crc32(tag)])))


def corrupt(
    x: np.ndarray, setting: dict, rng: np.random.Generator, clip: bool = True, salt_ratio: float = 0.5
) -> np.ndarray:
    """Apply one noise setting ({type, level}) to float32 images in [0, 1]."""
    kind, level = setting["type"], setting["level"]
    check_level(kind, level)
    if kind == "gaussian":
        return gaussian(x, level, rng, clip=clip)
    if kind == "salt_pepper":
        return salt_pepper(x, level, rng, salt_ratio=salt_ratio)
    if kind == "masking":
        return masking(x, level, rng)
    raise AssertionError(kind)  # check_level refused it


def check_level(kind: str, level: float | np.ndarray) -> None:
    """Refuse an unknown noise type, or a level (a number or an array of them) outside what the type allows."""
    if not isinstance(kind, str) or kind not in LEVELS:
        raise DaeError(f"noise: type = {kind!r} is not allowed; expected {', '.join(LEVELS)}")
    low, high = LEVELS[kind]
    levels = np.asarray(level, dtype=np.float64)
    inside = (levels >= low) & (levels <= high)  # NaN fails both comparisons
    if not inside.all():
        bad = levels[~inside].flat[0]
        raise DaeError(f"noise: {kind} level = {bad:g} is not allowed; expected a level from {low:g} to {high:g}")


def to_unit(images: np.ndarray) -> np.ndarray:
    """uint8 images to float32 in [0, 1]."""
    return images.astype(np.float32) / np.float32(255.0)


def sampler(
    clean: np.ndarray, ranges: list[dict], seed: int, tag: str, clip: bool = True, salt_ratio: float = 0.5
) -> Callable[[int], np.ndarray]:
    """`redraw(epoch)`: fresh noisy copies of `clean` (float32 in [0, 1]), seeded by (seed, tag, epoch).

    Each image gets one of `ranges` ({type, low, high}) at random, and a level drawn uniformly in [low, high]:
    one range with low == high redraws a single setting; several train a "blind" model across noise levels.
    """

    def redraw(epoch: int) -> np.ndarray:
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, zlib.crc32(tag.encode()), epoch])))
        which = rng.integers(len(ranges), size=len(clean))
        out = np.empty_like(clean)
        for k, r in enumerate(ranges):
            idx = np.flatnonzero(which == k)
            # One level per image, broadcast over its pixels.
            levels = rng.uniform(r["low"], r["high"], size=(len(idx),) + (1,) * (clean.ndim - 1)).astype(np.float32)
            out[idx] = corrupt(clean[idx], {"type": r["type"], "level": levels}, rng, clip, salt_ratio)
        return out

    return redraw
