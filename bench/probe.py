"""python -m bench.probe: train one MNIST model on one clipped gaussian level, in memory, and print its test PSNR.

A quick way to compare model and training options before spending a full sweep on them. The starting point is
configs/mnist.yaml; --model and --train override its keys (validated like params.yaml). Scores are on the first
--test images of the MNIST test split, so they sit a little off the full-test-set numbers of a real run.

    python -m bench.probe --std 0.1 --epochs 4 --model '{"channels": [32, 64], "latent": 16, "blocks": 1}'
    python -m bench.probe --std 0.3 --epochs 4 --blind 0.1 0.5      # one model across std 0.1 to 0.5
"""

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from bench._args import number
from dae.datasets import load_splits
from dae.errors import DaeError
from dae.metrics import psnr
from dae.models import build_model
from dae.noise import corrupt, rng_for, sampler, to_unit
from dae.params import ParamError, validate
from dae.training import denoise, fit, seed_everything

ROOT = Path(__file__).resolve().parent.parent


def main_model_only(raw: dict[str, Any]) -> dict[str, Any]:
    """`raw` without studies, for a bench that trains the main model alone: the params check covers every model the
    pipeline would train, and a study value may not suit the bench's model (bce without a sigmoid)."""
    raw["studies"]["grids"] = {}
    return raw


def json_arg(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON ({exc.msg}): {text}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object such as '{{\"lr\": 0.01}}', got {text}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--std", type=number(float, 0, 1), required=True, help="gaussian std of train and test noise")
    parser.add_argument("--epochs", type=number(int, 1), required=True)
    parser.add_argument("--model", type=json_arg, default={}, help="JSON overrides of the model: section")
    parser.add_argument("--train", type=json_arg, default={}, help="JSON overrides of the train: section")
    blind = number(float, 0, 1)
    parser.add_argument("--blind", type=blind, nargs=2, metavar=("LOW", "HIGH"), help="train across this std range")
    parser.add_argument("--test", type=number(int, 1), default=2000, help="test (and val) images scored")
    parser.add_argument("--train-images", type=number(int, 1), help="train on the first N images (default: all)")
    parser.add_argument("--threads", type=number(int, 0), default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--mirror", default=str(ROOT.parent / "shared" / "datasets"), help="folder holding mnist/")
    parser.add_argument("--config", default=str(ROOT / "configs" / "mnist.yaml"))
    args = parser.parse_args()
    if args.blind and args.blind[0] > args.blind[1]:
        parser.error(f"argument --blind: {args.blind[0]:g} {args.blind[1]:g} is not allowed; expected LOW <= HIGH")

    raw = yaml.safe_load(Path(args.config).read_text())
    raw["model"] |= args.model
    raw["train"] |= {**args.train, "epochs": args.epochs}
    raw["data"] |= {"mirror": args.mirror}
    try:
        params = validate(main_model_only(raw))
    except ParamError as exc:
        parser.exit(2, f"error: {exc}\n")
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        splits = load_splits(params["data"])
    except DaeError as exc:
        parser.exit(2, f"error: {exc}\n")
    result = train_and_score(params, splits, args.std, args.blind, args.train_images, args.test)
    print(
        json.dumps(
            {
                "std": args.std,
                "blind": args.blind,
                "epochs": args.epochs,
                "model": args.model,
                "train": args.train,
                **result,
            }
        )
    )


def train_and_score(
    params: dict[str, Any],
    splits: dict[str, np.ndarray],
    std: float,
    blind: list[float] | None = None,
    train_images: int | None = None,
    test: int | None = 2000,
) -> dict[str, Any]:
    """Train `params`' model on the first `train_images` MNIST training images at clipped gaussian `std` (or across
    the `blind` range), pick the epoch on the first `test` val images, and score the first `test` test images
    (None: all), with the noise the corrupt stage draws (noise seed 0); with `train.fresh_noise` (always when
    blind) the training inputs' noise is drawn afresh every epoch. `val_psnr` (at `std`) is the number to
    choose between options on; `test_psnr` is for reporting."""

    def pair(split: str, level: float, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        setting = {"type": "gaussian", "level": level}
        clean = to_unit(splits[f"{split}_x"][:n])
        return torch.from_numpy(corrupt(clean, setting, rng_for(0, setting, split))), torch.from_numpy(clean)

    train_pairs, val_pairs = pair("train", std, train_images), pair("val", std, test)
    redraw = None
    if blind or params["train"]["fresh_noise"]:  # noise redrawn every epoch (seeded draws of its own)
        low, high = blind or (std, std)
        redraw = sampler(train_pairs[1].numpy(), [{"type": "gaussian", "low": low, "high": high}], 0, "probe")
        train_pairs = (torch.from_numpy(redraw(0)), train_pairs[1])
    seed_everything(params["train"]["seed"], params["train"]["deterministic"])
    model = build_model(params["model"], (1, 28, 28))
    start = time.perf_counter()
    model, history = fit(model, train_pairs, val_pairs, params["train"], torch.device("cpu"), None, redraw)
    seconds = time.perf_counter() - start
    val_psnr = round(psnr(denoise(model, val_pairs[0]), val_pairs[1]).mean().item(), 2)
    scores = {}
    for level in sorted({std, *(blind or ())} | ({0.3} if blind else set())):
        noisy, clean = pair("test", level, test)
        scores[str(level)] = round(psnr(denoise(model, noisy), clean).mean().item(), 2)
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "val_psnr": val_psnr,
        "test_psnr": scores if blind else scores[str(std)],
        "seconds": round(seconds),
        "best_epoch": min(history, key=lambda h: h["val_loss"])["epoch"],
    }


if __name__ == "__main__":
    main()
