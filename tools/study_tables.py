"""Print (or write into docs/studies.md) the knob studies' and the linear probe's tables from a run's metrics.

    python tools/study_tables.py metrics                     # print the tables of the workspace's run
    python tools/study_tables.py metrics --write digits      # refresh the digits tables in docs/studies.md
    python tools/study_tables.py docs/data/mnist --write mnist  # the MNIST tables in docs/results.md
    python tools/study_tables.py docs/data/mnist --check mnist  # exit 1 if the MNIST tables are out of date

A metrics folder holds studies/<study>.json and probe.json, as the `study@<name>` and `probe` stages write them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from _markers import refresh, replace_tables

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "studies.md"
# Where each run's tables live: the digits run beside the studies' explanations, the MNIST run with the results.
DOCS = {"mnist": ROOT / "docs" / "results.md"}


def _in_order(result: dict) -> dict:
    """The values in increasing order where they are numbers (the JSON's keys are sorted as text)."""
    try:
        return dict(sorted(result.items(), key=lambda kv: float(kv[0])))
    except ValueError:
        return result


def study_table(name: str, result: dict) -> list[str]:
    result = _in_order(result)
    if name == "noise":
        tests = list(next(iter(result.values()))["tested_at"])
        lines = ["| trained at std | " + " | ".join(f"tested at {t}" for t in tests) + " | val − train loss |"]
        lines.append("|---" + "|---:" * (len(tests) + 1) + "|")
        for value, r in result.items():
            cells = [f"{r['tested_at'][t]['psnr']:.2f}" for t in tests]
            lines.append(f"| {value} | " + " | ".join(cells) + f" | {r['gap']:.5f} |")
        return lines
    lines = [f"| {name} | test PSNR (dB) | test SSIM | val − train loss | best epoch |", "|---|---:|---:|---:|---:|"]
    for value, r in result.items():
        lines.append(f"| {value} | {r['psnr']:.2f} | {r['ssim']:.3f} | {r['gap']:.5f} | {r['best_epoch']} |")
    return lines


def probe_table(probe: dict) -> list[str]:
    rows = [("raw pixels", probe["raw"]), (f"PCA, {probe['n_features']} components", probe["pca"])]
    rows += [("plain autoencoder", probe["ae"])] + [(f"DAE, {k}", v) for k, v in probe["dae"].items()]
    return ["| features | probe test error (%) |", "|---|---:|", *(f"| {n} | {100 * e:.2f} |" for n, e in rows)]


def tables(metrics: Path) -> str:
    out = []
    for path in sorted((metrics / "studies").glob("*.json")):
        out += [f"#### {path.stem}", "", *study_table(path.stem, json.loads(path.read_text())), ""]
    if (metrics / "probe.json").is_file():
        out += ["#### linear probe", "", *probe_table(json.loads((metrics / "probe.json").read_text())), ""]
    return "\n".join(out).rstrip() + "\n"


def replace(doc: str, tag: str, text: str) -> str:
    return replace_tables(
        doc, f"<!-- tables {tag}: python tools/study_tables.py", f"<!-- end of tables {tag} -->", text
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("metrics", type=Path, help="a folder holding studies/*.json and probe.json")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", metavar="TAG", help="replace the tables marked TAG (mnist: docs/results.md)")
    group.add_argument("--check", metavar="TAG", help="exit 1 if the tables marked TAG are not these")
    args = parser.parse_args()
    text = tables(args.metrics)
    if not text.strip():  # tables of nothing would replace the page's with none
        sys.exit(f"error: {args.metrics} holds no studies/*.json and no probe.json; pass a metrics folder")
    if (args.write or args.check) not in (None, "digits", *DOCS):
        sys.exit(f"error: unknown tag {args.write or args.check!r}; allowed: digits, {', '.join(DOCS)}")
    if not (args.write or args.check):
        print(text, end="")
        return
    tag = args.write or args.check
    path = DOCS.get(tag, DOC)
    refresh({path: replace(path.read_text(), tag, text)}, bool(args.check), f"run with --write {tag}")


if __name__ == "__main__":
    main()
