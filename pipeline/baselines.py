"""Classical denoisers tuned on val, then scored on the same test pairs as the autoencoder.

`compare` runs inside the `evaluate_sweep@<setting>` stages (pipeline/evaluate_sweep.py), which have the model
loaded already; `python -m pipeline.baselines MODEL PAIRS METRICS GRID` runs it on its own.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from dae.baselines import SLOW, apply, grids, tune
from dae.io import read_metadata, write_json
from dae.metrics import psnr, summarise
from dae.models import load_model
from dae.pairs import load_pairs
from dae.params import load_params
from dae.training import denoise
from dae.visualise import plot_method_grid
from pipeline._stage import run


def subset(n_total: int, n: int, seed: int) -> np.ndarray:
    """A fixed, seeded, sorted choice of `n` indices (all of them when n >= n_total)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    return np.sort(rng.permutation(n_total)[: min(n, n_total)])


@dataclass(frozen=True)
class RowChoice:
    """The seeded image indices the stage scores: `val` (tuning), `test`, and `slow` (a subset of test)."""

    val: np.ndarray
    test: np.ndarray
    slow: np.ndarray

    @classmethod
    def draw(cls, n_val: int, n_test: int, cfg: dict[str, Any]) -> RowChoice:
        test = subset(n_test, cfg["n_test"], cfg["seed"] + 1)
        return cls(
            subset(n_val, cfg["n_val"], cfg["seed"]), test, test[subset(len(test), cfg["n_slow"], cfg["seed"] + 2)]
        )


def mean_psnr(output: np.ndarray, clean: np.ndarray) -> float:
    return psnr(torch.from_numpy(output), torch.from_numpy(clean)).mean().item()


def scores(output: np.ndarray, clean: np.ndarray) -> dict[str, float]:
    return {k: round(v, 6) for k, v in summarise(torch.from_numpy(output), torch.from_numpy(clean)).items()}


def score_classical(
    setting: dict[str, Any], val: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], rows: RowChoice
) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """Every classical method tuned on `val` pairs, then scored on its test rows; and the outputs the grid shows."""
    (v_noisy, v_clean), (noisy, clean) = val, test
    results, shown = {}, {}
    for name, (fn, grid) in tqdm(grids(setting).items(), desc="baselines", disable=None):
        chosen = rows.slow if name in SLOW else rows.test
        n_tune = len(rows.slow) if name in SLOW else len(v_noisy)  # slow methods tune on as few as they test on
        knobs = tune(fn, grid, v_noisy[:n_tune], v_clean[:n_tune], mean_psnr)
        output = apply(fn, noisy[chosen], knobs)
        results[name] = {**scores(output, clean[chosen]), **knobs}
        if name not in SLOW and name != "identity":  # identity is the noisy row; BM3D saw other images
            shown[name] = output[:6]
    return results, shown


def margins(results: dict[str, Any], methods: dict[str, Any]) -> dict[str, float]:
    """Each method's PSNR margin (dB) to the autoencoder, measured on the images that method saw."""
    return {
        name: results["autoencoder_on_slow_subset" if name in SLOW else "autoencoder"]["psnr"] - results[name]["psnr"]
        for name in methods
    }


def headline(
    results: dict[str, Any], setting: dict[str, Any], rows: RowChoice, best: str, margin: float
) -> dict[str, Any]:
    """`summary` of the metrics file: what was scored, and the autoencoder against the best classical method."""
    return {
        "n_test": len(rows.test),
        "n_slow": len(rows.slow),
        "n_val": len(rows.val),
        "level": setting["level"],
        **({"clipped": setting["clip"]} if setting["type"] == "gaussian" else {}),
        "autoencoder_psnr": results["autoencoder"]["psnr"],
        "best_classical_psnr": results[best]["psnr"],
        "margin_db": round(margin, 6),
    }


def compare(model: torch.nn.Module, pairs: str, metrics: str, grid: str, cfg: dict[str, Any]) -> None:
    """Score `model` and every classical method on the seeded subsets of the setting's test pairs in `pairs`; write
    the scores and tuned knobs to `metrics` (JSON) and the same test images through every method to `grid` (PNG)."""
    setting = read_metadata(pairs)["setting"]
    v_noisy, v_clean = (t.numpy() for t in load_pairs(pairs, "val"))
    noisy, clean = (t.numpy() for t in load_pairs(pairs, "test"))
    rows = RowChoice.draw(len(v_clean), len(clean), cfg)

    autoencoder = denoise(model, torch.from_numpy(noisy[rows.test])).numpy()
    results = {"autoencoder": scores(autoencoder, clean[rows.test])}
    methods, shown = score_classical(setting, (v_noisy[rows.val], v_clean[rows.val]), (noisy, clean), rows)
    # Slow methods ran on fewer images: score the autoencoder on exactly those too, so the comparison is fair.
    slow_subset = denoise_subset(autoencoder, rows.test, rows.slow)
    results |= {**methods, "autoencoder_on_slow_subset": scores(slow_subset, clean[rows.slow])}
    margin = margins(results, methods)
    best = min(margin, key=margin.get)
    results |= {"summary": headline(results, setting, rows, best, margin[best]), "best_classical": best}
    write_json(metrics, results)
    shown = {"noisy": noisy[rows.test][:6], **shown, "autoencoder": autoencoder[:6], "clean": clean[rows.test][:6]}
    plot_method_grid(shown, grid, f"{setting['type']} {setting['level']:g}")
    logging.info(
        "autoencoder %.2f dB; margin over the best classical method (%s): %+.2f dB",
        results["autoencoder"]["psnr"],
        best,
        margin[best],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", help="the autoencoder trained on this setting")
    parser.add_argument("pairs", help="the setting's noisy/clean pairs")
    parser.add_argument("metrics", help="JSON file: per method, its test scores and tuned knobs")
    parser.add_argument("grid", help="PNG: the same test images through every method")
    args = parser.parse_args()
    compare(load_model(args.model), args.pairs, args.metrics, args.grid, load_params()["baselines"])


def denoise_subset(outputs: np.ndarray, rows: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Outputs (one per index in `rows`) restricted to the indices in `chosen` (a subset of `rows`)."""
    return outputs[np.searchsorted(rows, chosen)]


if __name__ == "__main__":
    run(main)
