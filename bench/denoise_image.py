"""python -m bench.denoise_image [--model FILE] [--size HxW] [--tile N] [--colour MODE]: time and peak memory of
dae.denoise_image on one colour photo-sized array (a 24-megapixel 4000x6000 RGB by default), in this fresh process."""

import argparse
import resource
import time

import numpy as np
import torch

import dae
from bench._args import number, size
from dae.inference import COLOUR_MODES


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="models/grey-blind.safetensors")
    parser.add_argument("--size", type=size, default=(4000, 6000), help="HxW (default 4000x6000)")
    parser.add_argument("--tile", type=number(int, 1), default=512)
    parser.add_argument("--colour", default="channels", choices=COLOUR_MODES)
    args = parser.parse_args()
    h, w = args.size
    model = dae.load_model(args.model)
    image = np.random.default_rng(0).random((h, w, 3), dtype=np.float32)
    before = peak_mb()
    start = time.perf_counter()
    out = dae.denoise_image(model, image, tile=args.tile, colour=args.colour)
    seconds = time.perf_counter() - start
    print(
        f"{h}x{w}x3 through {args.model} in tiles of {args.tile} ({args.colour}): {seconds:.1f} s, "
        f"{h * w * 3 / seconds / 1e6:.2f} Mpx/s; peak RSS {peak_mb():.0f} MB ({before:.0f} MB with the input loaded, "
        f"input itself {image.nbytes / 2**20:.0f} MB, output {out.nbytes / 2**20:.0f} MB); torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )


if __name__ == "__main__":
    main()
