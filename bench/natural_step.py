"""python -m bench.natural_step [--archs unet conv dncnn] [--steps N] [--threads N]: seconds per training step of
each network of configs/natural.yaml (a batch of natural.train's size of natural.patch-pixel patches: forward, MSE,
backward and AdamW, fp32), in NCHW and in NHWC (`train.channels_last`). Sizes the natural config's epochs."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import yaml

from dae.models import build_model

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "natural.yaml"


def step_seconds(arch: dict, batch: int, patch: int, nhwc: bool, steps: int) -> float:
    """Mean seconds of `steps` training steps after 3 warm-up ones, on random data (speed does not depend on it)."""
    torch.manual_seed(0)
    layout = torch.channels_last if nhwc else torch.contiguous_format
    model = build_model(arch, (1, patch, patch)).to(memory_format=layout)
    optimizer = torch.optim.AdamW(model.parameters(), 1e-3)
    x, y = (torch.rand(batch, 1, patch, patch).contiguous(memory_format=layout) for _ in range(2))
    for i in range(steps + 3):
        if i == 3:
            start = time.perf_counter()
        loss = (model.logits(x) - y).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--archs", nargs="+", default=["unet", "conv", "dncnn"])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    natural = yaml.safe_load(CONFIG.read_text())["natural"]
    batch, patch = natural["train"]["batch_size"], natural["patch"]
    print(f"seconds per step, batch {batch} of {patch}x{patch}, fp32, {torch.get_num_threads()} threads")
    print("arch   NCHW    NHWC")
    for name in args.archs:
        nchw, nhwc = (step_seconds(natural["archs"][name], batch, patch, cl, args.steps) for cl in (False, True))
        print(f"{name:6s} {nchw:.3f}   {nhwc:.3f}", flush=True)


if __name__ == "__main__":
    main()
