"""`dae-denoise` on users' files: grey, RGB, RGBA, 16 bit, JPEG with EXIF and ICC, a corrupt file among them.

One real run of `python -m dae denoise` with the shipped model over noisy copies of scikit-image's photos; each test
checks one promise of the command on what that run wrote.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
from conftest import in_terminal
from PIL import Image, ImageCms
from skimage import data

from dae.cli import DEFAULT_MODEL
from dae.photos import read_photo

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="the shipped model models/ is not in this tree")
SIGMA = 25 / 255


def _noisy(clean: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(clean + rng.normal(0, SIGMA, clean.shape), 0, 1)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1 / np.mean((a.astype(np.float64) - b) ** 2)))


def _write_inputs(folder: Path) -> dict[str, np.ndarray]:
    """Noisy files of every kind the command takes; returns name -> clean pixels in [0, 1] (colour channels)."""
    grey = data.camera()[200:296, 180:308] / 255.0
    rgb = data.astronaut()[100:196, 150:278] / 255.0
    alpha = np.tile(np.linspace(0, 255, rgb.shape[1], dtype=np.uint8), (rgb.shape[0], 1))
    q8 = lambda x: np.rint(x * 255).astype(np.uint8)  # noqa: E731
    q16 = lambda x: np.rint(x * 65535).astype(np.uint16)  # noqa: E731
    Image.fromarray(q8(_noisy(grey, 0))).save(folder / "grey.png")
    Image.fromarray(q8(_noisy(rgb, 1))).save(folder / "rgb.png")
    Image.fromarray(np.dstack([q8(_noisy(rgb, 2)), alpha])).save(folder / "rgba.png")
    Image.fromarray(q16(_noisy(grey, 3))).save(folder / "grey16.png")  # Pillow writes mode I;16 as 16-bit PNG
    tifffile.imwrite(folder / "rgb16.tif", q16(_noisy(rgb, 4)), photometric="rgb")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(q8(_noisy(rgb, 5))).save(folder / "photo.jpg", quality=95, exif=exif, icc_profile=icc)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 8)
    return {"grey.png": grey, "rgb.png": rgb, "rgba.png": rgb, "grey16.png": grey, "rgb16.tif": rgb, "photo.jpg": rgb}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict, subprocess.CompletedProcess]:
    folder = tmp_path_factory.mktemp("denoise")
    inputs, out = folder / "in", folder / "out"
    inputs.mkdir()
    clean = _write_inputs(inputs)
    files = [inputs / n for n in ("grey.png", "broken.png", "rgb.png", "rgba.png", "grey16.png", "rgb16.tif")]
    files.append(inputs / "photo.jpg")
    cmd = [sys.executable, "-m", "dae", "denoise", *map(str, files), "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return inputs, out, clean, proc


def test_a_corrupt_file_gets_one_line_and_the_others_are_done(run: tuple) -> None:
    inputs, out, clean, proc = run
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "broken.png" in line]
    assert len(lines) == 1 and "not a readable image" in lines[0], proc.stderr
    assert not (out / "broken.png").exists()
    assert sorted(p.name for p in out.iterdir()) == sorted(clean), "every good file is written, and only those"
    assert "6 of 7 files denoised" in proc.stderr


@pytest.mark.parametrize(
    ("name", "mode", "bits"),
    [("grey.png", "L", 8), ("rgb.png", "RGB", 8), ("rgba.png", "RGBA", 8), ("grey16.png", "I;16", 16),
     ("rgb16.tif", "RGB;16", 16), ("photo.jpg", "RGB", 8)],
)  # fmt: skip
def test_outputs_keep_size_mode_and_bit_depth_and_gain_psnr(run: tuple, name: str, mode: str, bits: int) -> None:
    inputs, out, clean, _ = run
    before, after = read_photo(inputs / name), read_photo(out / name)
    assert (after.format, after.mode, after.bits) == (before.format, mode, bits)
    assert after.pixels.shape == before.pixels.shape
    colour = slice(0, 3) if after.channels == 4 else slice(None)
    noisy_db = _psnr(before.pixels[..., colour], clean[name])
    denoised_db = _psnr(after.pixels[..., colour], clean[name])
    # sigma 25 on 96x128 crops: the shipped model gains about 6 dB; 3 dB leaves room for any platform's rounding.
    assert denoised_db > noisy_db + 3.0, f"{name}: {noisy_db:.2f} dB noisy -> {denoised_db:.2f} dB denoised"


def test_16_bit_outputs_use_the_full_depth(run: tuple) -> None:
    _, out, _, _ = run
    with Image.open(out / "grey16.png") as im:
        samples = np.asarray(im)
    assert samples.max() > 255 and len(np.unique(samples)) > 256, "16-bit output reduced to 8-bit levels"
    with tifffile.TiffFile(out / "rgb16.tif") as tif:
        assert tif.pages[0].bitspersample == 16 and tif.pages[0].asarray().dtype == np.uint16


def test_alpha_is_kept_exactly(run: tuple) -> None:
    inputs, out, _, _ = run
    with Image.open(inputs / "rgba.png") as a, Image.open(out / "rgba.png") as b:
        assert np.array_equal(np.asarray(a)[..., 3], np.asarray(b)[..., 3])


def test_jpeg_keeps_exif_orientation_and_icc_profile(run: tuple) -> None:
    inputs, out, _, _ = run
    with Image.open(inputs / "photo.jpg") as a, Image.open(out / "photo.jpg") as b:
        assert b.getexif().get(0x0112) == 6
        assert b.info.get("icc_profile") == a.info["icc_profile"]
        assert b.quantization == a.quantization, "re-encoded at another quality"


def test_an_existing_output_is_refused_unless_overwrite(run: tuple, tmp_path: Path) -> None:
    inputs, out, _, _ = run
    dest = tmp_path / "grey.png"
    dest.write_bytes(b"precious")
    cmd = [sys.executable, "-m", "dae", "denoise", str(inputs / "grey.png"), "-o", str(tmp_path)]
    refused = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "--overwrite" in refused.stderr
    assert "0 of 1 files denoised (nothing written)" in refused.stderr
    assert dest.read_bytes() == b"precious"
    done = subprocess.run([*cmd, "--overwrite"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert dest.read_bytes() == (out / "grey.png").read_bytes(), "same input, same model: the same bytes"


def test_a_folder_where_an_output_goes_is_one_line_even_with_overwrite(run: tuple, tmp_path: Path) -> None:
    inputs, _, _, _ = run
    (tmp_path / "grey.png" / "kept").mkdir(parents=True)
    cmd = [sys.executable, "-m", "dae", "denoise", str(inputs / "grey.png"), "-o", str(tmp_path), "--overwrite"]
    refused = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and "grey.png: is a folder where this file's output goes" in refused.stderr
    assert "Traceback" not in refused.stderr and (tmp_path / "grey.png" / "kept").is_dir()


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--sigma", "loud"], "not a number or 'auto'"), (["--sigma", "300"], "outside 0-255"),
     (["--model", "nowhere.safetensors"], "model file not found"), (["--tile", "4"], "at least 16"),
     (["--ensemble", "4"], "invalid choice: 4 (choose from 1, 8)"), (["--model", "."], "is a folder; --model takes")],
)  # fmt: skip
def test_usage_errors_exit_2_before_writing(run: tuple, tmp_path: Path, args: list[str], message: str) -> None:
    inputs = run[0]
    cmd = [sys.executable, "-m", "dae", "denoise", str(inputs / "grey.png"), "-o", str(tmp_path / "o"), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert not (tmp_path / "o").exists()


def test_a_folder_among_the_inputs_is_refused_with_a_hint(run: tuple, tmp_path: Path) -> None:
    inputs = run[0]
    cmd = [sys.executable, "-m", "dae", "denoise", str(inputs / "grey.png"), str(inputs), "-o", str(tmp_path / "o")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and f"{inputs}: is a folder; pass its files" in proc.stderr, proc.stderr
    assert not (tmp_path / "o").exists()


def test_a_digits_model_on_a_photo_is_warned_about(run: tuple, tmp_path: Path) -> None:
    from dae.models import build_model
    from dae.models.files import save_model

    inputs = run[0]
    arch = {"arch": "conv", "channels": [8, 16], "hidden": [32], "latent": 8, "activation": "relu", "dropout": 0.0}
    save_model(build_model(arch, (1, 8, 8)), tmp_path / "digits.safetensors", extra={"dataset": "digits"})
    cmd = [sys.executable, "-m", "dae", "denoise", str(inputs / "grey.png"), "-o", str(tmp_path / "o")]
    proc = subprocess.run([*cmd, "--model", str(tmp_path / "digits.safetensors")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "was trained on digits, not on photos" in proc.stderr
    shipped = subprocess.run([*cmd, "--overwrite"], capture_output=True, text=True, timeout=120)
    assert shipped.returncode == 0 and "warning" not in shipped.stderr, shipped.stderr


def test_sigma_auto_on_a_dithered_image_estimates_above_255_and_still_denoises(tmp_path: Path, capsys) -> None:
    """A one-pixel checkerboard reads as noise of std 378 (0-255): an estimate, not a user's typo, so not refused."""
    from dae.cli import main

    board = (np.indices((48, 48)).sum(0) % 2 * 255).astype(np.uint8)
    Image.fromarray(board).save(tmp_path / "board.png")
    assert main([str(tmp_path / "board.png"), "-o", str(tmp_path / "out"), "--sigma", "auto"]) == 0
    said = capsys.readouterr().err
    assert "board.png: estimated noise std" in said and float(said.split("noise std ")[1].split(";")[0]) > 255
    assert read_photo(tmp_path / "out" / "board.png").pixels.shape == (48, 48)


@pytest.mark.parametrize("shape", [(1, 1), (1, 40), (40, 1)], ids=["1x1", "one row", "one column"])
def test_sigma_auto_says_a_one_line_image_has_no_noise_level(tmp_path: Path, capsys, shape: tuple) -> None:
    """scikit-image's estimate of such an image was 0.0 for a PNG (and NaN, said as none, for a JPEG)."""
    from dae.cli import main

    Image.fromarray(np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)).save(tmp_path / "line.png")
    assert main([str(tmp_path / "line.png"), "-o", str(tmp_path / "out"), "--sigma", "auto"]) == 0
    said = capsys.readouterr().err
    assert "line.png: no noise level to estimate (a flat or tiny image)" in said and "estimated noise std" not in said


def test_sigma_auto_estimates_the_noise_level(run: tuple, tmp_path: Path) -> None:
    inputs = run[0]
    cmd = [sys.executable, "-m", "dae", "denoise", str(inputs / "rgb.png"), "-o", str(tmp_path), "--sigma", "auto"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    estimate = float(proc.stderr.split("estimated noise std ")[1].split()[0].rstrip(";"))
    assert 20 <= estimate <= 30, f"noise of std 25 estimated as {estimate}"


def test_ensemble_8_gains_over_one_pass(run: tuple, tmp_path: Path) -> None:
    inputs, out, clean, _ = run
    cmd = [sys.executable, "-m", "dae", "denoise", str(inputs / "grey.png"), "-o", str(tmp_path), "--ensemble", "8"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    one, eight = (read_photo(folder / "grey.png").pixels for folder in (out, tmp_path))
    assert _psnr(eight, clean["grey.png"]) > _psnr(one, clean["grey.png"]) + 0.03


def test_console_script_is_installed() -> None:
    exe = shutil.which("dae-denoise")
    if exe is None:
        pytest.skip("dae-denoise is not on PATH (install the project with pip install -e .)")
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "--colour {luma-chroma,channels}" in proc.stdout


def test_python_m_dae_names_its_command() -> None:
    bare = subprocess.run([sys.executable, "-m", "dae"], capture_output=True, text=True, timeout=120)
    assert bare.returncode == 2 and bare.stderr.startswith("usage: python -m dae denoise")
    helped = subprocess.run([sys.executable, "-m", "dae", "--help"], capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: python -m dae denoise")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal (pty)")
@pytest.mark.parametrize("columns", [100, 0], ids=["a terminal", "one that reports no size"])
def test_the_bar_draws_on_a_terminal(run: tuple, tmp_path: Path, columns: int) -> None:
    inputs = run[0]
    cmd = [sys.executable, "-m", "dae", "denoise", str(inputs / "grey.png"), "-o", str(tmp_path / "out")]
    shown = in_terminal(cmd, columns)
    assert "denoise: 100%|" in shown and "1/1" in shown, shown
    assert "1 of 1 files denoised" in shown


def _write_png_16bit_with_chunks(path: Path, wide: np.ndarray) -> None:
    """A 16-bit RGB PNG with an ICC profile, 300 dpi and EXIF orientation 6, as pypng alone would not write it."""
    import io
    import struct
    import zlib

    import png

    pixels = io.BytesIO()
    png.Writer(wide.shape[1], wide.shape[0], greyscale=False, bitdepth=16).write(
        pixels, wide.reshape(wide.shape[0], -1)
    )
    chunks = list(png.Reader(bytes=pixels.getvalue()).chunks())
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 6
    extra = [(b"iCCP", b"sRGB\0\0" + zlib.compress(icc)), (b"pHYs", struct.pack(">IIB", 11811, 11811, 1))]
    extra.append((b"eXIf", exif.tobytes()[6:]))  # without the JPEG-style "Exif\0\0" prefix
    with open(path, "wb") as f:
        png.write_chunks(f, [chunks[0], *extra, *chunks[1:]])


def _write_odd_inputs(folder: Path) -> None:
    """Files of kinds that once stopped the batch or came out wrong."""
    import png

    rng = np.random.default_rng(7)
    grey = (rng.random((40, 50)) * 200).astype(np.uint8)
    rgb = (rng.random((40, 50, 3)) * 200).astype(np.uint8)
    Image.fromarray(grey).save(folder / "keyed.png", transparency=5)  # grey 5 is transparent (a tRNS chunk)
    Image.fromarray(grey > 100).save(folder / "fax.tif", compression="group4")  # 1-bit, fax compression
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(rgb).save(folder / "turned.tif", exif=exif, dpi=(300, 300))
    wide = rgb.astype(np.uint16) * 257
    tags = {"resolution": (300, 300), "resolutionunit": "INCH", "compression": "zlib"}
    tags["extratags"] = [(0x0112, "H", 1, 6, True)]  # orientation 6
    tifffile.imwrite(folder / "turned16.tif", wide, photometric="rgb", **tags)
    with open(folder / "sbit.png", "wb") as f:  # 16-bit samples with 12 significant bits (an sBIT chunk)
        png.Writer(50, 40, greyscale=False, bitdepth=12).write(f, (rgb.astype(np.uint16) * 16).reshape(40, 150))
    tifffile.imwrite(folder / "la16.tif", wide[..., :2], photometric="minisblack", extrasamples=["unassalpha"], **tags)
    _write_png_16bit_with_chunks(folder / "wide.png", wide)
    Image.fromarray(rgb).save(folder / "phone.jpg", format="MPO", save_all=True, append_images=[Image.fromarray(grey)])
    Image.fromarray(grey[:1]).save(folder / "row.png")
    Image.fromarray(grey).save(folder / ("n" * 240 + ".png"))  # its temporary name is too long for the file system


def test_odd_files_are_written_right_and_one_that_fails_does_not_stop_the_batch(tmp_path: Path) -> None:
    import png

    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    _write_odd_inputs(inputs)
    cmd = [
        sys.executable,
        "-m",
        "dae",
        "denoise",
        *sorted(map(str, inputs.iterdir())),
        "-o",
        str(out),
        "--ensemble",
        "8",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "nnnn.png: failed (OSError: [Errno 36]" in proc.stderr and "9 of 10 files denoised" in proc.stderr
    keyed, source = np.asarray(Image.open(out / "keyed.png")), np.asarray(Image.open(inputs / "keyed.png"))
    assert keyed.shape == (40, 50, 2) and np.array_equal(keyed[..., 1] == 0, source == 5)
    assert Image.open(out / "fax.tif").mode == "L"
    for name in ("turned.tif", "turned16.tif", "wide.png"):  # orientation and resolution kept
        turned = Image.open(out / name)
        assert turned.getexif().get(0x0112) == 6 and np.allclose(turned.info["dpi"], 300, atol=0.01), name
    assert Image.open(out / "wide.png").info["icc_profile"] == Image.open(inputs / "wide.png").info["icc_profile"]
    with tifffile.TiffFile(out / "la16.tif") as tif:  # Pillow cannot open 16-bit grey + alpha
        page = tif.pages[0]
        assert page.shape == (40, 50, 2) and page.dtype == np.uint16 and page.tags["Orientation"].value == 6
        assert page.tags["XResolution"].value == (300, 1)
    assert Image.open(out / "turned16.tif").info["compression"] == "tiff_adobe_deflate"
    means = [
        np.vstack(list(png.Reader(filename=str(f)).read()[2])).mean() for f in (inputs / "sbit.png", out / "sbit.png")
    ]
    assert abs(means[1] / means[0] - 1) < 0.02  # not 16 times darker
    assert Image.open(out / "phone.jpg").format == "JPEG" and Image.open(out / "row.png").size == (50, 1)


def test_an_output_folder_that_cannot_be_made_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    image = tmp_path / "grey.png"
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(image)
    cmd = [sys.executable, "-m", "dae", "denoise", str(image), "-o", str(tmp_path / "file" / "out")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "cannot create the output folder" in proc.stderr, proc.stderr


def test_sigma_auto_reads_the_trained_range_of_every_kind_of_model() -> None:
    from dae.cli import _trained_range

    assert _trained_range({"blind": [0.0, 55.0]}) == (0.0, 55.0)  # a natural-image blind model
    digits = {"blind": {"ranges": [{"type": "gaussian", "low": 0.1, "high": 0.5}], "clip": True}}
    assert _trained_range(digits) == pytest.approx((25.5, 127.5))  # a train_blind@ model, on the [0, 1] scale
    assert _trained_range({"sigma": 25}) == (25.0, 25.0) and _trained_range({"dataset": "digits"}) is None


def test_ctrl_c_stops_with_one_line_and_leaves_no_file(tmp_path: Path) -> None:
    import signal

    image = tmp_path / "big.png"
    Image.fromarray((np.random.default_rng(0).random((1500, 1500)) * 255).astype(np.uint8)).save(image)
    out = tmp_path / "out"
    args = ["denoise", str(image), "-o", str(out), "--sigma", "auto", "--ensemble", "8"]
    # As a terminal's Ctrl-C finds it: a shell without job control (`cmd &` in a script, a CI runner's background
    # job) starts its children with SIGINT ignored, which Python then keeps, so the child takes the default back.
    start = "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    start += f"sys.argv = ['dae', *{args!r}]; runpy.run_module('dae', run_name='__main__')"
    proc = subprocess.Popen([sys.executable, "-c", start], stderr=subprocess.PIPE, text=True)
    while "estimated noise std" not in (line := proc.stderr.readline()):  # said just before the model runs
        assert line, "the command ended before denoising"
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 130 and "Traceback" not in rest, rest
    assert "interrupted after 0 of 1 files; none half-written" in rest
    assert list(out.iterdir()) == []  # no output, and no temporary file left behind


@pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="finds torch loading in /proc/<pid>/maps (Linux)")
def test_ctrl_c_while_torch_loads_is_one_line_too(tmp_path: Path) -> None:
    """The command imports torch (seconds) only once its arguments are read: a Ctrl-C then gave a traceback."""
    import signal

    args = ["denoise", str(ROOT / "examples/noisy-astronaut.png"), "-o", str(tmp_path / "out")]
    start = "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    start += f"sys.argv = ['dae', *{args!r}]; runpy.run_module('dae', run_name='__main__')"
    proc = subprocess.Popen([sys.executable, "-c", start], stderr=subprocess.PIPE, text=True)
    maps = Path(f"/proc/{proc.pid}/maps")
    while proc.poll() is None and "libtorch" not in maps.read_text():
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 130 and "Traceback" not in rest, rest
    assert rest.strip() == "dae-denoise: interrupted before the first of 1 files; none written"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("second", ["grey.png", "GREY.png"], ids=["same name", "same but for case"])
def test_two_inputs_that_would_write_one_output_are_refused(tmp_path: Path, second: str) -> None:
    """Names that differ in case only are one file on macOS and Windows, so they are refused everywhere."""
    for folder, name in (("a", "grey.png"), ("b", second)):
        (tmp_path / folder).mkdir()
        Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(tmp_path / folder / name)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "dae", "denoise", str(tmp_path / "a" / "grey.png"), str(tmp_path / "b" / second)]
    proc = subprocess.run([*cmd, "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "two inputs would both write" in proc.stderr and not out.exists(), proc.stderr


def test_low_bit_pngs_and_32_bit_integer_tiffs_are_written_as_the_docs_say(tmp_path: Path) -> None:
    """docs/photos.md: a 4-bit grey PNG comes out at 8 bit, a 32-bit integer TIFF within 0-65535 at 16 bit; one
    with larger samples, and a float TIFF, are refused in one line each while the others are done."""
    import png

    rng = np.random.default_rng(0)
    with open(tmp_path / "g4.png", "wb") as f:
        png.Writer(48, 40, greyscale=True, bitdepth=4).write(f, rng.integers(0, 16, (40, 48)).tolist())
    tifffile.imwrite(tmp_path / "i32.tif", rng.integers(0, 65536, (40, 48)).astype(np.uint32))
    tifffile.imwrite(tmp_path / "big.tif", rng.integers(0, 2**31, (40, 48)).astype(np.uint32))
    tifffile.imwrite(tmp_path / "f32.tif", rng.random((40, 48), dtype=np.float32))
    names = ("g4.png", "i32.tif", "big.tif", "f32.tif")
    cmd = [sys.executable, "-m", "dae", "denoise", *(str(tmp_path / n) for n in names), "-o", str(tmp_path / "out")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "2 of 4 files denoised" in proc.stderr, proc.stderr
    assert "big.tif: integer samples outside 0..65535" in proc.stderr
    assert "f32.tif: image mode F" in proc.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["g4.png", "i32.tif"]
    assert png.Reader(filename=str(tmp_path / "out/g4.png")).read()[3]["bitdepth"] == 8
    assert tifffile.imread(tmp_path / "out/i32.tif").dtype == np.uint16


@pytest.mark.parametrize(("samples", "photometric"), [(4, "rgb"), (2, "minisblack")], ids=["RGBA", "grey+alpha"])
def test_a_16_bit_tiff_with_premultiplied_alpha_stays_premultiplied(tmp_path: Path, samples: int, photometric: str):
    """Its colour samples are already multiplied by alpha; written back as straight alpha they would show darker."""
    rng = np.random.default_rng(0)
    alpha = np.tile(np.linspace(3000, 65535, 48), (40, 1))  # down to 5%, where denoised colour can pass alpha
    wide = np.dstack([rng.random((40, 48, samples - 1)) * 0.8 * alpha[..., None], alpha]).astype(np.uint16)
    tifffile.imwrite(tmp_path / "pm.tif", wide, photometric=photometric, extrasamples=["assocalpha"])
    cmd = [sys.executable, "-m", "dae", "denoise", str(tmp_path / "pm.tif"), "-o", str(tmp_path / "out")]
    assert subprocess.run(cmd, capture_output=True, text=True, timeout=300).returncode == 0
    with tifffile.TiffFile(tmp_path / "out/pm.tif") as tif:
        assert tuple(tif.pages[0].extrasamples) == (1,)  # associated alpha, as the input said
        out = tif.pages[0].asarray()
    assert (out[..., -1] == wide[..., -1]).all()
    assert (out[..., :-1] <= out[..., -1:]).all()  # valid premultiplied colour, not divided by alpha either
