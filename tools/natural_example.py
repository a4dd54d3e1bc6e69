"""docs/natural.md's picture: two Set12 images at sigma 25, noisy, BM3D, the shipped blind model, and clean.

The noisy images are the study's own (`dae.natural.add_test_noise` with `noise.seed` 0, the draw behind the tables);
BM3D is told the true sigma, as in the stage `bm3d_natural`; the shipped model runs through `dae.denoise_image` in
one pass and is not told it. Each title gives that whole image's PSNR by the study's protocol (`dae.natural.score`);
the panels show a crop of it. Monarch (05), flat wings and sharp veins, is an image where the model is ahead of
BM3D; Barbara (09), whose fine stripes repeat, one where BM3D, averaging each block with its look-alikes, is far ahead.

    python tools/natural_example.py --mirror ../shared/datasets     # rewrites the picture

Two runs on one machine with the same libraries write the same bytes. --mirror defaults to $DAE_DATA_MIRROR, as the
stages' mirror does, then ../shared/datasets.

Rerun it when `models/grey-blind.safetensors` changes, and update the numbers docs/natural.md quotes from it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from dae.models import DenoisingAutoencoder

ROOT = Path(__file__).resolve().parents[1]
PICTURE = ROOT / "docs" / "images" / "natural-example.jpg"
# file -> top, left of its crop: Monarch's head and veins, Barbara's face and striped scarf
IMAGES = {"05.png": (40, 70), "09.png": (120, 280)}
CROP, SIGMA = 176, 25


def noise_seed() -> int:
    """The test noise's seed, from the config whose tables the picture sits under, so the draw stays theirs."""
    from dae.params import load_params

    return load_params(ROOT / "configs" / "natural.yaml")["noise"]["seed"]


def panels(clean: np.ndarray, name: str, model: DenoisingAutoencoder) -> list[tuple[str, np.ndarray]]:
    """(title, whole image) for noisy, BM3D, the shipped model and clean, each clamped and rounded to 8 bit."""
    from dae.baselines import bm3d
    from dae.images import quantise
    from dae.inference import denoise_image
    from dae.natural import add_test_noise, score

    noisy = add_test_noise(clean, SIGMA, noise_seed(), name)
    outputs = {
        "noisy": noisy,
        "BM3D (told σ)": bm3d(noisy[None], SIGMA / 255)[0],
        "grey-blind (shipped)": denoise_image(model, noisy),
    }
    rows = [(f"{label}: {score(out, clean)['psnr']:.2f} dB", quantise(out) / 255) for label, out in outputs.items()]
    return rows + [(f"clean: {name}", clean)]


def crop(image: np.ndarray, name: str) -> np.ndarray:
    """The square of side CROP at the image's place in IMAGES, moved or shrunk to fit a smaller image."""
    side = min(CROP, *image.shape[:2])
    top, left = (min(start, size - side) for start, size in zip(IMAGES[name], image.shape[:2], strict=True))
    return image[top : top + side, left : left + side]


def draw(rows: dict[str, list[tuple[str, np.ndarray]]], path: Path) -> None:
    import matplotlib

    from dae.io import atomic_path

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 4, figsize=(10.4, 3.0 * len(rows)), dpi=100, squeeze=False)
    for ax_row, (name, row) in zip(axes, rows.items(), strict=True):
        for ax, (title, image) in zip(ax_row, row, strict=True):
            ax.imshow(crop(image, name), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(title, fontsize=9)
            ax.axis("off")
    fig.suptitle(f"Set12 at σ = {SIGMA} (0-255 scale): crops, and the PSNR of the whole image", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:  # JPEG: noise does not compress; the titles carry the exact scores
        fig.savefig(tmp, format="jpeg", dpi=100, pil_kwargs={"quality": 90})
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mirror = os.environ.get("DAE_DATA_MIRROR", "../shared/datasets")
    parser.add_argument("--mirror", default=mirror, help="the data mirror, holding set12/ (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=PICTURE, help="where to write the picture")
    args = parser.parse_args()
    folder = Path(args.mirror) / "set12"
    missing = [name for name in IMAGES if not (folder / name).is_file()]
    if missing:
        raise SystemExit(f"error: {folder} lacks {', '.join(missing)}; pass --mirror, the folder that holds set12/")
    from dae.cli import DEFAULT_MODEL
    from dae.errors import DaeError
    from dae.images import read_image, to_grey
    from dae.models import load_model

    try:
        model = load_model(DEFAULT_MODEL)
        images = {name: to_grey(read_image(folder / name)[0]) for name in IMAGES}
        rows = {name: panels(images[name], name, model) for name in IMAGES}
        draw(rows, args.out)
    except DaeError as err:
        raise SystemExit(f"error: {err}") from None
    except OSError as err:  # e.g. --out in a folder that cannot be written: one line, and no file
        where = f"{err.strerror}: {err.filename}" if err.filename else str(err)
        raise SystemExit(f"error: cannot write {args.out} ({where})") from None
    for name, row in rows.items():
        print(f"{name}: " + "; ".join(title for title, _ in row[:3]))


if __name__ == "__main__":
    main()
