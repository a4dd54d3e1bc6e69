"""Stage `study@<name>`: one model per value of one knob (studies.grids.<name>), everything else as in params.yaml;
test PSNR, SSIM and the train-val gap of each, as JSON, CSV (for `dvc plots`) and a PNG.

The models train on the main setting's pairs, except in the `noise` study: there each value is a gaussian std to
train at, and every model is tested at every std of the grid.
"""

import argparse
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dae.io import load_arrays, write_json, write_text
from dae.metrics import summarise
from dae.noise import corrupt, rng_for, to_unit
from dae.pairs import load_pairs
from dae.params import check_unchanged, load_params
from dae.studies import apply
from dae.training import denoise, pick_device
from dae.visualise import plot_study
from pipeline._build import fit_within_memory
from pipeline._stage import run

Pairs = tuple[torch.Tensor, torch.Tensor]


def train_one(params: dict[str, Any], study: str, value: Any, train: Pairs, val: Pairs) -> tuple[Any, dict]:
    """The study's model for `value`, and {train_loss, val_loss, gap, best_epoch} at its best val epoch."""
    model_p, train_p = apply(params, study, value)
    model, best = fit_within_memory(model_p, train_p, train, val, pick_device(train_p["device"]))
    losses = {"train_loss": best["train_loss"], "val_loss": best["val_loss"], "best_epoch": best["epoch"]}
    return model, {**losses, "gap": best["val_loss"] - best["train_loss"]}


def scores(model: torch.nn.Module, test: Pairs) -> dict[str, float]:
    out = summarise(denoise(model, test[0]), test[1])
    return {"psnr": out["psnr"], "ssim": out["ssim"]}


def gaussian_pairs(clean: dict[str, np.ndarray], params: dict[str, Any], std: float, split: str) -> Pairs:
    """The corrupt stage's pairs for a gaussian std (same seed rule, so a std in the sweep draws the same noise)."""
    setting = {"type": "gaussian", "level": std}
    x = to_unit(clean[f"{split}_x"])
    noisy = corrupt(x, setting, rng_for(params["noise"]["seed"], setting, split), clip=params["noise"]["clip"])
    return torch.from_numpy(noisy), torch.from_numpy(x)


def noise_study(params: dict[str, Any], clean_path: str, values: list[float]) -> dict[str, Any]:
    clean, _ = load_arrays(clean_path)
    tests = {std: gaussian_pairs(clean, params, std, "test") for std in values}
    out = {}
    for std in values:
        train, val = (gaussian_pairs(clean, params, std, split) for split in ("train", "val"))
        model, losses = train_one(params, "noise", std, train, val)
        per_test = {str(t): scores(model, pairs) for t, pairs in tests.items()}
        out[str(std)] = {**per_test[str(std)], **losses, "tested_at": per_test}
    return out


def _rounded(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _rounded(v) for k, v in data.items()}
    return round(data, 6) if isinstance(data, float) else data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("study", help="a key of studies.grids")
    parser.add_argument("pairs", help="the main setting's pairs (corrupt stage)")
    parser.add_argument("clean", help="the clean images (download stage), for the noise study")
    parser.add_argument("metrics", help="JSON to write: {value: {psnr, ssim, gap, ...}}")
    parser.add_argument("plots", help="folder for csv/<study>.csv (dvc plots) and png/<study>.png")
    args = parser.parse_args()
    params = load_params()
    values = params["studies"]["grids"][args.study]
    if args.study == "noise":
        results = noise_study(params, args.clean, values)
    else:
        train, val, test = (load_pairs(args.pairs, split) for split in ("train", "val", "test"))
        results = {}
        for value in values:
            model, losses = train_one(params, args.study, value, train, val)
            results[str(value)] = {**scores(model, test), **losses}
            logging.info("%s = %s: PSNR %.2f dB", args.study, value, results[str(value)]["psnr"])
    check_unchanged()
    rounded = _rounded(results)
    write_json(args.metrics, rounded)
    rows = [{"value": v, "psnr": r["psnr"], "ssim": r["ssim"], "gap": r["gap"]} for v, r in rounded.items()]
    # dvc plots needs a number on the x axis: a loss name is plotted at its position in the grid.
    x = [v if isinstance(v, int | float) else i for i, v in enumerate(values)]
    csv = "value,label,psnr,ssim,gap\n" + "".join(
        f"{x[i]},{r['value']},{r['psnr']},{r['ssim']},{r['gap']}\n" for i, r in enumerate(rows)
    )
    write_text(Path(args.plots) / "csv" / f"{args.study}.csv", csv)
    plot_study(args.study, rows, Path(args.plots) / "png" / f"{args.study}.png")


if __name__ == "__main__":
    run(main)
