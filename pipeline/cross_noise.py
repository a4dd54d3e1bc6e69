"""Stage `cross_noise`: every sweep model, and every blind model, tested on every sweep setting's test pairs."""

import argparse
import logging
from pathlib import Path

import numpy as np

from dae.io import write_json
from dae.metrics import psnr
from dae.models import load_model
from dae.pairs import load_pairs
from dae.params import blind_ranges, load_params
from dae.training import denoise
from dae.visualise import plot_heatmap
from pipeline._stage import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("models", help="folder of <setting>.safetensors sweep models")
    parser.add_argument("blind", help="folder of <name>.safetensors blind models")
    parser.add_argument("pairs", help="folder of <setting>.safetensors pairs")
    parser.add_argument("metrics", help="JSON file: {trained_on: {tested_on: psnr}}, and blind minus specialist")
    parser.add_argument("heatmap", help="PNG heatmap of the same table")
    args = parser.parse_args()
    params = load_params()
    names = list(params["sweep"])
    tests = {name: load_pairs(Path(args.pairs) / f"{name}.safetensors", "test") for name in names}
    models = {name: Path(args.models) / f"{name}.safetensors" for name in names}
    models |= {f"blind-{name}": Path(args.blind) / f"{name}.safetensors" for name in params["blind"]}
    table = np.zeros((len(models), len(names)))
    for i, path in enumerate(models.values()):
        model = load_model(path)
        for j, tested in enumerate(names):
            noisy, clean = tests[tested]
            table[i, j] = psnr(denoise(model, noisy), clean).mean().item()
    rows = list(models)
    result: dict = {a: {b: round(table[i, j], 4) for j, b in enumerate(names)} for i, a in enumerate(rows)}
    # How far each blind model falls behind the model trained for that very setting (0 or above: no loss).
    result["blind_minus_specialist"] = {
        name: {s: round(result[f"blind-{name}"][s] - result[s][s], 4) for s in blind_ranges(params, name)[1]}
        for name in params["blind"]
    }
    write_json(args.metrics, result)
    plot_heatmap(table, rows, names, args.heatmap, "Test PSNR (dB) across noise settings")
    logging.info("%dx%d cross-noise PSNR table -> %s", len(rows), len(names), args.metrics)


if __name__ == "__main__":
    run(main)
