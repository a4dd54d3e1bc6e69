"""Print (or write into docs/anomaly.md) the one-class AUROC tables of an anomaly run, beside the published rows.

    python tools/anomaly_tables.py metrics/anomaly.json           # print the tables of a run
    python tools/anomaly_tables.py docs/data/anomaly.json --write  # refresh docs/anomaly.md between its markers
    python tools/anomaly_tables.py docs/data/anomaly.json --check  # exit 1 if docs/anomaly.md is out of date

Every number of ours comes from the JSON the `anomaly` stage wrote; the published rows carry their source.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from _markers import refresh, replace_tables

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "anomaly.md"
BEGIN, END = "<!-- tables: python tools/anomaly_tables.py", "<!-- end of tables -->"
NAMES = {"digits": "digits (scikit-learn)", "mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}

# Published one-class AUROC (%), classes 0-9 (None: the source gives only the mean), from the papers' own tables.
# Only numbers read in a copy of the table are here; the other rows (DCAE, KDE, OC-SVM, IF) could not be
# checked against a copy of the paper from this machine, so they are left out rather than quoted from memory.
RUFF = "Ruff et al. 2018, Table 1"
GEOM = "Golan & El-Yaniv 2018, Table 1"
PUBLISHED: dict[str, list[tuple[str, list[float] | None, float, str]]] = {  # name, per class, mean as printed
    "mnist": [("Deep SVDD, one-class", [98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5], 94.8, RUFF)],
    "fashion_mnist": [
        ("GEOM", [99.4, 97.6, 91.1, 89.9, 92.1, 93.4, 83.3, 98.9, 90.8, 99.2], 93.5, GEOM),
        ("RAW-OC-SVM", None, 92.8, GEOM),
        ("CAE-OC-SVM", None, 91.7, GEOM),
        ("ADGAN", None, 88.4, GEOM),
        ("DSEBM", None, 86.6, GEOM),
    ],
}


def _published(name: str, values: list[float] | None, mean: float, source: str) -> str:
    cells = ["–"] * 10 if values is None else [f"{v:.1f}" for v in values]
    return f"| {name} ({source}) | " + " | ".join(cells) + f" | {mean:.1f} |"


def _cell(entry: dict, c: str) -> str:
    seeds = entry["seeds"]["auroc"][c]
    return f"{100 * seeds['mean']:.1f} ± {100 * seeds['std']:.1f}"


def _ours(result: dict, variant: str, score: str, label: str) -> str:
    entry = result["scores" if variant == "dae" else "plain"][score]
    classes = list(entry["auroc"])
    mean = f"**{100 * entry['seeds']['mean_auroc']:.1f}** ± {100 * entry['seeds']['std_mean_auroc']:.1f}"
    return f"| {label} | " + " | ".join(_cell(entry, c) for c in classes) + f" | {mean} |"


def class_table(dataset: str, result: dict) -> list[str]:
    best = result["best"]
    classes = list(result["scores"][best]["auroc"])
    lines = [
        f"| {NAMES.get(dataset, dataset)} | " + " | ".join(classes) + " | mean |",
        "|---|" + "---:|" * (len(classes) + 1),
        _ours(result, "dae", best, f"**DAE, `{best}`** (best on val)"),
    ]
    if best != "mse":
        lines.append(_ours(result, "dae", "mse", "DAE, `mse`"))
    if "plain" in result:
        lines.append(_ours(result, "plain", best, f"plain AE, `{best}`"))
    if classes == [str(i) for i in range(10)]:  # published rows cover all ten classes
        lines += [_published(*row) for row in PUBLISHED.get(dataset, [])]
    return lines


def versus_table(result: dict) -> list[str]:
    """Mean AUROC of every score, DAE against the plain autoencoder, with the seeds' spread."""
    lines = ["| score | DAE | plain AE | DAE − plain |", "|---|---:|---:|---:|"]
    for score, dae in result["scores"].items():
        plain = result["plain"][score]["seeds"]
        d, p = dae["seeds"], plain
        diff = 100 * (d["mean_auroc"] - p["mean_auroc"])
        lines.append(
            f"| `{score}` | {100 * d['mean_auroc']:.2f} ± {100 * d['std_mean_auroc']:.2f} | "
            f"{100 * p['mean_auroc']:.2f} ± {100 * p['std_mean_auroc']:.2f} | {diff:+.2f} |"
        )
    return lines


def tables(metrics: dict) -> str:
    out = []
    order = [d for d in NAMES if d in metrics] + [d for d in metrics if d not in NAMES]
    for dataset, result in ((d, metrics[d]) for d in order):
        out += [f"#### {NAMES.get(dataset, dataset)}", "", *class_table(dataset, result), ""]
        if "plain" in result:
            out += ["DAE against the plain autoencoder, mean AUROC (%) over classes:", "", *versus_table(result), ""]
    return "\n".join(out).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("metrics", help="an anomaly stage's JSON (metrics/anomaly.json or docs/data/anomaly.json)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="replace the tables in docs/anomaly.md")
    group.add_argument("--check", action="store_true", help="exit 1 if docs/anomaly.md's tables are not these")
    args = parser.parse_args()
    try:
        metrics = json.loads(Path(args.metrics).read_text())
    except (OSError, ValueError) as exc:  # ValueError: not JSON, or not UTF-8
        sys.exit(f"error: cannot read {args.metrics} ({exc})")
    if not isinstance(metrics, dict) or not metrics:  # tables of nothing would replace the page's with none
        sys.exit(f"error: {args.metrics} holds no anomaly results; pass an anomaly stage's JSON")
    text = tables(metrics)
    if not (args.write or args.check):
        print(text, end="")
        return
    new = replace_tables(DOC.read_text(), BEGIN, END, text)
    refresh({DOC: new}, args.check, f"run python tools/anomaly_tables.py {args.metrics} --write")


if __name__ == "__main__":
    main()
