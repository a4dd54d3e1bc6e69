"""Users' photo files in and out with everything but the pixels kept: mode, bit depth, alpha, EXIF, ICC profile.

`dae-denoise` must write a file that differs from its input in nothing but the denoised pixels; `dae.images` reads
datasets' files through this module too (their pixels only), so a dataset and a user's photo are read alike. Pillow
does most of it. It reads 16-bit colour as 8 bit without a word, so those files go through pypng (PNG) or tifffile
(TIFF), found from the file's own header.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, JpegImagePlugin, UnidentifiedImageError

from dae.errors import DaeError
from dae.io import atomic_path

FORMATS = ("PNG", "JPEG", "TIFF")
# Pillow modes kept as they are: mode -> bits per sample. Palette and 1-bit files are denoised in full colour / grey
# (a denoised image has more levels than a palette holds) and written as RGB(A) / L.
MODES = {"L": 8, "LA": 8, "RGB": 8, "RGBA": 8, "I;16": 16, "I;16B": 16, "I": 16}
ALLOWED = "grey, grey+alpha, RGB or RGBA, 8 or 16 bit, PNG, JPEG or TIFF"
# How 16-bit files with more than one sample per pixel are written (pypng or tifffile): samples -> mode.
MODES_16 = {2: "LA;16", 3: "RGB;16", 4: "RGBA;16"}
_ERRORS = (
    UnidentifiedImageError,
    OSError,
    ValueError,
    SyntaxError,
    struct.error,
    EOFError,
    Image.DecompressionBombError,
)
_ORIENTATION = 0x0112  # the EXIF tag that says how to turn the image for display


@dataclass
class Photo:
    """One file's pixels (float32 in [0, 1], HxW or HxWxC with alpha last) and what writing it back needs."""

    pixels: np.ndarray
    bits: int
    format: str
    mode: str  # how it is written: a Pillow mode, or "RGB;16" / "RGBA;16" / "LA;16" for 16-bit colour
    info: dict[str, Any] = field(default_factory=dict)  # exif, icc_profile, dpi; JPEG: its quantisation tables

    @property
    def channels(self) -> int:
        return 1 if self.pixels.ndim == 2 else self.pixels.shape[2]


def _png_depth(path: Path) -> tuple[int, int]:
    """(bit depth, PNG colour type) from the IHDR chunk, which the PNG standard puts first."""
    with open(path, "rb") as f:
        head = f.read(26)
    return head[24], head[25]


def _read_16bit_colour(path: Path, fmt: str) -> tuple[np.ndarray, dict[str, Any]] | None:
    """The uint16 HxWxC samples of a 16-bit colour PNG or TIFF and what writing them back needs besides Pillow's
    info (None for any other file: Pillow reads those)."""
    if fmt == "PNG":
        return _read_16bit_png(path)
    if fmt == "TIFF":
        import tifffile

        with tifffile.TiffFile(path) as tif:
            _check_pages(path, tif)
            page = tif.pages[0]
            if page.bitspersample != 16 or page.samplesperpixel == 1:
                return None
            return _tiff_page(path, page)
    return None


def _read_16bit_png(path: Path) -> tuple[np.ndarray, dict[str, Any]] | None:
    """A 16-bit PNG that Pillow would cut to 8 bit (colour) or leave without its alpha (a transparent colour)."""
    depth, colour_type = _png_depth(path)
    if depth != 16 or colour_type not in (0, 2, 4, 6):
        return None
    import png

    try:  # read(), not asDirect(): that one scales samples down to the sBIT chunk's significant bits
        width, height, rows, info = png.Reader(filename=str(path)).read()
        key = info.get("transparent")
        if colour_type == 0 and key is None:  # plain 16-bit grey: Pillow reads it whole (I;16)
            return None
        samples = np.vstack(list(rows)).astype(np.uint16).reshape(height, width, info["planes"])
    except png.Error:  # a file pypng finds fault with: Pillow reads it, or says why not
        return None
    if key is not None:  # a transparent colour (tRNS) becomes an alpha channel, as in an 8-bit file
        opaque = np.any(samples != np.atleast_1d(key).astype(np.uint16), axis=2, keepdims=True)
        samples = np.concatenate([samples, opaque.astype(np.uint16) * 65535], axis=2)
    return samples, {"png_chunks": _png_chunks(path)}


def _tiff_page(path: Path, page: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """A 16-bit grey + alpha, RGB or RGBA TIFF page's samples (H x W x C, stored by pixel or by plane) and its kind
    of alpha; a DaeError for other samples (CMYK, white-is-zero: written back, they would show other colours)."""
    try:
        samples = page.asarray()
    except ValueError as exc:  # a compression that tifffile needs imagecodecs for, and imagecodecs is missing
        raise DaeError(f"{path}: {exc}; allowed: {ALLOWED}") from None
    if samples.ndim == 3 and int(page.planarconfig) == 2:  # separate planes: C x H x W
        samples = np.moveaxis(samples, 0, -1)
    photometric = {2: "RGB", 1: "grey"}.get(int(page.photometric), page.photometric.name)
    channels = samples.shape[2] if samples.ndim == 3 else 1
    if samples.dtype != np.uint16 or (photometric, channels) not in (("grey", 2), ("RGB", 3), ("RGB", 4)):
        raise DaeError(f"{path}: 16-bit TIFF of {channels} {photometric} samples; allowed: {ALLOWED}")
    return samples, _tiff_alpha(page)


def _tiff_alpha(page: Any) -> dict[str, Any]:
    """A premultiplied ("associated") alpha stays so in the output: its colour samples are written as they came."""
    return {"tiff_alpha": "assocalpha"} if tuple(page.extrasamples or ())[:1] == (1,) else {}


# Chunks of a 16-bit colour PNG copied to its output (pypng writes the pixels; these say how to show them).
_PNG_KEPT = (b"iCCP", b"sRGB", b"gAMA", b"cHRM", b"pHYs", b"eXIf")


def _png_chunks(path: Path) -> list[tuple[bytes, bytes]]:
    import png

    return [(kind, data) for kind, data in png.Reader(filename=str(path)).chunks() if kind in _PNG_KEPT]


def _png_colour_info(path: Path) -> dict[str, Any]:
    """Pillow's `pnginfo` argument with a PNG's sRGB, gamma and chromaticities, which Pillow reads but does not
    write back (its ICC profile, DPI and EXIF it does)."""
    import png
    from PIL.PngImagePlugin import PngInfo

    chunks = []
    try:
        for kind, data in png.Reader(filename=str(path)).chunks():
            if kind == b"IDAT":  # the PNG standard puts these three before the image data: read no further
                break
            if kind in (b"sRGB", b"gAMA", b"cHRM"):
                chunks.append((kind, data))
    except png.Error:  # Pillow read the pixels; chunks pypng finds fault with are not copied
        return {}
    if not chunks:
        return {}
    info = PngInfo()
    for kind, data in chunks:
        info.add(kind, data)
    return {"pnginfo": info}


def _read_16bit_tiff_pillow_cannot(path: Path) -> Photo | None:
    """A 16-bit colour TIFF that Pillow cannot open (grey + alpha, or colour stored by plane), through tifffile with
    its ICC profile, resolution, orientation and compression; None for any other file."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            if page.bitspersample != 16 or page.samplesperpixel == 1:
                return None
            _check_pages(path, tif)
            (samples, alpha), tags, compression = _tiff_page(path, page), page.tags, page.compression
    except DaeError:
        raise
    except Exception:  # not a TIFF, or not one tifffile reads: the caller reports it
        return None
    info: dict[str, Any] = {"compression": c} if (c := _TIFF_COMPRESSIONS.get(int(compression))) else {}
    info |= alpha
    if "InterColorProfile" in tags:
        info["icc_profile"] = bytes(tags["InterColorProfile"].value)
    if "XResolution" in tags and "YResolution" in tags and getattr(tags.get("ResolutionUnit"), "value", 2) == 2:
        info["dpi"] = tuple(n / d for n, d in (tags["XResolution"].value, tags["YResolution"].value))
    if "Orientation" in tags:
        info["exif"] = _orientation_exif(int(tags["Orientation"].value))
    return Photo(samples.astype(np.float32) / 65535, 16, "TIFF", MODES_16[samples.shape[2]], info)


# TIFF compression codes -> Pillow's names for them, for the ones tifffile writes (with imagecodecs: LZW).
_TIFF_COMPRESSIONS = {5: "tiff_lzw", 8: "tiff_adobe_deflate", 32946: "tiff_adobe_deflate", 32773: "packbits"}
# Pillow's names -> tifffile's, for writing 16-bit colour TIFFs; others (JPEG) are written uncompressed.
_TIFFFILE_COMPRESSIONS = {
    "tiff_adobe_deflate": "zlib",
    "tiff_deflate": "zlib",
    "tiff_lzw": "lzw",
    "packbits": "packbits",
}


def _orientation_exif(turn: int) -> Image.Exif:
    """EXIF holding only the orientation: what a TIFF carries over (its other tags describe the old pixels)."""
    exif = Image.Exif()
    exif[_ORIENTATION] = turn
    return exif


def _metadata(im: Image.Image) -> dict[str, Any]:
    info = {k: im.info[k] for k in ("exif", "icc_profile", "dpi") if im.info.get(k)}
    if im.format == "TIFF" and im.info.get("compression") not in (None, "raw"):
        info["compression"] = im.info["compression"]
    turn = im.getexif().get(_ORIENTATION) if im.format == "TIFF" else None
    if turn:  # a TIFF's EXIF tags are its own tags, which Pillow leaves out of im.info: keep its turn
        info["exif"] = _orientation_exif(turn)
    if im.format in ("JPEG", "MPO"):  # re-encoded with the input's own quantisation, so the quality stays what it was
        info |= {"qtables": im.quantization, "subsampling": JpegImagePlugin.get_sampling(im)}
    return info


def _check_pages(path: Path, tif: Any) -> None:
    """Refuse a TIFF of more than one image; its reduced-resolution previews (a thumbnail page that scanners and
    cameras add) do not count."""
    pages = sum(1 for page in tif.pages if not int(page.subfiletype) & 1)
    if pages > 1:
        raise DaeError(f"{path}: {pages} images in one file (pages or frames); allowed: one image per file, {ALLOWED}")


def _check_one_image(path: Path, im: Image.Image) -> None:
    """Refuse what would be written back wrong: frames past the first (dropped; a TIFF's pages are counted where
    tifffile opens it), and 16-bit white-is-zero grey (Pillow inverts 8-bit ones as it reads them, but not these,
    which would come back as their negative)."""
    frames = getattr(im, "n_frames", 1)
    if frames > 1 and im.format not in ("MPO", "TIFF"):
        raise DaeError(f"{path}: {frames} images in one file (pages or frames); allowed: one image per file, {ALLOWED}")
    if im.format == "TIFF" and im.mode.startswith("I") and im.tag_v2.get(262) == 0:
        raise DaeError(f"{path}: {im.mode} white-is-zero grey TIFF; allowed: {ALLOWED}, black as zero")


def read_photo(path: str | Path) -> Photo:
    """Read one PNG, JPEG or TIFF file; a DaeError naming the file for anything unreadable or unsupported."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            # MPO: how Pillow names a phone's JPEG that carries more images (depth, gain maps); the first is the photo
            fmt, mode, info = "JPEG" if im.format == "MPO" else im.format, im.mode, _metadata(im)
            if fmt not in FORMATS:
                raise DaeError(f"{path}: {fmt} file; allowed: {ALLOWED}")
            _check_one_image(path, im)
            found = _read_16bit_colour(path, fmt)
            if found is not None:
                wide, extra = found
                return Photo(wide.astype(np.float32) / 65535, 16, fmt, MODES_16[wide.shape[2]], info | extra)
            im.load()
            info |= _png_colour_info(path) if fmt == "PNG" else {}
            if mode in ("P", "PA", "1") or (mode in ("L", "RGB") and "transparency" in im.info):
                if mode == "1":  # a 1-bit TIFF's fax compression (group 3, 4) cannot hold the grey levels it gets
                    info.pop("compression", None)
                keyed = "transparency" in im.info or mode == "PA"  # a transparent colour becomes an alpha channel
                im = im.convert("L" if mode == "1" else ("LA" if mode == "L" else "RGBA") if keyed else "RGB")
                mode = im.mode
            if mode not in MODES:
                raise DaeError(f"{path}: image mode {mode}; allowed: {ALLOWED}")
            samples = np.asarray(im)
    except FileNotFoundError:  # said plainly, not as an unreadable image (the error is an OSError, below)
        raise DaeError(f"{path}: {'a broken link' if path.is_symlink() else 'no such file'}") from None
    except _ERRORS as exc:
        photo = _read_16bit_tiff_pillow_cannot(path) if isinstance(exc, UnidentifiedImageError) else None
        if photo is not None:
            return photo
        raise DaeError(f"{path}: not a readable image ({exc.__class__.__name__}: {exc}); allowed: {ALLOWED}") from None
    if mode == "I" and (samples.max(initial=0) > 65535 or samples.min(initial=0) < 0):
        raise DaeError(f"{path}: integer samples outside 0..65535 (signed, or 32-bit); allowed: {ALLOWED}")
    bits = MODES[mode]
    return Photo(samples.astype(np.float32) / (2**bits - 1), bits, fmt, mode, info)


def quantise(image: np.ndarray, bits: int = 8) -> np.ndarray:
    """[0, 1] floats clamped and rounded to integer levels (uint8 or uint16), as an image file stores them."""
    top = 2**bits - 1
    return np.rint(np.clip(image, 0.0, 1.0) * top).astype(np.uint8 if bits == 8 else np.uint16)


def _save_16bit_colour(photo: Photo, samples: np.ndarray, tmp: Path) -> None:
    if photo.format == "PNG":
        import png

        h, w, c = samples.shape
        pixels = io.BytesIO()
        png.Writer(w, h, greyscale=c == 2, alpha=c in (2, 4), bitdepth=16).write(pixels, samples.reshape(h, w * c))
        chunks = list(png.Reader(bytes=pixels.getvalue()).chunks())
        with open(tmp, "wb") as f:  # the input's colour and size chunks go right after the header, as PNG wants
            png.write_chunks(f, [chunks[0], *photo.info.get("png_chunks", []), *chunks[1:]])
        return
    import tifffile

    extras = {"extrasamples": [photo.info.get("tiff_alpha", "unassalpha")]} if samples.shape[2] in (2, 4) else {}
    if photo.info.get("tiff_alpha") == "assocalpha":  # premultiplied colour cannot exceed its alpha
        samples = np.concatenate([np.minimum(samples[..., :-1], samples[..., -1:]), samples[..., -1:]], axis=2)
    photometric = "minisblack" if samples.shape[2] == 2 else "rgb"
    icc = photo.info.get("icc_profile")
    tifffile.imwrite(tmp, samples, photometric=photometric, iccprofile=icc, **extras, **_tiff_tags(photo.info))


def _tiff_tags(info: dict[str, Any]) -> dict[str, Any]:
    """tifffile's arguments for what Pillow read from a TIFF: its resolution, orientation and compression (deflate,
    LZW or PackBits; a lossy one such as JPEG is not kept, and those files are written uncompressed)."""
    kwargs: dict[str, Any] = {}
    if info.get("dpi"):
        kwargs |= {"resolution": tuple(info["dpi"]), "resolutionunit": "INCH"}
    if info.get("compression") in _TIFFFILE_COMPRESSIONS:
        kwargs["compression"] = _TIFFFILE_COMPRESSIONS[info["compression"]]
    exif = info.get("exif")
    if isinstance(exif, Image.Exif) and exif.get(_ORIENTATION):
        kwargs["extratags"] = [(_ORIENTATION, "H", 1, exif[_ORIENTATION], True)]
    return kwargs


def write_photo(photo: Photo, pixels: np.ndarray, path: str | Path) -> None:
    """Write `pixels` (the shape of `photo.pixels`, in [0, 1]) to `path` in `photo`'s format, mode, bit depth and
    metadata; atomically, so a crash or Ctrl-C leaves no half-written file."""
    samples = quantise(pixels, photo.bits)
    with atomic_path(path) as tmp:
        if photo.mode.endswith(";16") and photo.mode != "I;16":
            _save_16bit_colour(photo, samples, tmp)
            return
        Image.fromarray(samples).save(tmp, format=photo.format, **photo.info)
