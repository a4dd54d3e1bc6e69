"""python -m bench.gpu: every GPU check of the project in one run, a few minutes on an H100-class GPU.

1. `python -m bench --gpu`'s rows: the trainer against a bare loop at the GPU batch, printed as they come.
2. configs/mnist.yaml on full MNIST at the GPU batch and lr (its `train.gpu`, or bench.measure.GPU_TRAIN) and
   --epochs: each sweep setting corrupted as the corrupt stage does, trained by dae.training.fit, scored on the whole
   test set as the evaluate stage does; training images/s, test PSNR beside the committed CPU result, and the
   whole sweep's wall time.

Results print as they come and go, as JSON, to --out. It needs torch, numpy, pyyaml, safetensors, tqdm, torchvision
and scikit-image, not dvc. Without CUDA, `--device cpu --subset N` runs the same code on a sample (the tests do),
so the script is known to work before a GPU is at hand.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from bench.__main__ import gpu_rows, table
from bench._args import number
from bench.measure import ROOT, default_mirror, gpu_train, machine
from bench.probe import json_arg
from dae.datasets import load_splits
from dae.io import write_json
from dae.metrics import summarise
from dae.models import build_model
from dae.noise import corrupt, rng_for, to_unit
from dae.params import ParamError, validate
from dae.training import denoise, fit, seed_everything

# Test PSNR (dB) of the per-setting models of configs/mnist.yaml's committed CPU run, full MNIST test set:
# docs/results.md, "Blind models on MNIST", row "per-setting model".
CPU_PSNR = {
    "gaussian-0.1": 31.10,
    "gaussian-0.3": 24.39,
    "gaussian-0.5": 21.05,
    "salt_pepper-0.1": 34.12,
    "salt_pepper-0.3": 28.92,
    "masking-0.25": 30.87,
    "masking-0.5": 26.12,
    "gaussian-25u": 31.21,
    "gaussian-50u": 27.01,
}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def noisy_pairs(splits: dict, setting: dict, noise: dict) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """(noisy, clean) float tensors per split, drawn exactly as the corrupt stage draws them."""
    out = {}
    for split in ("train", "val", "test"):
        clean = to_unit(splits[f"{split}_x"])
        rng = rng_for(noise["seed"], setting, split)
        noisy = corrupt(clean, setting, rng, clip=setting.get("clip", noise["clip"]), salt_ratio=noise["salt_ratio"])
        out[split] = (torch.from_numpy(noisy), torch.from_numpy(clean))
    return out


def run_setting(params: dict, name: str, splits: dict, train: dict, device: torch.device) -> dict[str, Any]:
    """Train and score one sweep setting; the row of the report."""
    pairs = noisy_pairs(splits, params["sweep"][name], params["noise"])
    seed_everything(train["seed"], train["deterministic"])
    model = build_model(params["model"], tuple(pairs["train"][1].shape[1:]))
    sync(device)
    start = time.perf_counter()
    model, _ = fit(model, pairs["train"], pairs["val"], train, device)
    sync(device)
    seconds = time.perf_counter() - start
    psnr = summarise(denoise(model, pairs["test"][0], device=device), pairs["test"][1])["psnr"]
    row = {"setting": name, "train_s": seconds, "images_per_s": len(pairs["train"][1]) * train["epochs"] / seconds}
    return row | {"psnr": psnr, "cpu_psnr": CPU_PSNR.get(name), "n_test": len(pairs["test"][1])}


def sweep_params(overrides: dict[str, Any], mirror: str, subset: int | None) -> dict[str, Any]:
    """configs/mnist.yaml with the GPU's train: overrides, then --train's, validated like params.yaml."""
    raw = yaml.safe_load((ROOT / "configs" / "mnist.yaml").read_text())
    raw["train"] |= {**gpu_train(), **overrides}
    raw["data"] |= {"mirror": mirror, "subset": subset}
    return validate(raw)


def mnist_sweep(params: dict[str, Any], settings: list[str], device: torch.device) -> dict[str, Any]:
    """Sweep `settings` of `params`, trained and tested on `device`; each row printed as it comes."""
    train, data = {**params["train"], "device": device.type}, params["data"]
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as cache:
        splits = load_splits(data, cache)
    start, rows = time.perf_counter(), []
    for name in settings:
        rows.append(run_setting(params, name, splits, train, device))
        r = rows[-1]
        cpu = f", CPU {r['cpu_psnr']:.2f} ({r['psnr'] - r['cpu_psnr']:+.2f})" if r["cpu_psnr"] else ""
        print(
            f"[{time.perf_counter() - start:5.0f} s] {name}: {r['images_per_s']:,.0f} images/s, "
            f"PSNR {r['psnr']:.2f} dB{cpu}",
            file=sys.stderr,
            flush=True,
        )
    return {"train": train, "subset": data["subset"], "rows": rows, "sweep_s": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (default), or cpu to try the script on a sample")
    parser.add_argument("--mirror", default=str(default_mirror("mnist")), help="folder holding mnist/ (the archives)")
    parser.add_argument("--subset", type=number(int, 1), default=None, help="cap each split at N images (default: all)")
    parser.add_argument("--train", type=json_arg, default={}, help="JSON overrides of train:, e.g. '{\"epochs\": 30}'")
    parser.add_argument("--settings", nargs="+", help="sweep settings to run (default: all of configs/mnist.yaml)")
    parser.add_argument("--skip-bench", action="store_true", help="only the MNIST sweep")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results-gpu.json"), help="JSON file to write")
    args = parser.parse_args()
    # Deterministic cuBLAS (train.deterministic) needs its workspace fixed before the first CUDA call of any row.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("error: --device cuda asks for CUDA, and this machine has none; use --device cpu --subset 512")
    if not (Path(args.mirror) / "mnist").is_dir():
        sys.exit(f"error: {args.mirror} has no mnist/ folder of the original archives; pass --mirror")
    try:
        params = sweep_params(args.train, args.mirror, args.subset)
    except ParamError as exc:
        parser.exit(2, f"error: {exc}\n")
    if unknown := [name for name in args.settings or [] if name not in params["sweep"]]:
        sys.exit(
            f"error: --settings {unknown[0]!r} is not a sweep setting of configs/mnist.yaml; "
            f"allowed: {', '.join(params['sweep'])}"
        )
    start = time.perf_counter()
    rows = [] if args.skip_bench or device.type != "cuda" else gpu_rows(start, device, compile_model=False)
    result = {
        "machine": machine(device),
        "bench": rows,
        "mnist": mnist_sweep(params, args.settings or list(params["sweep"]), device),
    }
    result["seconds"] = time.perf_counter() - start
    print(json.dumps(result["machine"]))
    if rows:
        print(table(rows))
    print(json.dumps(result["mnist"]["rows"], indent=1))
    write_json(args.out, result)
    print(f"-> {args.out} (sweep {result['mnist']['sweep_s']:.0f} s, all {result['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
