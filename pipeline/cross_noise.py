"""Stage `cross_noise`: every sweep model tested on every sweep setting's test pairs (light vs heavy)."""

import argparse
import logging
from pathlib import Path

import numpy as np
import torch

from dae.io import load_arrays, write_json
from dae.metrics import psnr
from dae.models import load_model
from dae.noise import to_unit
from dae.params import load_params
from dae.training import denoise
from dae.visualise import plot_heatmap
from pipeline._stage import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("models", help="folder of <setting>.safetensors models")
    parser.add_argument("pairs", help="folder of <setting>.safetensors pairs")
    parser.add_argument("metrics", help="JSON file: {trained_on: {tested_on: psnr}}")
    parser.add_argument("heatmap", help="PNG heatmap of the same table")
    args = parser.parse_args()
    names = list(load_params()["sweep"])
    tests = {}
    for name in names:
        arrays, _ = load_arrays(Path(args.pairs) / f"{name}.safetensors", keys=("test_noisy", "test_clean"))
        tests[name] = torch.from_numpy(arrays["test_noisy"]), torch.from_numpy(to_unit(arrays["test_clean"]))
    table = np.zeros((len(names), len(names)))
    for i, trained in enumerate(names):
        model = load_model(Path(args.models) / f"{trained}.safetensors")
        for j, tested in enumerate(names):
            noisy, clean = tests[tested]
            table[i, j] = psnr(denoise(model, noisy), clean).mean().item()
    write_json(args.metrics, {a: {b: round(table[i, j], 4) for j, b in enumerate(names)} for i, a in enumerate(names)})
    plot_heatmap(table, names, names, args.heatmap, "Test PSNR (dB) across noise settings")
    logging.info("%dx%d cross-noise PSNR table -> %s", len(names), len(names), args.metrics)


if __name__ == "__main__":
    run(main)
