"""Record a natural-image run (configs/natural.yaml) and write its Set12 table into docs/natural.md.

    python tools/natural_tables.py --record RUN_DIR bsd  # docs/data/natural.json from a run's metrics and dvc.lock
    python tools/natural_tables.py docs/data/natural.json           # print the tables
    python tools/natural_tables.py docs/data/natural.json --write    # refresh docs/natural.md between its markers
    python tools/natural_tables.py docs/data/natural.json --check    # exit 1 if docs/natural.md is out of date

docs/natural.md holds one block per record, each opened by a marker naming its JSON.

Every number of ours comes from the JSON the `evaluate_natural` stage wrote; the published rows carry their source.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml
from _markers import refresh, replace_tables

from dae.io import write_json

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "natural.md"
BEGIN, END = "<!-- tables: python tools/natural_tables.py {source} ", "<!-- end of tables -->"
# Published Set12 averages (PSNR dB at sigma 15 / 25 / 50), as each paper's Set12 table prints them.
PUBLISHED = [
    ("BM3D", [32.37, 29.97, 26.72], "Zhang et al., DnCNN, TIP 2017, Set12 table"),
    ("DnCNN-S", [32.86, 30.44, 27.18], "Zhang et al., DnCNN, TIP 2017, Set12 table"),
    ("FFDNet", [32.75, 30.43, 27.32], "Zhang, Zuo & Zhang, FFDNet, TIP 2018, Set12 table"),
    ("DRUNet", [33.25, 30.94, 27.90], "Zhang et al., DPIR, TPAMI 2021, Set12 table"),
]


def record(run: Path, name: str) -> dict:
    """What the docs and the shipped-model test need from a run: its metrics, params and model hashes."""
    lock = yaml.safe_load((run / "dvc.lock").read_text())["stages"]
    params = yaml.safe_load((run / "params.yaml").read_text())["natural"]
    entries = {**params["models"], **(params.get("finetune") or {})}
    # A fine-tuned model (it names its `from` model) has a stage of its own.
    stages = {
        m: f"{'finetune' if 'from' in e else 'train'}_natural@{m}" for m, e in entries.items() if e["data"] == name
    }
    models = {}
    for model, stage in stages.items():
        out = lock[stage]["outs"][0]
        models[model] = {**entries[model], "md5": out["md5"], "size": out["size"]}
    metrics = json.loads((run / f"metrics/natural/{name}.json").read_text())
    # The whole run as `python -m pipeline.repro_check --natural` compares it: every output's hash, both metric files.
    # Only this run's stages: a workspace's dvc.lock also holds the default pipeline's.
    mine = {*stages.values(), "check_params"}
    mine |= {f"{stage}@{name}" for stage in ("natural_data", "bm3d_natural", "evaluate_natural")}
    outs = {s: {"outs": [{k: o[k] for k in ("path", "md5")} for o in lock[s].get("outs", [])]} for s in sorted(mine)}
    bm3d = json.loads((run / f"metrics/natural/bm3d/{name}.json").read_text())
    return {
        "data": name,
        "metrics": metrics,
        "models": models,
        "archs": params["archs"],
        "train": params["train"],
        "lock": outs,
        "bm3d": bm3d,
    }


def _cell(table: dict, method: str, tag: str, key: str, digits: int) -> str:
    entry = table.get(method, {}).get(tag)
    return "–" if entry is None else f"{entry[key]:.{digits}f}"


def _note(run: dict, method: str) -> str:
    """How a model was trained: its arch and epochs, and for a fine-tuned one the model it started from."""
    entry = run["models"].get(method)
    if entry is None:
        return "this project"
    if entry.get("from"):  # its arch is its `from` model's unless it names one
        arch = entry.get("arch") or run["models"][entry["from"]]["arch"]
        sigma = "all σ (blind)" if entry["sigma"] == "blind" else f"σ {entry['sigma']:g}"
        return f"{arch}, `{entry['from']}` + {entry['epochs']} epochs at {sigma}"
    note = f"{entry['arch']}, {entry['epochs']} epoch{'s' if entry['epochs'] != 1 else ''}"
    return note + (f", scales {' / '.join(f'{s:g}' for s in entry['scales'])}" if entry.get("scales") else "")


def tables(run: dict) -> str:
    metrics = run["metrics"]
    sigmas, table, best = metrics["sigmas"], metrics["table"], metrics["best"]
    head = "| method | " + " | ".join(f"σ = {t}" for t in sigmas) + " | |"
    rule = "|---|" + "---:|" * len(sigmas) + "---|"
    labels = {"noisy": "noisy input", "bm3d": "BM3D, run here"}
    out = ["PSNR (dB), mean over the 12 images:", "", head, rule]
    for method in table:
        cells = []
        for t in sigmas:
            cell = _cell(table, method, t, "psnr", 2)
            cells.append(f"**{cell}**" if best.get(t) == method else cell)
        out.append(f"| {labels.get(method, f'`{method}`')} | " + " | ".join(cells) + f" | {_note(run, method)} |")
    for label, values, source in PUBLISHED:
        if [f"{v:g}" for v in (15, 25, 50)] == sigmas:
            out.append(f"| {label}, published | " + " | ".join(f"{v:.2f}" for v in values) + f" | {source} |")
    out += ["", "SSIM, mean over the 12 images:", "", head, rule]
    for method in table:
        cells = [_cell(table, method, t, "ssim", 4) for t in sigmas]
        out.append(f"| {labels.get(method, f'`{method}`')} | " + " | ".join(cells) + " | |")
    return "\n".join(out + _x8_table(table, sigmas, head, rule)) + "\n"


def _x8_table(table: dict, sigmas: list[str], head: str, rule: str) -> list[str]:
    """Lines of the models' PSNR with the x8 self-ensemble, beside BM3D; none for a run recorded before it."""
    models = [m for m in table if any("x8" in s for s in table[m].values())]
    if not models:
        return []
    x8 = {m: {t: s["x8"] for t, s in table[m].items() if "x8" in s} for m in models}
    best = {t: max((m for m in models if t in x8[m]), key=lambda m: x8[m][t]["psnr"], default=None) for t in sigmas}
    out = [
        "",
        "PSNR (dB) with the x8 self-ensemble (`ensemble=8`: the mean over the 8 flips and turns):",
        "",
        head,
        rule,
    ]
    for method in models:
        cells = [_cell(x8, method, t, "psnr", 2) for t in sigmas]
        cells = [f"**{c}**" if best[t] == method else c for c, t in zip(cells, sigmas, strict=True)]
        out.append(f"| `{method}`, x8 | " + " | ".join(cells) + " | |")
    out.append("| BM3D, run here | " + " | ".join(_cell(table, "bm3d", t, "psnr", 2) for t in sigmas) + " | |")
    for label, values, source in PUBLISHED[:1]:
        if [f"{v:g}" for v in (15, 25, 50)] == sigmas:
            out.append(f"| {label}, published | " + " | ".join(f"{v:.2f}" for v in values) + f" | {source} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="docs/data/natural.json, or with --record a run's folder")
    parser.add_argument("name", nargs="?", default="bsd", help="with --record: the natural.data entry")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--record", action="store_true", help="write docs/data/natural.json from a run's folder")
    group.add_argument("--write", action="store_true", help="replace the tables in docs/natural.md")
    group.add_argument("--check", action="store_true", help="exit 1 if docs/natural.md's tables are not these")
    parser.add_argument("--out", default=str(ROOT / "docs/data/natural.json"), help="with --record: the JSON to write")
    args = parser.parse_args()
    if args.record:
        out = Path(args.out)
        write_json(out, record(Path(args.source), args.name))
        return
    text = tables(json.loads(Path(args.source).read_text()))
    if not (args.write or args.check):
        print(text, end="")
        return
    doc, begin = DOC.read_text(), BEGIN.format(source=args.source)
    if begin not in doc:
        sys.exit(f"docs/natural.md: no tables block for {args.source} (a line starting {begin.strip()!r})")
    new = replace_tables(doc, begin, END, text)
    refresh({DOC: new}, args.check, f"run python tools/natural_tables.py {args.source} --write")


if __name__ == "__main__":
    main()
