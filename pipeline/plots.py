"""Stage `plots`: loss curves, PSNR against noise level per noise type, as PNG and as CSV for `dvc plots`."""

import argparse
import csv
import io
import json
import logging
from pathlib import Path

from dae.io import write_text
from dae.params import NOISE_TYPES, load_params
from dae.visualise import plot_losses, plot_methods_vs_noise, plot_psnr_vs_noise
from pipeline._stage import run

COLUMNS = ("level", "psnr", "noisy_psnr", "ssim", "noisy_ssim")


def read_losses(live_dir: Path) -> list[dict]:
    """One row per epoch from a DVCLive folder's train/loss.tsv and val/loss.tsv."""

    def column(split: str) -> dict[int, float]:
        rows = (live_dir / "plots" / "metrics" / split / "loss.tsv").read_text().splitlines()[1:]
        return {int(step): float(value) for step, value in (row.split("\t") for row in rows)}

    train, val = column("train"), column("val")
    return [{"epoch": epoch, "train": train[epoch], "val": val[epoch]} for epoch in sorted(train)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("metrics", help="folder of per-setting evaluate JSON files (the sweep)")
    parser.add_argument("baselines", help="folder of per-setting baselines JSON files")
    parser.add_argument("live", help="DVCLive folders: <live>/main and <live>/sweep/<setting>")
    parser.add_argument("out", help="folder for psnr_vs_noise/<type>.csv and the PNGs")
    args = parser.parse_args()
    params = load_params()
    sweep = params["sweep"]
    rows = []
    for name, chosen in sweep.items():
        scores = json.loads((Path(args.metrics) / f"{name}.json").read_text())
        # Unclipped gaussian settings are another protocol: their own line, and no row in gaussian.csv.
        unclipped = not chosen.get("clip", params["noise"]["clip"])
        kind = f"{chosen['type']} (unclipped)" if unclipped and chosen["type"] == "gaussian" else chosen["type"]
        rows.append({"name": name, "type": kind, **{k: scores[k] for k in COLUMNS}})
    out = Path(args.out)
    for kind in NOISE_TYPES:  # a file per type, even an empty one, so dvc.yaml can name them all
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(sorted((r for r in rows if r["type"] == kind), key=lambda r: r["level"]))
        write_text(out / "psnr_vs_noise" / f"{kind}.csv", text.getvalue())
    plot_psnr_vs_noise(rows, out / "psnr_vs_noise.png")
    methods = []
    for row in rows:
        scores = json.loads((Path(args.baselines) / f"{row['name']}.json").read_text())
        for method, values in scores.items():
            if isinstance(values, dict) and "psnr" in values and method != "autoencoder_on_slow_subset":
                methods.append({"type": row["type"], "level": row["level"], "method": method, "psnr": values["psnr"]})
    plot_methods_vs_noise(methods, out / "baselines_vs_noise.png")
    live = Path(args.live)
    histories = {"main": read_losses(live / "main")} | {name: read_losses(live / "sweep" / name) for name in sweep}
    histories |= {f"blind-{name}": read_losses(live / "blind" / name) for name in params["blind"]}
    plot_losses(histories, out / "loss_curves.png", params["train"]["loss"])
    logging.info("plots -> %s", out)


if __name__ == "__main__":
    run(main)
