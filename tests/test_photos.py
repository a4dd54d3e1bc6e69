"""`dae.photos` on the files a user's camera, scanner or editor writes: read whole, written back the same, or refused
in one line where writing back would give a wrong picture."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import png
import pytest
import tifffile
from PIL import Image

from dae.errors import DaeError
from dae.photos import read_photo, write_photo

RNG = np.random.default_rng(0)
WIDE = RNG.integers(0, 65536, (12, 10, 3), dtype=np.uint16)


def _apng(path: Path) -> None:
    frames = [Image.fromarray(RNG.integers(0, 256, (8, 8), dtype=np.uint8)) for _ in range(3)]
    frames[0].save(path, save_all=True, append_images=frames[1:])


REFUSED = {
    "pages.tif": (lambda p: tifffile.imwrite(p, WIDE[..., :2].transpose(2, 0, 1)), "2 images in one file"),
    "frames.png": (_apng, "3 images in one file"),
    "white16.tif": (lambda p: tifffile.imwrite(p, WIDE[..., 0], photometric="miniswhite"), "white-is-zero grey TIFF"),
    "white16la.tif": (
        lambda p: tifffile.imwrite(p, WIDE[..., :2], photometric="miniswhite", extrasamples=["unassalpha"]),
        "16-bit TIFF of 2 MINISWHITE samples",
    ),
    "cmyk16.tif": (
        lambda p: tifffile.imwrite(p, np.dstack([WIDE, WIDE[..., :1]]), photometric="separated"),
        "16-bit TIFF of 4 SEPARATED samples",
    ),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_files_that_would_be_written_back_wrong_are_refused_in_one_line(tmp_path: Path, name: str) -> None:
    """Once each of these came back with exit 0: only the first page or frame, a negative, CMY as RGB and K as
    alpha."""
    make, message = REFUSED[name]
    make(tmp_path / name)
    with pytest.raises(DaeError) as caught:
        read_photo(tmp_path / name)
    text = str(caught.value)
    assert text.startswith(f"{tmp_path / name}: ") and message in text and "allowed:" in text and "\n" not in text


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("planar.tif", {"planarconfig": "separate"}), ("lzw.tif", {"compression": "lzw"})],
)
def test_16_bit_rgb_tiffs_by_plane_or_lzw_are_read_whole_and_written_back(tmp_path: Path, name: str, kwargs: dict):
    """LZW is what editors use for 16-bit TIFFs (read through imagecodecs); separate planes are TIFF's other layout."""
    by_plane = kwargs.get("planarconfig") == "separate"  # then tifffile takes the planes first
    tifffile.imwrite(tmp_path / name, WIDE.transpose(2, 0, 1) if by_plane else WIDE, photometric="rgb", **kwargs)
    photo = read_photo(tmp_path / name)
    assert photo.mode == "RGB;16" and np.array_equal(np.round(photo.pixels * 65535).astype(np.uint16), WIDE)
    write_photo(photo, photo.pixels, tmp_path / "out.tif")
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert np.array_equal(tif.pages[0].asarray(), WIDE)
        assert tif.pages[0].compression.name == ("LZW" if "compression" in kwargs else "NONE")


@pytest.mark.parametrize(("greyscale", "key"), [(True, 1000), (False, (1000, 2000, 3000))], ids=["grey", "RGB"])
def test_a_16_bit_png_transparent_colour_becomes_alpha(tmp_path: Path, greyscale: bool, key) -> None:
    """As the docs say of a transparent colour (tRNS): written with alpha, transparent where the input was."""
    planes = 1 if greyscale else 3
    samples = RNG.integers(5000, 65536, (6, 7, planes), dtype=np.uint16)
    samples[2, 3] = key
    with open(tmp_path / "key.png", "wb") as f:
        png.Writer(7, 6, greyscale=greyscale, bitdepth=16, transparent=key).write(f, samples.reshape(6, 7 * planes))
    photo = read_photo(tmp_path / "key.png")
    assert photo.mode == ("LA;16" if greyscale else "RGBA;16") and photo.bits == 16
    alpha = photo.pixels[..., -1]
    assert alpha[2, 3] == 0 and (alpha == 0).sum() == 1 and (alpha[alpha > 0] == 1).all()
    write_photo(photo, photo.pixels, tmp_path / "out.png")
    width, height, rows, info = png.Reader(filename=str(tmp_path / "out.png")).read()
    assert info["alpha"] and info["bitdepth"] == 16
    written = np.vstack(list(rows)).reshape(6, 7, planes + 1)
    assert np.array_equal(written[..., :planes], samples) and written[2, 3, -1] == 0


@pytest.mark.parametrize(("greyscale", "bits"), [(True, 8), (False, 8), (True, 16)], ids=["grey", "RGB", "grey 16"])
def test_a_png_keeps_its_gamma_and_chromaticities(tmp_path: Path, greyscale: bool, bits: int) -> None:
    """Pillow reads these files and writes them back without the chunks that say how to show their colours."""
    samples = RNG.integers(0, 2**bits, (6, 7 * (1 if greyscale else 3))).astype(np.uint16 if bits == 16 else np.uint8)
    with open(tmp_path / "in.png", "wb") as f:
        png.Writer(7, 6, greyscale=greyscale, bitdepth=bits, gamma=0.45455).write(f, samples)
    chromaticities = (b"cHRM", struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000))
    chunks = list(png.Reader(filename=str(tmp_path / "in.png")).chunks())
    with open(tmp_path / "in.png", "wb") as f:  # pypng writes no cHRM of its own: one goes after the header
        png.write_chunks(f, [chunks[0], chromaticities, *chunks[1:]])
    photo = read_photo(tmp_path / "in.png")
    write_photo(photo, photo.pixels, tmp_path / "out.png")
    kept = (b"gAMA", b"cHRM")
    colour = [
        [(kind, data) for kind, data in png.Reader(filename=str(tmp_path / name)).chunks() if kind in kept]
        for name in ("in.png", "out.png")
    ]
    assert len(colour[0]) == 2 and colour[1] == colour[0]


@pytest.mark.parametrize("wide", [False, True], ids=["8-bit RGB", "16-bit grey + alpha"])
def test_a_tiff_with_a_thumbnail_page_is_one_image(tmp_path: Path, wide: bool) -> None:
    """Scanners and cameras add a reduced-resolution preview page (NewSubfileType 1): not a second image."""
    image = WIDE[..., :2] if wide else (WIDE // 257).astype(np.uint8)
    kind = {"photometric": "minisblack", "extrasamples": ["unassalpha"]} if wide else {"photometric": "rgb"}
    with tifffile.TiffWriter(tmp_path / "thumb.tif") as tif:
        tif.write(image, **kind)
        tif.write(image[::4, ::4], subfiletype=1, **kind)
    photo = read_photo(tmp_path / "thumb.tif")
    assert photo.pixels.shape == image.shape and photo.mode == ("LA;16" if wide else "RGB")


def test_a_missing_file_or_a_broken_link_is_said_plainly(tmp_path: Path) -> None:
    """Not as 'not a readable image (FileNotFoundError ...)', which sends a user looking at the file's format."""
    with pytest.raises(DaeError) as missing:
        read_photo(tmp_path / "nosuch.png")
    (tmp_path / "link.png").symlink_to(tmp_path / "gone.png")
    with pytest.raises(DaeError) as broken:
        read_photo(tmp_path / "link.png")
    assert (str(missing.value), str(broken.value)) == (
        f"{tmp_path / 'nosuch.png'}: no such file",
        f"{tmp_path / 'link.png'}: a broken link",
    )
