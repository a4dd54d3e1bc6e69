"""The README's photo example: `examples/noisy-astronaut.png` and the picture of what `dae-denoise` makes of it.

The photo is scikit-image's `astronaut` (Eileen Collins, NASA, public domain), a 320x320 colour crop with gaussian
noise of std 25 (0-255 scale, seeded, clipped as a camera would) added once: it stands for a user's noisy photo.
The picture shows the crop noisy, denoised by the shipped model (as luminance and chroma planes, as `dae-denoise`
does), and clean, with the PSNR of each against the clean crop.

    python tools/photo_example.py     # rewrites both files; the same bytes every time
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

from dae.io import atomic_path

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "examples" / "noisy-astronaut.png"
PICTURE = ROOT / "docs" / "images" / "denoise-example.jpg"
SIGMA = 25.0


def clean_crop() -> np.ndarray:
    return data.astronaut()[20:340, 100:420].astype(np.float32) / 255


def noisy_photo(clean: np.ndarray) -> np.ndarray:
    rng = np.random.Generator(np.random.PCG64(0))
    noisy = clean + rng.normal(0, SIGMA / 255, clean.shape).astype(np.float32)
    return np.rint(np.clip(noisy, 0, 1) * 255).astype(np.uint8)


def psnr(image: np.ndarray, clean: np.ndarray) -> float:
    return float(10 * np.log10(1 / np.mean((image.astype(np.float64) - clean) ** 2)))


def draw(noisy: np.ndarray, denoised: np.ndarray, clean: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.9), dpi=100)
    titles = [f"noisy photo ({psnr(noisy, clean):.2f} dB)", f"dae-denoise ({psnr(denoised, clean):.2f} dB)", "clean"]
    for ax, image, title in zip(axes, (noisy, denoised, clean), titles, strict=True):
        ax.imshow(image, interpolation="nearest")
        ax.set_title(title, fontsize=11)
        ax.axis("off")
    fig.tight_layout()
    # JPEG: a PNG of a noisy photo is most of a megabyte; the titles carry the exact PSNR of the arrays.
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="jpeg", pil_kwargs={"quality": 88})
    plt.close(fig)


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    from dae.cli import DEFAULT_MODEL
    from dae.inference import denoise_image
    from dae.models import load_model

    clean = clean_crop()
    noisy = noisy_photo(clean)
    with atomic_path(PHOTO) as tmp:
        Image.fromarray(noisy).save(tmp, format="PNG")
    denoised = denoise_image(load_model(DEFAULT_MODEL), noisy.astype(np.float32) / 255, colour="luma_chroma")
    denoised = np.rint(denoised * 255) / 255  # what the 8-bit output file holds
    draw(noisy.astype(np.float32) / 255, denoised, clean, PICTURE)
    print(f"{PHOTO.relative_to(ROOT)}: {psnr(noisy / 255, clean):.2f} dB; denoised {psnr(denoised, clean):.2f} dB")


if __name__ == "__main__":
    main()
