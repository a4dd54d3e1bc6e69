"""python -m bench.ensemble [--model FILE] [--config FILE] [--mirror DIR]: what the x8 self-ensemble
(`dae.denoise_image(..., ensemble=8)`) buys a model, scored on the natural config's held-out training images.

The images are the `natural.val_images` training images that the config's seeded split keeps out of training (the
ones that pick the epoch), never the test images; each gets gaussian noise of its own draw at each sigma (a seed
apart from the test noise's), and both ways are scored by the field's protocol (`dae.natural.score`: clamped,
rounded to 8 bit, PSNR peak 255). Prints a JSON line per sigma: mean PSNR one pass and x8, their difference, and
the smallest per-image difference.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import yaml

from bench._args import number
from dae.images import image_folder
from dae.inference import denoise_image
from dae.models import load_model
from dae.natural import add_test_noise, resolve_folder, score, split_names

ROOT = Path(__file__).resolve().parent.parent
NOISE_SEED = 12345  # the held-out images' own noise, apart from the test noise (data.seed)


def held_out(config: Path, mirror: str | None) -> dict[str, np.ndarray]:
    """{name: clean grey image} of the config's first natural.data entry's held-out training images."""
    params = yaml.safe_load(config.read_text())
    natural = params["natural"]
    folder = resolve_folder(next(iter(natural["data"].values()))["train"], mirror)
    images = image_folder(folder)
    _, val = split_names(sorted(images), natural["val_images"], params["data"]["seed"])
    return {n: images[n] for n in val}


def compare(model_file: Path, images: dict[str, np.ndarray], sigmas: list[float]) -> list[dict]:
    model, rows = load_model(model_file), []
    for sigma in sigmas:
        one, x8 = [], []
        for name, clean in images.items():
            noisy = add_test_noise(clean, sigma, NOISE_SEED, name)
            one.append(score(denoise_image(model, noisy), clean)["psnr"])
            x8.append(score(denoise_image(model, noisy, ensemble=8), clean)["psnr"])
        gain = np.subtract(x8, one)
        rows.append(
            {
                "sigma": sigma,
                "images": len(one),
                "one_pass": round(float(np.mean(one)), 3),
                "x8": round(float(np.mean(x8)), 3),
                "gain": round(float(gain.mean()), 3),
                "smallest_gain": round(float(gain.min()), 3),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "models/grey-blind.safetensors")
    parser.add_argument("--config", type=Path, default=ROOT / "configs/natural.yaml")
    parser.add_argument("--mirror", help="the data mirror holding the config's folders (default $DAE_DATA_MIRROR)")
    parser.add_argument("--sigmas", type=number(float, 0, 255), nargs="+", default=[15, 25, 50])
    args = parser.parse_args()
    start = time.perf_counter()
    for row in compare(args.model, held_out(args.config, args.mirror), args.sigmas):
        print(json.dumps(row), flush=True)
    print(json.dumps({"seconds": round(time.perf_counter() - start, 1)}))


if __name__ == "__main__":
    main()
