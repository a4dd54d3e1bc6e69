"""Stage `train_blind`: one "blind" autoencoder for many noise levels (and types), trained on noise drawn afresh
each epoch across the sweep's range of each type, and selected on the val pairs of every sweep setting it covers."""

import argparse
import sys
from pathlib import Path

import torch

from dae import distributed
from dae.io import load_arrays
from dae.noise import sampler, to_unit
from dae.pairs import load_pairs
from dae.params import blind_ranges, load_params
from pipeline._stage import run
from pipeline._train import train_and_save


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("clean", help="output of the download stage")
    parser.add_argument("pairs", help="folder of the sweep's <setting>.safetensors pairs (for the val split)")
    parser.add_argument("model", help="model file to write")
    parser.add_argument("live_dir", help="DVCLive folder for loss curves and per-epoch val grids")
    parser.add_argument("--name", required=True, help="a key of params.yaml blind:")
    args = parser.parse_args()
    params = load_params()
    if distributed.launch(params["train"]["nproc"], "pipeline.train_blind", sys.argv[1:]):  # train.nproc > 0
        return
    if params["blind_train"]["epochs"]:
        params["train"]["epochs"] = params["blind_train"]["epochs"]
    ranges, covered = blind_ranges(params, args.name)
    noise = params["noise"]
    clean, meta = load_arrays(args.clean, keys=("train_x",))
    y_train = to_unit(clean["train_x"])
    redraw = sampler(y_train, ranges, noise["seed"], f"blind:{args.name}", noise["clip"], noise["salt_ratio"])
    val = [load_pairs(Path(args.pairs) / f"{name}.safetensors", "val") for name in covered]
    x_val, y_val = torch.cat([noisy for noisy, _ in val]), torch.cat([clean for _, clean in val])
    extra = {"blind": {"ranges": ranges, "covers": covered, "clip": noise["clip"]}, "dataset": meta["dataset"]}
    train_pairs = (torch.from_numpy(redraw(0)), torch.from_numpy(y_train))
    train_and_save(params, train_pairs, (x_val, y_val), args.model, args.live_dir, extra, redraw)


if __name__ == "__main__":
    run(main)
