"""Whole images in, whole images out: any size, grey or colour, in overlapping tiles when large.

A fully convolutional model (`model.stride` is a number) sees the image padded to a multiple of its stride, in one
piece up to `tile` pixels a side and in overlapping tiles above it; a model of one fixed size (a dense bottleneck)
sees tiles of exactly that size. Tiles are blended with weights that fall off towards their edges, so no seam shows,
and only one tile's activations are in memory at a time. `ensemble=8` averages the model over the image's 8 flips
and 90-degree rotations (the "x8" self-ensemble of Timofte et al., CVPR 2016): about 0.1 dB for 8 times the time.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import torch
import torch.nn.functional as F

from dae.errors import DaeError
from dae.models import DenoisingAutoencoder


def _starts(size: int, tile: int, step: int) -> list[int]:
    """Tile origins covering 0..size with tiles of `tile` moved by `step`; the last one flush with the end."""
    if size <= tile:
        return [0]
    return sorted({*range(0, size - tile, step), size - tile})


def _ramp(length: int, overlap: int) -> np.ndarray:
    """1 in the middle, falling linearly to a small positive value over `overlap` pixels at both ends."""
    ramp = np.ones(length, dtype=np.float32)
    edge = min(overlap, length // 2)
    if edge > 0:
        rise = (np.arange(edge, dtype=np.float32) + 1) / (edge + 1)
        ramp[:edge], ramp[length - edge :] = rise, rise[::-1]
    return ramp


@torch.inference_mode()
def _run(model: DenoisingAutoencoder, piece: np.ndarray, multiple: int, mode: str) -> np.ndarray:
    """The model on a (C, h, w) piece, padded on the bottom and right to a multiple of `multiple`, cropped back."""
    device = next(model.parameters()).device
    x = torch.from_numpy(np.ascontiguousarray(piece))[None].to(device)
    h, w = piece.shape[1:]
    pad_h, pad_w = -h % multiple, -w % multiple
    if pad_h or pad_w:
        pad_mode = mode if mode != "reflect" or (pad_h < h and pad_w < w) else "replicate"
        x = F.pad(x, (0, pad_w, 0, pad_h), mode=pad_mode)
    return model(x)[0, :, :h, :w].float().cpu().numpy()


def _layout(model: DenoisingAutoencoder, H: int, W: int, tile: int, overlap: int) -> tuple:
    """(tile height, tile width, pad multiple, pad mode, overlap, tile rows, tile columns) for an H x W plane;
    no rows and columns when it goes through in one piece."""
    stride = model.stride
    if stride is None:  # one fixed input size: tiles of exactly that size, padded up where the image is smaller
        th, tw = model.config["shape"][1:]
        multiple, mode, overlap = max(th, tw), "replicate", min(th, tw) // 2
    else:
        th = tw = max(stride, tile - tile % stride)
        multiple, mode, overlap = stride, "reflect", min(overlap, th // 4)  # small tiles still move by 3/4 of a tile
        if max(H / th, W / tw) <= 1:
            return th, tw, multiple, mode, overlap, [], []
    return th, tw, multiple, mode, overlap, _starts(H, th, max(1, th - overlap)), _starts(W, tw, max(1, tw - overlap))


def _denoise_planes(model: DenoisingAutoencoder, planes: np.ndarray, tile: int, overlap: int) -> np.ndarray:
    """(C, H, W) in, (C, H, W) out, through tiles blended by their edge-falling weights."""
    _, H, W = planes.shape
    th, tw, multiple, mode, overlap, rows, columns = _layout(model, H, W, tile, overlap)
    if not rows:
        return _run(model, planes, multiple, mode)
    fixed = model.stride is None
    out = np.zeros(planes.shape, dtype=np.float32)
    weight = np.zeros((H, W), dtype=np.float32)
    for y in rows:
        for x in columns:
            piece = planes[:, y : y + th, x : x + tw]
            if fixed and piece.shape[1:] != (th, tw):
                piece = np.pad(piece, ((0, 0), (0, th - piece.shape[1]), (0, tw - piece.shape[2])), mode="edge")
            result = _run(model, piece, 1 if fixed else multiple, mode)[:, : min(th, H - y), : min(tw, W - x)]
            w = np.outer(_ramp(result.shape[1], overlap), _ramp(result.shape[2], overlap))
            out[:, y : y + result.shape[1], x : x + result.shape[2]] += result * w
            weight[y : y + result.shape[1], x : x + result.shape[2]] += w
    return out / weight


def model_passes(
    model: DenoisingAutoencoder,
    shape: tuple,
    tile: int = 512,
    overlap: int = 32,
    colour: str = "channels",
    ensemble: int = 1,
) -> int:
    """How many times `denoise_image` with these arguments calls the model on an image of `shape` (for progress)."""
    H, W = shape[:2]
    channels = shape[2] - (shape[2] in (2, 4)) if len(shape) == 3 else 1
    planes = (3 if colour == "luma_chroma" and channels == 3 else channels) if model.config["shape"][0] == 1 else 1
    sides = [(H, W), (W, H)] * 4 if ensemble == 8 else [(H, W)]
    tiles = sum(max(1, len(r) * len(c)) for r, c in (_layout(model, h, w, tile, overlap)[5:] for h, w in sides))
    return planes * tiles


ENSEMBLES = (1, 8)


def _ensembled(model: DenoisingAutoencoder, planes: np.ndarray, tile: int, overlap: int, ensemble: int) -> np.ndarray:
    """(C, H, W) through the model once, or averaged over the 8 flips and 90-degree rotations of the planes: each
    output is turned back before it is added, in a fixed order, so the result is deterministic."""
    if ensemble == 1:
        return _denoise_planes(model, planes, tile, overlap)
    out = np.zeros(planes.shape, dtype=np.float32)
    for turns in range(4):
        for flip in (False, True):
            view = np.rot90(planes, turns, axes=(1, 2))
            view = view[:, :, ::-1] if flip else view
            # A copy, not np.ascontiguousarray: that keeps a flipped axis of length 1 as a negative-stride view,
            # which torch.from_numpy refuses.
            result = _denoise_planes(model, view.copy(), tile, overlap)
            result = result[:, :, ::-1] if flip else result
            out += np.rot90(result, -turns, axes=(1, 2))
    return out / np.float32(ensemble)


COLOUR_MODES = ("channels", "luma_chroma")
# Luminance and two chroma rows, orthogonal, each offset into [0, 1] (a grey model's range). Their noise is 0.58,
# 0.71 and 0.61 times the R, G, B noise: a model that estimates its input's noise level takes that in its stride.
OPPONENT = np.array([[1 / 3, 1 / 3, 1 / 3], [1 / 2, 0, -1 / 2], [1 / 4, -1 / 2, 1 / 4]], dtype=np.float32)
OFFSET = np.array([0, 0.5, 0.5], dtype=np.float32)
BACK = np.linalg.inv(OPPONENT.astype(np.float64)).astype(np.float32)


def _luma_chroma(model: DenoisingAutoencoder, rgb: np.ndarray, tile: int, overlap: int, ensemble: int) -> np.ndarray:
    """R, G, B planes (3, H, W) denoised by a grey model as luminance and chroma, one plane in memory at a time."""
    out = np.zeros_like(rgb)
    for i, row in enumerate(OPPONENT):
        plane = row[0] * rgb[0] + row[1] * rgb[1] + row[2] * rgb[2] + OFFSET[i]
        plane = _ensembled(model, plane[None], tile, overlap, ensemble)[0] - OFFSET[i]
        for c in range(3):
            out[c] += BACK[c, i] * plane
    return out


# Unclipped noise takes an image outside [0, 1]: by 8 std (one pixel in about 10^15) at σ 255, the most
# natural.sigmas allows. Values beyond these are an image on another scale (0-255), which would come back white.
SCALE_BOUNDS = (-8.0, 9.0)


def _check_image(image: np.ndarray) -> None:
    """Refuse in one line what would come back as a valid-looking but wrong image."""
    if not isinstance(image, np.ndarray):
        raise DaeError(f"denoise_image: expected a numpy array, got {type(image).__name__}")
    if image.ndim not in (2, 3) or min(image.shape) < 1:
        raise DaeError(f"denoise_image: expected an HxW or HxWxC array, got shape {image.shape}")
    if image.dtype.kind != "f":  # uint8 0-255 would be read as far above 1 and come back as white
        raise DaeError(f"denoise_image: expected floats in [0, 1], got {image.dtype} (divide 8-bit images by 255)")
    low, high = float(image.min()), float(image.max())  # NaN and inf carry through min and max: no mask needed
    if not (np.isfinite(low) and np.isfinite(high)):
        raise DaeError("denoise_image: the image holds NaN or infinite values; one would spread over its whole tile")
    if low < SCALE_BOUNDS[0] or high > SCALE_BOUNDS[1]:
        raise DaeError(
            f"denoise_image: values run from {low:g} to {high:g}; expected floats on the [0, 1] scale (divide 8-bit "
            "images by 255, 16-bit by 65535)"
        )


def _check_sigma(sigma: object) -> None:
    """A noise level no model uses is still refused when it is not one: a typo should not pass silently. No upper
    bound: an estimate on a dithered image reads above 255, and the models ignore it anyway."""
    number = isinstance(sigma, Real) and not isinstance(sigma, bool)  # numpy's scalars are Real too
    if sigma is not None and not (number and 0 <= sigma < np.inf):
        raise DaeError(f"denoise_image: sigma = {sigma!r} is not allowed; expected None or a noise std >= 0 (on 0-255)")


def denoise_image(
    model: DenoisingAutoencoder,
    image: np.ndarray,
    sigma: float | None = None,
    tile: int = 512,
    overlap: int = 32,
    colour: str = "channels",
    ensemble: int = 1,
) -> np.ndarray:
    """A denoised copy of `image` (floats in [0, 1], HxW or HxWxC, any size), of the same shape and in [0, 1].

    A grey model on colour input denoises each colour channel on its own (`colour="channels"`), or, on RGB,
    `colour="luma_chroma"`: one luminance and two chroma planes (an orthogonal transform, so noise independent across
    R, G, B stays independent across them), denoised in turn and transformed back. A colour model needs the same
    number of channels. An alpha channel (grey+alpha, RGBA) is passed through untouched. Fully convolutional models
    run on tiles of `tile` pixels a side (overlapping by `overlap`) above that size, so memory stays bounded. `sigma`
    (on the 0-255 scale) is for models that take a noise level; this project's models are blind to it and ignore it
    (one with `noise_map: estimate` estimates the level from each tile itself). `ensemble=8` returns the mean of the
    model's outputs over the image's 8 flips and 90-degree rotations: a little sharper and cleaner (about +0.1 dB on
    held-out natural images), 8 times slower; on top of one pass it holds a sum and a turned copy of the plane.
    """
    _check_sigma(sigma)  # then unused: accepted so that callers need not know which models take a noise level
    if colour not in COLOUR_MODES:
        raise DaeError(f"denoise_image: colour = {colour!r} is not allowed; expected one of {', '.join(COLOUR_MODES)}")
    if ensemble not in ENSEMBLES:
        raise DaeError(f"denoise_image: ensemble = {ensemble!r} is not allowed; expected 1 (off) or 8 (flips, turns)")
    if not isinstance(tile, (int, np.integer)) or isinstance(tile, bool) or tile < 1:
        raise DaeError(f"denoise_image: tile = {tile!r} is not allowed; expected a whole number of pixels >= 1")
    if not isinstance(overlap, (int, np.integer)) or overlap < 0:
        raise DaeError(f"denoise_image: overlap = {overlap!r} is not allowed; expected a whole number of pixels >= 0")
    _check_image(image)
    hwc = image[..., None] if image.ndim == 2 else image
    alpha = hwc.shape[2] in (2, 4)
    pixels = hwc[..., :-1] if alpha else hwc
    wanted = model.config["shape"][0]
    planes = np.moveaxis(pixels, 2, 0).astype(np.float32, copy=False)
    if wanted == 1 and colour == "luma_chroma" and planes.shape[0] == 3:
        out = _luma_chroma(model, planes, tile, overlap, ensemble)
    elif wanted == 1:
        out = np.concatenate([_ensembled(model, p[None], tile, overlap, ensemble) for p in planes])
    elif wanted == planes.shape[0]:
        out = _ensembled(model, planes, tile, overlap, ensemble)
    else:
        raise DaeError(f"denoise_image: a {wanted}-channel model cannot denoise a {planes.shape[0]}-channel image")
    out = np.clip(np.moveaxis(out, 0, 2), 0.0, 1.0)
    if alpha:
        out = np.concatenate([out, hwc[..., -1:]], axis=2)
    return out.reshape(image.shape).astype(np.float32, copy=False)
