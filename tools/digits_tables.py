"""Print (or write into README.md and docs/results.md) the digits run's tables from its metrics folder.

    python tools/digits_tables.py metrics           # print the tables of the workspace's run
    python tools/digits_tables.py metrics --write   # refresh README.md's results table and docs/results.md's tables
    python tools/digits_tables.py metrics --check   # exit 1 if either page is out of date

A metrics folder is what `dvc repro` writes with the default params.yaml: eval.json, sweep/<setting>.json,
cross_noise.json and baselines/<setting>.json. Run it after committing a new `dvc repro` so the pages quote that run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from _markers import refresh, replace_tables

ROOT = Path(__file__).resolve().parents[1]
README, RESULTS = ROOT / "README.md", ROOT / "docs" / "results.md"
END = "<!-- end of tables -->"
BEGIN_BLIND = "<!-- tables blind: python tools/digits_tables.py"
BEGIN_BASELINES = "<!-- tables baselines: python tools/digits_tables.py"
TYPES = ["gaussian", "salt_pepper", "masking"]  # params.yaml's order, kept by the pages
CLASSICAL = ["identity", "gaussian_blur", "median", "total_variation", "non_local_means", "wavelet"]


def _order(setting: str) -> tuple:
    kind, level = setting.rsplit("-", 1)
    return (TYPES.index(kind) if kind in TYPES else len(TYPES), kind, float(level))


def load(folder: Path) -> dict:
    """Every JSON of a digits run, settings in the pages' order."""
    settings = sorted((p.stem for p in (folder / "sweep").glob("*.json")), key=_order)
    if not settings:
        sys.exit(f"{folder}: no sweep/<setting>.json; give the metrics folder of a default `dvc repro`")
    read = lambda path: json.loads((folder / path).read_text())  # noqa: E731
    return {
        "main": read("eval.json"),
        "settings": settings,
        "sweep": {s: read(f"sweep/{s}.json") for s in settings},
        "cross": read("cross_noise.json"),
        "baselines": {s: read(f"baselines/{s}.json") for s in settings if (folder / f"baselines/{s}.json").exists()},
    }


def _main_setting(run: dict) -> str:
    """The main model's noise type: eval.json holds only its level, so find the sweep setting with its noisy input."""
    same = [s for s in run["settings"] if run["sweep"][s]["noisy_psnr"] == run["main"]["noisy_psnr"]]
    return same[0].rsplit("-", 1)[0] if same else "main setting"


def readme_rows(run: dict) -> list[str]:
    """The README's results table: main model first (bold), then every sweep setting."""

    def row(name: str, m: dict, bold: bool) -> str:
        psnr, ssim = (f"**{v}**" if bold else v for v in (f"{m['psnr']:.2f}", f"{m['ssim']:.3f}"))
        return f"| {name} | {m['noisy_psnr']:.2f} | {psnr} | {m['noisy_ssim']:.3f} | {ssim} |"

    main = run["main"]
    label = f"main ({_main_setting(run)}, std {main['level']:g})"
    lines = ["| setting | noisy PSNR | model PSNR | noisy SSIM | model SSIM |", "| --- | ---: | ---: | ---: | ---: |"]
    lines.append(row(label, main, True))
    return lines + [row(f"`{s}`", run["sweep"][s], False) for s in run["settings"]]


def blind_table(run: dict) -> list[str]:
    """Every blind model on every setting; in brackets its gap to that setting's own model, italics: not trained for."""
    settings, cross = run["settings"], run["cross"]
    gaps = cross["blind_minus_specialist"]
    blind = sorted(
        (k for k in cross if k.startswith("blind-")),
        key=lambda k: (k == "blind-all", _order(k.removeprefix("blind-") + "-0")),
    )
    lines = ["| model | " + " | ".join(f"`{s}`" for s in settings) + " |", "| --- |" + " ---: |" * len(settings)]
    lines.append("| per-setting model | " + " | ".join(f"{run['sweep'][s]['psnr']:.2f}" for s in settings) + " |")
    for name in blind:
        gap = gaps[name.removeprefix("blind-")]
        cells = [f"{cross[name][s]:.2f} ({gap[s]:+.2f})" if s in gap else f"*{cross[name][s]:.2f}*" for s in settings]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return lines


def baselines_tables(run: dict) -> list[str]:
    """PSNR of every classical method beside the autoencoder, then the SSIM of the best fast one."""
    base = run["baselines"]
    first = base[next(iter(base))]["summary"]
    names = [c.replace("_", " ") for c in CLASSICAL + ["bm3d"]]
    lines = [
        f"Test PSNR (dB) on digits, default pipeline ({first['n_test']} test images; "
        f"BM3D on {first['n_slow']} of them):",
        "",
        "| setting | " + " | ".join(names) + " | **autoencoder** | AE on BM3D's images | margin over best classical |",
        "| --- |" + " ---: |" * (len(names) + 3),
    ]
    for s, b in base.items():
        cells = [f"{b[c]['psnr']:.2f}" for c in CLASSICAL + ["bm3d"]]
        cells += [f"**{b['autoencoder']['psnr']:.2f}**", f"{b['autoencoder_on_slow_subset']['psnr']:.2f}"]
        cells.append(f"{b['summary']['margin_db']:+.2f} dB ({b['best_classical'].replace('_', ' ')})")
        lines.append(f"| `{s}` | " + " | ".join(cells) + " |")
    # BM3D's SSIM is on its few images only, so the best classical SSIM is among the fast methods on all of them.
    lines += ["", "| setting | best classical SSIM | autoencoder SSIM |", "| --- | ---: | ---: |"]
    for s, b in base.items():
        best = max(CLASSICAL, key=lambda c: b[c]["ssim"])
        lines.append(f"| `{s}` | {b[best]['ssim']:.3f} ({best.replace('_', ' ')}) | {b['autoencoder']['ssim']:.3f} |")
    return lines


def pages(run: dict) -> dict[Path, str]:
    """README.md and docs/results.md as they would read with this run's tables."""
    readme = README.read_text()
    table = re.compile(r"^\| setting \| noisy PSNR \|.*?\n(?=\n)", re.S | re.M)
    if len(table.findall(readme)) != 1:
        sys.exit("README.md: expected one results table starting '| setting | noisy PSNR |'")
    readme = table.sub(lambda _: "\n".join(readme_rows(run)) + "\n", readme)
    results = replace_tables(RESULTS.read_text(), BEGIN_BLIND, END, "\n".join(blind_table(run)) + "\n")
    results = replace_tables(results, BEGIN_BASELINES, END, "\n".join(baselines_tables(run)) + "\n")
    return {README: readme, RESULTS: results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("metrics", type=Path, help="a digits run's metrics folder (metrics/)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="replace the tables in README.md and docs/results.md")
    group.add_argument("--check", action="store_true", help="exit 1 if the pages' tables are not these")
    args = parser.parse_args()
    run = load(args.metrics)
    if not (args.write or args.check):
        print("\n\n".join("\n".join(t) for t in (readme_rows(run), blind_table(run), baselines_tables(run))))
        return
    written = refresh(pages(run), args.check, f"run python tools/digits_tables.py {args.metrics} --write")
    if args.write:
        print("wrote " + (", ".join(str(p.relative_to(ROOT)) for p in written) or "nothing (up to date)"))


if __name__ == "__main__":
    main()
