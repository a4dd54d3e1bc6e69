"""`dae-denoise` (also `python -m dae denoise`): denoise your own, already noisy photos with a trained model."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dae import progress
from dae.errors import DaeError

# The blind grey model that the natural-image config trains (docs/natural.md), shipped with the repository.
DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "grey-blind.safetensors"

DESCRIPTION = """\
Denoise image files that are already noisy (nothing is ever added): PNG, JPEG or TIFF; grey, grey+alpha, RGB or
RGBA; 8 or 16 bit; any size. Each output has the name, size, mode, bit depth, EXIF (orientation included) and ICC
profile of its input; a JPEG is re-encoded with its own quantisation tables. Alpha is passed through untouched.

Colour: a grey model (the default one) denoises an RGB photo as one luminance and two chroma planes (with
--colour channels: each colour channel on its own); a colour model (trained on CIFAR-10 or colour patches)
denoises the channels together. Large images go through in overlapping tiles, so memory
stays bounded (1.75 GB peak for a 24-megapixel colour JPEG, measured)."""

EPILOG = """\
examples:
  dae-denoise noisy.png -o out/
  dae-denoise photos/*.jpg -o clean/ --sigma auto --overwrite
  dae-denoise scan.tif -o out/ --model data/models/natural/unet-25.safetensors

A file that cannot be read or written gets one line naming it; the others are still done, and the exit status is 1.
Usage errors (no model, bad --sigma, two inputs with one name) exit with 2 before anything is written."""


def _sigma(text: str) -> float | str:
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number or 'auto'") from None
    if not 0 <= value <= 255:
        raise argparse.ArgumentTypeError(f"{value:g} is outside 0-255 (the noise std on the 0-255 scale)")
    return value


def _tile(text: str) -> int:
    value = int(text) if text.isdigit() else -1
    if value < 16:
        raise argparse.ArgumentTypeError(f"{text!r}: a tile side in pixels, at least 16")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dae-denoise",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="IN", type=Path, help="image files to denoise")
    p.add_argument("-o", "--out", required=True, type=Path, metavar="OUTDIR", help="folder for the outputs")
    p.add_argument(
        "--model",
        type=Path,
        default=DEFAULT_MODEL,
        help="a model file of this project (default: the shipped blind grey model, models/grey-blind.safetensors)",
    )
    p.add_argument(
        "--sigma",
        type=_sigma,
        metavar="S|auto",
        help="noise std on the 0-255 scale, for models that take a noise level (the project's models are blind "
        "and ignore it; the shipped one estimates the level itself); 'auto' estimates it per file (scikit-image's "
        "estimate_sigma), prints it, and warns when it lies outside what the model was trained on",
    )
    p.add_argument(
        "--colour",
        choices=["luma-chroma", "channels"],
        default="luma-chroma",
        help="how a grey model denoises an RGB photo: as one luminance and two chroma planes (default), or each of "
        "R, G, B on its own",
    )
    p.add_argument("--tile", type=_tile, default=512, metavar="N", help="tile side in pixels (default 512)")
    p.add_argument(
        "--ensemble",
        type=int,
        choices=[1, 8],
        default=1,
        help="8: average the model over the photo's 8 flips and 90-degree turns (about +0.1 dB on held-out photos, "
        "8 times the time); 1: one pass (default)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace outputs that exist (default: refuse)")
    return p


def main(argv: list[str] | None = None) -> int:
    from PIL import Image

    args = parser().parse_args(argv)
    # Pillow refuses images over 179 megapixels as possible decompression bombs; these are the user's own files, and
    # the tiles keep the model's memory bounded, so "any size" holds.
    Image.MAX_IMAGE_PIXELS = None
    try:
        model, outputs = _prepare(args)
    except DaeError as exc:
        print(f"dae-denoise: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # while torch loads, which takes seconds
        print(f"\ndae-denoise: interrupted before the first of {len(args.inputs)} files; none written", file=sys.stderr)
        return 130
    written: list[Path] = []
    failed: list[Path] = []
    try:
        _denoise_all(model, outputs, args, written, failed)
    except KeyboardInterrupt:  # the file in progress had a temporary name, removed on the way out
        print(
            f"\ndae-denoise: interrupted after {len(written)} of {len(outputs)} files; none half-written",
            file=sys.stderr,
        )
        return 130
    where = f"into {args.out}" if written else "(nothing written)"
    print(f"dae-denoise: {len(written)} of {len(outputs)} files denoised {where}", file=sys.stderr)
    return 1 if failed else 0


def _denoise_all(model: object, outputs: dict, args: argparse.Namespace, written: list, failed: list) -> None:
    """Every file in turn under a progress bar; a file that fails, whatever the cause, gets one line and the batch
    goes on."""
    with progress.bar(total=len(outputs), desc="denoise", unit="file") as bar:
        for source, dest in outputs.items():
            bar.set_postfix_str(source.name)
            try:
                _denoise_file(model, source, dest, args)
                written.append(dest)
            except Exception as exc:  # one file's failure, whatever it is, must not stop the batch
                failed.append(source)
                what = exc if isinstance(exc, DaeError) else f"{source}: failed ({exc.__class__.__name__}: {exc})"
                tqdm.write(f"dae-denoise: {what}", file=sys.stderr)
            bar.update()


def _prepare(args: argparse.Namespace) -> tuple[object, dict[Path, Path]]:
    """The model and {input: output} pairs, or a DaeError before anything is written."""
    from dae.models import load_model
    from dae.models.files import model_extra

    if args.model.is_dir():
        raise DaeError(f"{args.model}: is a folder; --model takes a .safetensors model file")
    if not args.model.is_file():
        hint = " (the shipped model: run from a clone of the repository)" if args.model == DEFAULT_MODEL else ""
        raise DaeError(f"{args.model}: model file not found{hint}; pass --model PATH")
    outputs: dict[Path, Path] = {}
    names: set[str] = set()  # casefolded: names that differ in case only are one file on macOS and Windows
    for source in args.inputs:
        if source.is_dir():
            raise DaeError(f"{source}: is a folder; pass its files (for example {source / '*'})")
        dest = args.out / source.name
        if dest.name.casefold() in names:
            raise DaeError(f"two inputs would both write {dest}; denoise them into different folders")
        names.add(dest.name.casefold())
        outputs[source] = dest
    if args.out.exists() and not args.out.is_dir():
        raise DaeError(f"{args.out}: exists and is not a folder")
    model = load_model(args.model)
    args.trained = model_extra(args.model)  # what the model was trained on, for --sigma auto's warning
    if "natural" not in args.trained and args.trained.get("dataset"):
        # A digits or MNIST model runs on a photo, but its small training images make the photo worse.
        print(
            f"dae-denoise: warning: {args.model} was trained on {args.trained['dataset']}, not on photos: expect "
            "output worse than the input (for photos leave out --model: the shipped models/grey-blind.safetensors)",
            file=sys.stderr,
        )
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DaeError(f"{args.out}: cannot create the output folder ({exc.strerror or exc})") from None
    return model, outputs


def _denoise_file(model: object, source: Path, dest: Path, args: argparse.Namespace) -> None:
    from dae.inference import denoise_image
    from dae.photos import read_photo, write_photo

    if dest.exists() and dest.resolve() == source.resolve():
        raise DaeError(f"{dest}: is its own input; write into another folder")
    if dest.is_dir() and not dest.is_symlink():
        raise DaeError(f"{dest}: is a folder where this file's output goes; move it away or write into another folder")
    if dest.exists() and not args.overwrite:
        raise DaeError(f"{dest}: exists; pass --overwrite to replace it")
    photo = read_photo(source)
    sigma = _estimate(photo.pixels, args.trained, source) if args.sigma == "auto" else args.sigma
    colour = args.colour.replace("-", "_")
    kwargs = {"tile": args.tile, "colour": colour, "ensemble": args.ensemble}
    with _tile_bar(model, photo.pixels.shape, source.name, kwargs):
        out = denoise_image(model, photo.pixels, sigma=sigma, **kwargs)
    write_photo(photo, out, dest)


@contextmanager
def _tile_bar(model: object, shape: tuple, name: str, kwargs: dict) -> Iterator[None]:
    """A second progress bar, over the model's passes on one file, where a file takes more than one (large photos,
    --ensemble 8): a 24-megapixel photo takes minutes on a CPU."""
    from dae.inference import model_passes

    passes = model_passes(model, shape, **kwargs)
    if passes == 1:
        yield
        return
    bar = progress.bar(total=passes, desc=name, unit="pass", leave=False)

    def tick(*_: object) -> None:  # a forward hook: returning None keeps the model's output
        bar.update()

    hook = model.register_forward_hook(tick)
    try:
        yield
    finally:
        hook.remove()
        bar.close()


def _estimate(pixels: np.ndarray, trained: dict, source: Path) -> float | None:
    """The noise std (0-255) scikit-image estimates from the colour channels, said aloud with the model's range."""
    import warnings

    from skimage.restoration import estimate_sigma

    colour = pixels if pixels.ndim == 2 else pixels[..., : 3 if pixels.shape[2] >= 3 else 1]
    axis = None if colour.ndim == 2 else -1
    with warnings.catch_warnings(), np.errstate(all="ignore"):  # a flat image gives NaN, said below
        warnings.simplefilter("ignore")
        sigma = float(estimate_sigma(colour, channel_axis=axis, average_sigmas=True)) * 255
    if not np.isfinite(sigma) or min(colour.shape[:2]) < 2:  # one row or column: no diagonal detail, 0 or NaN
        tqdm.write(f"dae-denoise: {source.name}: no noise level to estimate (a flat or tiny image)", file=sys.stderr)
        return None
    span = _trained_range(trained)
    outside = span is not None and not span[0] - 5 <= sigma <= span[1] + 5
    note = f"; outside the {span[0]:g}-{span[1]:g} the model was trained on" if outside else ""
    tqdm.write(f"dae-denoise: {source.name}: estimated noise std {sigma:.1f}{note}", file=sys.stderr)
    return sigma


def _trained_range(trained: dict) -> tuple[float, float] | None:
    """The gaussian noise std range (0-255) a model was trained on, from its file's header; None if it does not say."""
    blind = trained.get("blind")
    if isinstance(blind, list) and len(blind) == 2:  # a natural-image blind model: [low, high] on 0-255
        return float(blind[0]), float(blind[1])
    if isinstance(blind, dict):  # a train_blind@ model: ranges per noise type on the [0, 1] scale
        spans = [(r["low"] * 255, r["high"] * 255) for r in blind.get("ranges", []) if r.get("type") == "gaussian"]
        return spans[0] if spans else None
    sigma = trained.get("sigma")
    return (float(sigma), float(sigma)) if isinstance(sigma, int | float) else None
