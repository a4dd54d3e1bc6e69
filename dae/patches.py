"""Training patches from large images: seeded random crops with the 8 flips and 90-degree rotations, from the
images and, where a model asks for them, shrunk copies of them.

Natural-image models train on small patches (the field's 40-64 px), drawn afresh every epoch, so that a few hundred
images give an endless stream of different inputs; whole images are only seen at test time.
"""

from __future__ import annotations

import numpy as np
import torch


def sample_patches(images: list[np.ndarray], size: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """(count, C, size, size) float32 crops of HxW (C = 1) or HxWxC images: each from an image picked in proportion
    to its area (so every pixel is equally likely), at a uniform position, under one of the 8 symmetries of the
    square."""
    small = [i for i, im in enumerate(images) if min(im.shape[:2]) < size]
    if small:
        raise ValueError(f"image {small[0]} ({images[small[0]].shape}) is smaller than the patch size {size}")
    areas = np.array([im.size for im in images], dtype=np.float64)
    which = rng.choice(len(images), size=count, p=areas / areas.sum())
    spins, flips = rng.integers(0, 4, size=count), rng.integers(0, 2, size=count)
    channels = 1 if images[0].ndim == 2 else images[0].shape[2]
    out = np.empty((count, channels, size, size), dtype=np.float32)
    for k, i in enumerate(which):
        h, w = images[i].shape[:2]
        y, x = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
        patch = np.rot90(images[i][y : y + size, x : x + size], spins[k])  # turns the first two axes
        patch = patch[:, ::-1] if flips[k] else patch
        out[k] = patch.reshape(size, size, channels).transpose(2, 0, 1)
    return out


def downscaled(images: list[np.ndarray], factors: list[float], smallest: int) -> list[np.ndarray]:
    """The images, then for each factor below 1 every image shrunk by it (bicubic with antialiasing; float32, clamped
    to [0, 1], the range of the images), leaving out copies under `smallest` pixels a side. DnCNN's training data is
    its 400 images at scales 1, 0.9, 0.8 and 0.7. A shrunk photograph is still a photograph, with its detail packed
    closer, so a few hundred images give a model more kinds of texture to learn from."""
    out = list(images)
    for factor in (f for f in factors if f < 1):
        for image in images:
            h, w = (round(n * factor) for n in image.shape[:2])
            if min(h, w) < smallest:
                continue
            planes = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32).reshape(*image.shape[:2], -1))
            small = torch.nn.functional.interpolate(
                planes.permute(2, 0, 1)[None], size=(h, w), mode="bicubic", antialias=True, align_corners=False
            )
            out.append(small[0].clamp(0, 1).permute(1, 2, 0).reshape((h, w, *image.shape[2:])).numpy())
    return out
