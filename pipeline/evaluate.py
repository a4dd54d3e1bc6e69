"""Stage `evaluate`: test-set MSE, PSNR and SSIM of one model, next to the same metrics of its noisy input."""

import argparse
import logging

import torch

from dae.io import read_metadata, write_json
from dae.metrics import summarise
from dae.models import load_model
from dae.pairs import load_pairs
from dae.params import load_params
from dae.training import denoise
from dae.visualise import comparison_grid, save_png
from pipeline._stage import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", help="output of a train stage")
    parser.add_argument("pairs", help="the corrupt stage output whose test pairs to score")
    parser.add_argument("metrics", help="JSON file to write")
    parser.add_argument("grid", help="PNG of noisy | denoised | clean test images")
    args = parser.parse_args()
    evaluate(load_model(args.model), args.pairs, args.metrics, args.grid, load_params()["eval"]["grid_images"])


def evaluate(model: torch.nn.Module, pairs: str, out: str, grid: str, grid_images: int) -> None:
    """Score `model` on the test pairs in `pairs`; write the metrics to `out` (JSON), a picture to `grid` (PNG)."""
    meta = read_metadata(pairs)
    noisy, clean = load_pairs(pairs, "test")
    denoised = denoise(model, noisy)
    model_scores, noisy_scores = summarise(denoised, clean), summarise(noisy, clean)
    metrics = {**model_scores, **{f"noisy_{k}": v for k, v in noisy_scores.items()}}
    metrics["psnr_gain"] = metrics["psnr"] - metrics["noisy_psnr"]
    metrics["level"] = meta["setting"]["level"]
    if meta["setting"]["type"] == "gaussian":  # the protocol: clipped to [0, 1] or not (changes every number)
        metrics["clipped"] = meta["setting"]["clip"]
    metrics["n_images"] = len(clean)
    write_json(out, {k: round(v, 6) if isinstance(v, float) else v for k, v in metrics.items()})
    n = grid_images
    save_png(grid, comparison_grid([noisy[:n].numpy(), denoised[:n].numpy(), clean[:n].numpy()]))
    logging.info(
        "PSNR %.2f dB (noisy %.2f dB), SSIM %.3f (noisy %.3f) -> %s",
        metrics["psnr"],
        metrics["noisy_psnr"],
        metrics["ssim"],
        metrics["noisy_ssim"],
        out,
    )


if __name__ == "__main__":
    run(main)
