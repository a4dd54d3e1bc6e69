"""Stage `download`: materialise `data.name` as clean uint8 train / val / test splits."""

import argparse
import logging

from dae.datasets import load_splits
from dae.io import save_arrays
from dae.params import load_params
from pipeline._stage import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", help="safetensors file of clean images and labels")
    args = parser.parse_args()
    data = load_params()["data"]
    splits = load_splits(data)
    save_arrays(args.out, splits, {"dataset": data["name"], "shape": list(splits["train_x"].shape[1:])})
    sizes = ", ".join(f"{s} {len(splits[f'{s}_x'])}" for s in ("train", "val", "test"))
    logging.info("%s: %s images of %s -> %s", data["name"], sizes, splits["train_x"].shape[1:], args.out)


if __name__ == "__main__":
    run(main)
