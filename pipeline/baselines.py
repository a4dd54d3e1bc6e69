"""Stage `baselines`: classical denoisers tuned on val, then scored on the same test pairs as the autoencoder."""

import argparse
import logging

import numpy as np
import torch
from tqdm import tqdm

from dae.baselines import SLOW, apply, grids, tune
from dae.io import load_arrays, write_json
from dae.metrics import psnr, summarise
from dae.models import load_model
from dae.noise import to_unit
from dae.params import load_params
from dae.training import denoise
from dae.visualise import plot_method_grid
from pipeline._stage import run


def subset(n_total: int, n: int, seed: int) -> np.ndarray:
    """A fixed, seeded, sorted choice of `n` indices (all of them when n >= n_total)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    return np.sort(rng.permutation(n_total)[: min(n, n_total)])


def mean_psnr(output: np.ndarray, clean: np.ndarray) -> float:
    return psnr(torch.from_numpy(output), torch.from_numpy(clean)).mean().item()


def scores(output: np.ndarray, clean: np.ndarray) -> dict[str, float]:
    return {k: round(v, 6) for k, v in summarise(torch.from_numpy(output), torch.from_numpy(clean)).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", help="the autoencoder trained on this setting")
    parser.add_argument("pairs", help="the setting's noisy/clean pairs")
    parser.add_argument("metrics", help="JSON file: per method, its test scores and tuned knobs")
    parser.add_argument("grid", help="PNG: the same test images through every method")
    args = parser.parse_args()
    cfg = load_params()["baselines"]
    keys = ("val_noisy", "val_clean", "test_noisy", "test_clean")
    arrays, meta = load_arrays(args.pairs, keys=keys)
    setting = meta["setting"]
    val = subset(len(arrays["val_clean"]), cfg["n_val"], cfg["seed"])
    test = subset(len(arrays["test_clean"]), cfg["n_test"], cfg["seed"] + 1)
    slow = test[subset(len(test), cfg["n_slow"], cfg["seed"] + 2)]
    v_noisy, v_clean = arrays["val_noisy"][val], to_unit(arrays["val_clean"][val])
    clean, noisy = to_unit(arrays["test_clean"]), arrays["test_noisy"]

    autoencoder = denoise(load_model(args.model), torch.from_numpy(noisy[test])).numpy()
    results = {"autoencoder": scores(autoencoder, clean[test])}
    shown = {"noisy": noisy[test][:6]}
    methods = grids(setting)
    for name, (fn, grid) in tqdm(methods.items(), desc="baselines", disable=None):
        rows = slow if name in SLOW else test
        n_tune = len(slow) if name in SLOW else len(val)  # slow methods tune on as few val images as they test on
        knobs = tune(fn, grid, v_noisy[:n_tune], v_clean[:n_tune], mean_psnr)
        output = apply(fn, noisy[rows], knobs)
        results[name] = {**scores(output, clean[rows]), **knobs}
        if name not in SLOW and name != "identity":  # identity is the noisy row; BM3D saw other images
            shown[name] = output[:6]
    # Slow methods ran on fewer images: score the autoencoder on exactly those too, so the comparison is fair.
    results["autoencoder_on_slow_subset"] = scores(denoise_subset(autoencoder, test, slow), clean[slow])
    # Each method's margin is measured against the autoencoder on the images that method saw.
    margins = {
        name: results["autoencoder_on_slow_subset" if name in SLOW else "autoencoder"]["psnr"] - results[name]["psnr"]
        for name in methods
    }
    best = min(margins, key=margins.get)
    results["summary"] = {
        "n_test": len(test),
        "n_slow": len(slow),
        "n_val": len(val),
        "level": setting["level"],
        **({"clipped": setting["clip"]} if setting["type"] == "gaussian" else {}),
        "autoencoder_psnr": results["autoencoder"]["psnr"],
        "best_classical_psnr": results[best]["psnr"],
        "margin_db": round(margins[best], 6),
    }
    results["best_classical"] = best
    write_json(args.metrics, results)
    shown["autoencoder"] = autoencoder[:6]
    shown["clean"] = clean[test][:6]
    plot_method_grid(shown, args.grid, f"{setting['type']} {setting['level']:g}")
    logging.info(
        "autoencoder %.2f dB; margin over the best classical method (%s): %+.2f dB",
        results["autoencoder"]["psnr"],
        best,
        margins[best],
    )


def denoise_subset(outputs: np.ndarray, rows: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Outputs (one per index in `rows`) restricted to the indices in `chosen` (a subset of `rows`)."""
    return outputs[np.searchsorted(rows, chosen)]


if __name__ == "__main__":
    run(main)
