"""python -m bench.natural_gpu: what a GPU buys the natural-image models that a 2-core CPU cannot train in time.

Trains configs/natural-blind.yaml's U-Net (noise map, patch recipe, onecycle) at other widths, blind and at one
sigma, through the project's own trainer (`pipeline._build.fit_within_memory`, fp32 with TF32 off, so the arithmetic
is the CPU's), and scores each model one pass by the field's protocol on the config's 20 held-out training images
(bench.ensemble's noise draw: what any choice is made on) and on the test images (the test stage's noise: reported,
never chosen on). A run trains its `epochs`, or, given a time `budget`, as many as fit it by a 2-epoch probe of its
width (`--runs` JSON; runs that share a `match` name train equally long).

It needs torch, numpy, pyyaml, safetensors, tqdm and pillow, not dvc. Without CUDA, `--device cpu --subset N` runs
the same code on a sample (tests/test_bench.py does). Results print as JSON lines and go to --out; --save DIR keeps
the models.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from bench._args import number
from bench.ensemble import NOISE_SEED
from bench.measure import ROOT, default_mirror, machine
from bench.probe import json_arg
from dae.errors import DaeError
from dae.images import image_folder
from dae.inference import denoise_image
from dae.io import write_json
from dae.models import save_model
from dae.natural import add_test_noise, level, patch_pairs, resolve_folder, score, split_names
from dae.params import natural_train
from pipeline._build import fit_within_memory

# Each run: the config's unet-nm at `channels`, trained at `sigma` (blind or a 0-255 std) for `epochs`, or, with a
# `budget` in seconds, for as many as fit it (at most `epochs`); runs of one `match` train equally long. These are
# the runs measured on an H200 (docs/natural.md): 63 epochs is what a 170-second budget gave there.
WIDE = [32, 64, 128, 256]
RUNS = [
    {"name": "wide-blind", "channels": WIDE, "sigma": "blind", "epochs": 63},
    {"name": "wide-15", "channels": WIDE, "sigma": 15, "epochs": 63},
]


def load_images(params: dict, mirror: str, subset: int | None) -> dict[str, dict[str, np.ndarray]]:
    """{train, val, test: {name: grey image}}: the config's split of its first natural.data entry."""
    natural = params["natural"]
    entry = next(iter(natural["data"].values()))
    train = image_folder(resolve_folder(entry["train"], mirror))
    test = image_folder(resolve_folder(entry["test"], mirror))
    names = sorted(train)[:subset] if subset else sorted(train)
    fit_names, val_names = split_names(names, natural["val_images"], params["data"]["seed"])
    out = {"train": {n: train[n] for n in fit_names}, "val": {n: train[n] for n in val_names}}
    return out | {"test": dict(sorted(test.items())[: subset or None])}


def scores(model: torch.nn.Module, images: dict[str, np.ndarray], seed: int, sigmas: list[float]) -> list[float]:
    """Mean PSNR (peak 255, one pass) at each sigma, each image with its own noise draw keyed by `seed`."""
    out = []
    for sigma in sigmas:
        ps = [score(denoise_image(model, add_test_noise(c, sigma, seed, n)), c)["psnr"] for n, c in images.items()]
        out.append(round(float(np.mean(ps)), 3))
    return out


def train_run(run: dict, params: dict, images: dict, device: torch.device, epochs: int) -> tuple[Any, dict]:
    """One model of `run` trained `epochs` epochs; the model and its best epoch's history row."""
    natural = params["natural"]
    model_p = {**natural["archs"]["unet-nm"], "channels": run["channels"]}
    train_p = {**natural_train(params), "epochs": epochs, "amp": False, "gpu": {}, "device": device.type}
    noise, seed, patch = level(run["sigma"], natural["blind"]), train_p["seed"], natural["patch"]
    train, val = list(images["train"].values()), list(images["val"].values())
    val_pairs = patch_pairs(val, patch, natural["val_patches"], noise, seed, 0)

    def redraw(epoch: int):
        return patch_pairs(train, patch, natural["patches"], noise, seed, epoch)

    # bench.measure read params.yaml on import; this bench does not run from it, so an edit of it must not stop it
    return fit_within_memory(model_p, train_p, redraw(0), val_pairs, device, redraw, watch_params=False)


def epoch_seconds(run: dict, params: dict, images: dict, device: torch.device) -> float:
    """Seconds per epoch of `run`'s width: a 2-epoch fit, its second epoch timed (the first warms the kernels)."""
    start = time.perf_counter()
    train_run(run, params, images, device, 1)
    first = time.perf_counter() - start
    start = time.perf_counter()
    train_run(run, params, images, device, 2)
    return max(time.perf_counter() - start - first, first / 4)


def plan_epochs(runs: list[dict], params: dict, images: dict, device: torch.device) -> dict[str, int]:
    """{run name: epochs}: its `epochs`, or with a `budget` what fits it at its width's probed epoch time (at most
    `epochs`); equal within a `match`."""
    out, matched, per_width = {}, {}, {}
    for run in runs:
        width = tuple(run["channels"])
        if run.get("budget") and width not in per_width:
            per_width[width] = epoch_seconds(run, params, images, device)
        fits = max(1, min(run["epochs"], int(run["budget"] / per_width[width]))) if run.get("budget") else run["epochs"]
        out[run["name"]] = matched.setdefault(run.get("match") or run["name"], fits)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (default), or cpu to try the script on a sample")
    parser.add_argument("--config", type=Path, default=ROOT / "configs/natural-blind.yaml")
    mirror = str(default_mirror("train400"))
    parser.add_argument("--mirror", default=mirror, help="the data mirror holding train400/ and set12/")
    parser.add_argument("--subset", type=number(int, 1), help="cap the training and test folders at N images")
    parser.add_argument("--runs", type=json.loads, default=RUNS, help="JSON list of runs (default: RUNS)")
    parser.add_argument("--natural", type=json_arg, default={}, help="JSON overrides of natural: (e.g. patches)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results-natural-gpu.json"), help="JSON file to write")
    parser.add_argument("--save", type=Path, help="folder to keep the models in")
    args = parser.parse_args()
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS, before any CUDA call
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False  # fp32 as on the CPU
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("error: --device cuda asks for CUDA, and this machine has none; use --device cpu --subset 40")
    params = yaml.safe_load(args.config.read_text())
    params["natural"] |= args.natural
    try:
        images = load_images(params, args.mirror, args.subset)
    except DaeError as exc:
        sys.exit(f"error: {exc}; pass --mirror")
    result: dict[str, Any] = {"machine": machine(device), "config": str(args.config), "natural": args.natural}
    start = time.perf_counter()
    result["epochs"] = plan_epochs(args.runs, params, images, device)
    print(json.dumps({"epochs": result["epochs"], "probe_s": round(time.perf_counter() - start, 1)}), flush=True)
    result["runs"] = []
    for run in args.runs:  # written after each run, so a run cut short by a time limit keeps what it finished
        result["runs"].append(one_run(run, params, images, device, result["epochs"][run["name"]], args.save))
        write_json(args.out, result)
    result["seconds"] = round(time.perf_counter() - start, 1)
    write_json(args.out, result)
    print(json.dumps({"seconds": result["seconds"], "out": args.out}))


def one_run(run: dict, params: dict, images: dict, device: torch.device, epochs: int, save: Path | None) -> dict:
    """Train, score and (with `save`) keep one run's model; its row, printed as it comes."""
    start = time.perf_counter()
    model, best = train_run(run, params, images, device, epochs)
    seconds = time.perf_counter() - start
    sigmas, test_seed = params["natural"]["sigmas"], params["noise"]["seed"]
    row = {**run, "trained_epochs": epochs, "train_s": round(seconds, 1), "s_per_epoch": round(seconds / epochs, 2)}
    row |= {"best_epoch": best["epoch"], "val_loss": round(best["val_loss"], 7), "sigmas": sigmas}
    row |= {"held_out": scores(model, images["val"], NOISE_SEED, sigmas)}
    row |= {"test": scores(model, images["test"], test_seed, sigmas)}
    if save:
        save.mkdir(parents=True, exist_ok=True)
        save_model(model.cpu(), save / f"{run['name']}.safetensors", extra={"natural": run["name"], **best})
    print(json.dumps(row), flush=True)
    return row


if __name__ == "__main__":
    main()
