"""Image files in and out: PNG, JPEG and TIFF, grey or colour, 8 or 16 bit, as float arrays in [0, 1].

`image_folder` is the dataset of natural-image denoising: any folder of such files (Train400 and Set12 are two).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from dae.errors import DaeError

SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
# Pillow's modes this project reads: mode -> (channels, bits). Palette and 1-bit images are converted to L/RGB(A).
MODES = {"L": (1, 8), "LA": (2, 8), "RGB": (3, 8), "RGBA": (4, 8), "I;16": (1, 16), "I;16B": (1, 16), "I": (1, 16)}


def list_images(folder: str | Path) -> list[Path]:
    """The image files of a folder (not its subfolders), sorted by name: the order every split and table uses."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DaeError(f"{folder}: image folder not found")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise DaeError(f"{folder}: no image files (allowed: {', '.join(SUFFIXES)})")
    return files


def read_image(path: str | Path) -> tuple[np.ndarray, int]:
    """(float32 array in [0, 1], HxW for grey or HxWxC for colour, bits per sample 8 or 16) of one image file."""
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode not in MODES:
                im = im.convert("RGBA" if "A" in im.getbands() or "transparency" in im.info else "RGB")
                im, mode = (im.convert("L"), "L") if _is_grey(im) else (im, im.mode)
            array = np.asarray(im)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DaeError(f"{path}: not a readable image ({exc.__class__.__name__}: {exc})") from None
    bits = MODES[mode][1]
    if mode == "I" and (array.max(initial=0) > 65535 or array.min(initial=0) < 0):
        raise DaeError(f"{path}: 32-bit integer samples outside 0..65535; allowed: 8 or 16 bit images")
    return (array.astype(np.float32) / (2**bits - 1)), bits


def _is_grey(im: Image.Image) -> bool:
    """A palette or 1-bit image whose colours are all grey: read as grey, not as three equal channels."""
    if im.mode != "RGB":
        return False
    a = np.asarray(im)
    return bool((a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all())


def to_grey(image: np.ndarray) -> np.ndarray:
    """HxW luminance (ITU-R BT.601, as Pillow's "L") of an HxW or HxWxC image; alpha is dropped."""
    if image.ndim == 2:
        return image
    if image.shape[2] in (1, 2):
        return image[..., 0]
    return image[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def image_folder(folder: str | Path, grey: bool = True) -> dict[str, np.ndarray]:
    """Every image of a folder by file name, float32 in [0, 1]; as HxW luminance when `grey`."""
    images = {}
    for path in list_images(folder):
        image, _ = read_image(path)
        images[path.name] = to_grey(image) if grey else image
    return images


def quantise(image: np.ndarray, bits: int = 8) -> np.ndarray:
    """[0, 1] floats clamped and rounded to integer levels (uint8 or uint16), as an image file stores them."""
    top = 2**bits - 1
    return np.rint(np.clip(image, 0.0, 1.0) * top).astype(np.uint8 if bits == 8 else np.uint16)
