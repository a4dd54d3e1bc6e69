"""python -m bench [--gpu] [--quick] [--out FILE]: one table of throughputs, wall times and peak memory.

Each row puts the pipeline's own code next to a bare reference doing the same work in the same process, on the
same arrays; `ratio` = pipeline / bare. Results go to the screen and, as JSON, to --out.
"""

import argparse
import json
import sys
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpu", action="store_true", help="train and evaluate on CUDA (bf16, channels-last)")
    parser.add_argument("--compile", action="store_true", help="also time training with torch.compile")
    parser.add_argument("--quick", action="store_true", help="skip the dvc repro, sweep and MNIST memory runs")
    parser.add_argument("--mirror", default=str(ROOT.parent / "shared" / "datasets"), help="MNIST archives")
    parser.add_argument("--out", default=None, help="JSON file (default bench/results-<device>.json)")
    args = parser.parse_args()
    if args.gpu and not torch.cuda.is_available():
        sys.exit("error: --gpu asks for CUDA, and this machine has none; run without --gpu")
    device = torch.device("cuda" if args.gpu else "cpu")
    n, epochs = (60000, 3) if args.gpu else (8192, 2)
    rows = [] if args.gpu else bench_corrupt(10000)
    for arch in ("conv", "mlp"):
        rows += bench_train(arch, n, epochs, device)
        if args.compile:
            rows += [{**r, "what": r["what"] + " (compiled)"} for r in bench_train(arch, n, epochs, device, True)[:1]]
    if not args.gpu:
        rows += bench_cpu_bf16()
    if not args.quick and not args.gpu:
        rows += bench_pipeline()
        rows += bench_queue()
        mirror = Path(args.mirror)
        if (mirror / "mnist").is_dir():
            rows += bench_memory(mirror)
        else:
            print(f"(no MNIST archives in {mirror}: memory rows skipped)", file=sys.stderr)
    result = {"machine": machine(device), "rows": rows}
    print(json.dumps(result["machine"]))
    print(table(rows))
    out = Path(args.out or ROOT / "bench" / f"results-{device.type}.json")
    write_json(out, result)
    print(f"-> {out}")


if __name__ == "__main__":
    main()
