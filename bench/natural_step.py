"""python -m bench.natural_step [--config configs/natural.yaml] [--archs unet conv dncnn] [--steps N] [--threads N]
[--bf16]: seconds per training step of each network of a natural-image config (a batch of natural.train's size of
natural.patch-pixel patches: forward, MSE, backward and AdamW), in fp32 on NCHW and on NHWC (`train.channels_last`)
tensors and, with --bf16, under bf16 autocast on NHWC (`train.amp_cpu`, as training runs it). Sizes a config's epochs
and tells which of configs/natural.yaml (bf16) and configs/natural-fp32.yaml suits a CPU."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import yaml

from bench._args import number
from dae.models import build_model

ROOT = Path(__file__).resolve().parents[1]


def step_seconds(arch: dict, batch: int, patch: int, nhwc: bool, steps: int, bf16: bool = False) -> float:
    """Mean seconds of `steps` training steps after 3 warm-up ones, on random data (speed does not depend on it)."""
    torch.manual_seed(0)
    layout = torch.channels_last if nhwc else torch.contiguous_format
    model = build_model(arch, (1, patch, patch)).to(memory_format=layout)
    optimizer = torch.optim.AdamW(model.parameters(), 1e-3)
    x, y = (torch.rand(batch, 1, patch, patch).contiguous(memory_format=layout) for _ in range(2))
    for i in range(steps + 3):
        if i == 3:
            start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = (model.logits(x).float() - y).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default="configs/natural.yaml", help="the config whose natural: section to time")
    parser.add_argument("--archs", nargs="+", default=["unet", "conv", "dncnn"])
    parser.add_argument("--steps", type=number(int, 1), default=8)
    parser.add_argument("--threads", type=number(int, 0), default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--bf16", action="store_true", help="also time bf16 autocast (slow where the CPU emulates it)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    natural = yaml.safe_load((ROOT / args.config).read_text())["natural"]
    unknown = [name for name in args.archs if name not in natural["archs"]]
    if unknown:
        sys.exit(f"natural_step: no arch {', '.join(unknown)} in {args.config}; it has {', '.join(natural['archs'])}")
    batch, patch = natural["train"]["batch_size"], natural["patch"]
    print(f"seconds per step, batch {batch} of {patch}x{patch}, {torch.get_num_threads()} threads")
    print("arch      fp32 NCHW  fp32 NHWC" + ("  bf16 NHWC" if args.bf16 else ""))
    layouts = [(False, False), (True, False)] + ([(True, True)] if args.bf16 else [])  # (NHWC, bf16) per column
    for name in args.archs:
        times = [step_seconds(natural["archs"][name], batch, patch, cl, args.steps, bf16) for cl, bf16 in layouts]
        print(f"{name:9s}" + "".join(f"  {t:9.3f}" for t in times), flush=True)


if __name__ == "__main__":
    main()
