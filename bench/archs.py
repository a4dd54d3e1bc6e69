"""python -m bench.archs: the natural-image architectures through the MNIST config, for the MNIST tables.

Each network of configs/natural.yaml's `natural.archs` (taken as it is, unless --model changes it) replaces the
model of configs/mnist.yaml, and trains with that config's recipe (7 epochs, one-cycle lr, PSNR loss, batch 64,
epoch picked on the val split) at the natural config's lr of 0.002 (at the MNIST config's 0.01 the U-Net's val loss
was best after the first epoch), in fp32, at clipped gaussian std 0.1, 0.3 and 0.5, like the sweep's per-setting
models; each is scored on the whole MNIST test set with the noise the corrupt stage draws, so the numbers sit beside
the committed run's 31.10 / 24.39 / 21.05 dB. Each result is added to docs/data/mnist/archs.json as soon as it
exists, so a long run can be stopped and resumed (`--archs`, `--stds` pick what to run; finished entries are kept).

    python -m bench.archs --archs unet --threads 2
    python -m bench.archs --archs unet --name unet-3 --model '{"channels": [32, 64, 128]}'   # a variant, as its own row
    python -m bench.archs --write    # only rewrite docs/results.md's table from docs/data/mnist/archs.json

A variant (--model, --name) is a change chosen for MNIST: choose it on val PSNR (`python -m bench.probe` reports it),
never on the test images this writes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch
import yaml

from bench._args import number
from bench.gpu import CPU_PSNR
from bench.probe import json_arg, main_model_only, train_and_score
from dae.datasets import load_splits
from dae.io import write_json, write_text
from dae.models import build_model
from dae.params import validate
from tools._markers import replace_tables

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "data" / "mnist" / "archs.json"
DOC = ROOT / "docs" / "results.md"
BEGIN, END = "<!-- tables: python -m bench.archs --write", "<!-- end of tables -->"
STDS = [0.1, 0.3, 0.5]
# configs/mnist.yaml's own model: the per-setting row of docs/results.md's MNIST tables (clipped gaussian).
COMMITTED = {f"{std:g}": CPU_PSNR[f"gaussian-{std:g}"] for std in STDS}


def arch_params(arch: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """configs/mnist.yaml with its model replaced by natural.archs[arch], and `overrides` of train:."""
    raw = yaml.safe_load((ROOT / "configs" / "mnist.yaml").read_text())
    raw["model"] = yaml.safe_load((ROOT / "configs" / "natural.yaml").read_text())["natural"]["archs"][arch]
    raw["train"] |= overrides
    return main_model_only(raw)


def run(args: argparse.Namespace) -> None:
    result = json.loads(OUT.read_text()) if OUT.is_file() else {"runs": {}}
    splits = None
    for arch in args.archs:
        name = args.name or arch
        for std in args.stds:
            raw = arch_params(arch, args.train)
            raw["model"] |= args.model
            raw["data"] |= {"mirror": args.mirror}
            params = validate(raw)
            splits = splits or load_splits(params["data"])
            score = train_and_score(params, splits, std, test=None)
            result["runs"].setdefault(name, {})[f"{std:g}"] = score | {
                "epochs": params["train"]["epochs"],
                "train": args.train,
            }
            result["model"] = result.get("model", {}) | {name: raw["model"]}
            write_json(OUT, result)
            print(json.dumps({"arch": name, "std": std, **score}), flush=True)


def n_params(model: dict[str, Any]) -> int:
    return sum(p.numel() for p in build_model(model, (1, 28, 28)).parameters())


def table(result: dict[str, Any]) -> str:
    """Test PSNR (dB) by architecture and std; the committed conv model first, the best of each std in bold."""
    mnist = yaml.safe_load((ROOT / "configs" / "mnist.yaml").read_text())["model"]
    rows = [("`conv`, the MNIST config's model (committed run, bf16)", COMMITTED, n_params(mnist), "–")]
    for arch, runs in sorted(result["runs"].items()):
        per_epoch = sum(r["seconds"] for r in runs.values()) / sum(r["epochs"] for r in runs.values())
        scores = {s: r["test_psnr"] for s, r in runs.items()}
        precision = "bf16" if next(iter(runs.values()))["train"].get("amp_cpu") else "fp32"
        rows.append((f"`{arch}` ({precision})", scores, next(iter(runs.values()))["params"], f"{per_epoch:.0f}"))
    stds = [f"{s:g}" for s in STDS]
    best = {s: max(r[1][s] for r in rows if s in r[1]) for s in stds}
    lines = [
        "| model | std 0.1 | std 0.3 | std 0.5 | parameters | s / epoch |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, scores, size, per_epoch in rows:
        cells = [
            ("**{:.2f}**" if scores[s] == best[s] else "{:.2f}").format(scores[s]) if s in scores else "–" for s in stds
        ]
        lines.append(f"| {name} | {' | '.join(cells)} | {size:,} | {per_epoch} |")
    return "\n".join(lines)


def write_doc(result: dict[str, Any]) -> None:
    write_text(DOC, replace_tables(DOC.read_text(), BEGIN, END, table(result)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", nargs="+", default=["unet", "dncnn"], help="keys of natural.archs")
    parser.add_argument("--stds", nargs="+", type=number(float, 0, 1), default=STDS)
    parser.add_argument(
        "--train", type=json_arg, default={"amp_cpu": False, "lr": 0.002}, help="JSON overrides of train:"
    )
    parser.add_argument("--model", type=json_arg, default={}, help="JSON overrides of the arch's model keys")
    parser.add_argument("--name", help="the row's name in the JSON and the table (default: the arch's key)")
    parser.add_argument("--threads", type=number(int, 0), default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--mirror", default=str(ROOT.parent / "shared" / "datasets"), help="folder holding mnist/")
    parser.add_argument("--write", action="store_true", help="only rewrite the docs table from the JSON")
    args = parser.parse_args()
    if args.name and len(args.archs) > 1:
        parser.error("--name names one run: give one --archs")
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.write:
        run(args)
    write_doc(json.loads(OUT.read_text()))


if __name__ == "__main__":
    main()
