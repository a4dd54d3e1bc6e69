"""python -m bench [--gpu] [--quick] [--out FILE]: one table of throughputs, wall times and peak memory.

Each row puts the pipeline's own code next to a bare reference doing the same work in the same process, on the
same arrays; `ratio` = pipeline / bare. Results go to the screen and, as JSON, to --out.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

from bench.measure import (
    ROOT,
    bench_corrupt,
    bench_cpu_bf16,
    bench_memory,
    bench_pipeline,
    bench_queue,
    bench_train,
    gpu_train,
    machine,
)
from dae.io import write_json


def table(rows: list[dict]) -> str:
    width = max(len(r["what"]) for r in rows)
    lines = [f"{'benchmark':{width}} {'unit':12} {'pipeline':>10} {'bare':>10} {'ratio':>6}  note", "-" * (width + 60)]
    for r in rows:
        bare = f"{r['bare']:10,.0f}" if "bare" in r else " " * 10
        ratio = f"{r['pipeline'] / r['bare']:6.2f}" if "bare" in r else " " * 6
        value = f"{r['pipeline']:10,.1f}" if r["pipeline"] < 100 else f"{r['pipeline']:10,.0f}"
        lines.append(f"{r['what']:{width}} {r['unit']:12} {value} {bare} {ratio}  {r.get('note', '')}".rstrip())
    return "\n".join(lines)


def progress(start: float, rows: list[dict]) -> list[dict]:
    """Print each new row as it comes (stderr, flushed), so a long run shows where it is."""
    for r in rows:
        bare = f" (bare {r['bare']:,.0f})" if "bare" in r else ""
        print(
            f"[{time.perf_counter() - start:5.0f} s] {r['what']}: {r['pipeline']:,.1f} {r['unit']}{bare}",
            file=sys.stderr,
            flush=True,
        )
    return rows


def train_rows(arch: str, n: int, epochs: int, device: torch.device, compile_model: bool, **kw) -> list[dict]:
    """bench_train's rows, and with `compile_model` its training row again under torch.compile."""
    rows = bench_train(arch, n, epochs, device, **kw)
    if compile_model:
        row = bench_train(arch, n, epochs, device, True, **kw)[0]
        rows.append({**row, "what": row["what"] + " (compiled)"})
    return rows


def gpu_rows(start: float, device: torch.device, compile_model: bool) -> list[dict]:
    """The trainer against a bare loop at the GPU batch (`train.gpu` of configs/mnist.yaml, or GPU_TRAIN), and the
    conv model at the CPU batch of 64, where kernel launches bound the speed; well under a minute on an H100."""
    rows, batch = [], gpu_train()
    for arch in ("conv", "mlp"):
        rows += progress(start, train_rows(arch, 60000, 2, device, compile_model, overrides=batch, rounds=2))
    return rows + progress(start, bench_train("conv", 16384, 1, device, rounds=1)[:1])


def cpu_rows(start: float, args: argparse.Namespace) -> list[dict]:
    rows = progress(start, bench_corrupt(10000))
    for arch in ("conv", "mlp"):
        rows += progress(start, train_rows(arch, 8192, 2, torch.device("cpu"), args.compile))
    rows += progress(start, bench_cpu_bf16())
    if args.quick:
        return rows
    rows += progress(start, bench_pipeline())
    rows += progress(start, bench_queue())
    mirror = Path(args.mirror)
    if (mirror / "mnist").is_dir():
        return rows + progress(start, bench_memory(mirror))
    print(f"(no MNIST archives in {mirror}: memory rows skipped)", file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpu", action="store_true", help="train and evaluate on CUDA (bf16, channels-last)")
    parser.add_argument("--compile", action="store_true", help="also time training with torch.compile")
    parser.add_argument("--quick", action="store_true", help="skip the dvc repro, sweep and MNIST memory runs")
    parser.add_argument("--mirror", default=str(ROOT.parent / "shared" / "datasets"), help="MNIST archives")
    parser.add_argument("--out", default=None, help="JSON file (default bench/results-<device>.json)")
    args = parser.parse_args()
    # Deterministic cuBLAS (train.deterministic) needs its workspace fixed before the first CUDA call of any row.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if args.gpu and not torch.cuda.is_available():
        sys.exit("error: --gpu asks for CUDA, and this machine has none; run without --gpu")
    device = torch.device("cuda" if args.gpu else "cpu")
    start = time.perf_counter()
    rows = gpu_rows(start, device, args.compile) if args.gpu else cpu_rows(start, args)
    result = {"machine": machine(device), "rows": rows, "seconds": time.perf_counter() - start}
    print(json.dumps(result["machine"]))
    print(table(rows))
    out = Path(args.out or ROOT / "bench" / f"results-{device.type}.json")
    write_json(out, result)
    print(f"-> {out} ({result['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
