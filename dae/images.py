"""Image files in and out: PNG, JPEG and TIFF, grey or colour, 8 or 16 bit, as float arrays in [0, 1].

`image_folder` is the dataset of natural-image denoising: any folder of such files (Train400 and Set12 are two).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dae.errors import DaeError
from dae.photos import quantise, read_photo

__all__ = ["SUFFIXES", "image_folder", "list_images", "quantise", "read_image", "to_grey"]
SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


def list_images(folder: str | Path) -> list[Path]:
    """The image files of a folder (not its subfolders, nor hidden files such as macOS's `._name.png`), sorted by
    name: the order every split and table uses."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DaeError(f"{folder}: {'is a file; expected' if folder.exists() else 'no such'} image folder")
    names = (p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and not p.name.startswith("."))
    files = sorted(p for p in names if not p.is_dir())
    for path in files:
        if not path.is_file():
            raise DaeError(f"{path}: {'a broken link' if path.is_symlink() else 'not a file'}; allowed: image files")
        try:
            path.name.encode()  # the name is a key of the dataset file and of its tables
        except UnicodeEncodeError:
            raise DaeError(f"{folder}: {path.name!r} is not a UTF-8 file name; rename it") from None
    if not files:
        raise DaeError(f"{folder}: no image files (allowed: {', '.join(SUFFIXES)})")
    return files


def read_image(path: str | Path) -> tuple[np.ndarray, int]:
    """(float32 array in [0, 1], HxW for grey or HxWxC for colour, bits per sample 8 or 16) of one image file, read
    as `dae-denoise` reads it (`dae.photos.read_photo`: 16-bit colour whole, a multi-page file or a CMYK one refused
    in one line), so a dataset and a user's photo are the same pixels."""
    photo = read_photo(path)
    pixels = photo.pixels
    # A palette of greys only: its one grey channel, not three equal ones (whose luminance can be one float32 step
    # off the grey itself).
    three = pixels.ndim == 3 and pixels.shape[2] == 3
    if three and _from_palette(path) and (pixels == pixels[..., :1]).all():
        pixels = np.ascontiguousarray(pixels[..., 0])
    return pixels, photo.bits


def _from_palette(path: str | Path) -> bool:
    from PIL import Image

    with Image.open(path) as im:  # the header only
        return im.mode == "P"


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
