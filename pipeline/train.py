"""Stage `train`: fit one denoising autoencoder on one setting's pairs; log losses and val grids with DVCLive."""

import argparse
import sys

from dae import distributed
from dae.io import read_metadata
from dae.noise import sampler
from dae.pairs import load_pairs
from dae.params import load_params
from pipeline._stage import run
from pipeline._train import train_and_save


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pairs", help="output of a corrupt stage")
    parser.add_argument("model", help="model file to write (safetensors, config in its header)")
    parser.add_argument("live_dir", help="DVCLive folder for loss curves and per-epoch val grids")
    args = parser.parse_args()
    params = load_params()
    if distributed.launch(params["train"]["nproc"], "pipeline.train", sys.argv[1:]):  # train.nproc > 0
        return
    meta = read_metadata(args.pairs)
    train_pairs = load_pairs(args.pairs, "train")
    redraw = None
    if params["train"]["fresh_noise"]:
        s = meta["setting"]
        one = [{"type": s["type"], "low": s["level"], "high": s["level"]}]
        tag = f"fresh:{s['type']}:{s['level']!r}"
        redraw = sampler(train_pairs[1].numpy(), one, s["seed"], tag, s["clip"], s["salt_ratio"])
    extra = {"setting": meta["setting"], "dataset": meta["dataset"]}
    train_and_save(params, train_pairs, load_pairs(args.pairs, "val"), args.model, args.live_dir, extra, redraw)


if __name__ == "__main__":
    run(main)
