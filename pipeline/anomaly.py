"""Stage `anomaly`: score each one-class model's reconstruction error on the whole test set; AUROC and plots.

Protocol of Ruff et al. (ICML 2018): the model of class c calls the test images of c normal and the nine other
classes anomalous. Which score the headline table uses (`best`) is picked on the val split, never on test.
"""

import argparse
import csv
import io
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dae.anomaly import SCORES, auroc, mean_roc, reconstruct, relative_histogram, roc_points, score_images
from dae.datasets import load_splits
from dae.io import write_json, write_text
from dae.models import load_model
from dae.one_class import all_runs, class_images, run_files, variants
from dae.params import anomaly_datasets, load_params
from dae.visualise import plot_anomaly_curves, plot_method_grid
from pipeline._stage import run

SHOWN = 4  # most normal and most anomalous test images drawn per class


def class_results(
    params: dict[str, Any], data: dict[str, Any], root: Path, dataset: str, cls: int
) -> tuple[dict, dict[str, Any]]:
    """AUROC of every score for every (variant, seed) model of class `cls`, on test and (the DAE) on val; and the
    headline model with its test scores and its normal val images' scores, for the plots."""
    runs = all_runs(params["anomaly"])
    files = run_files(root, dataset, cls, runs)
    test_anom, val_anom = data["test_y"] != cls, data["val_y"] != cls
    aurocs, head = {}, {}
    for key in runs:
        model = load_model(files[key])
        test = score_images(model, data["test"])
        aurocs[key] = {"test": {s: auroc(v, test_anom) for s, v in test.items()}}
        if key[0] == "dae":  # `best` is picked on the DAE's val AUROC
            val = score_images(model, data["val"])
            aurocs[key]["val"] = {s: auroc(v, val_anom) for s, v in val.items()}
        if key == runs[0]:
            head = {"model": model, "test": test, "val_normal": {s: v[~val_anom] for s, v in val.items()}}
    return aurocs, head


def _r(x: float) -> float:
    return round(float(x), 6)


def summarise(aurocs: dict[int, dict], variant: str, seeds: list[int]) -> dict[str, Any]:
    """Per score: the first seed's AUROC per class (the model files') and its mean, and mean / std over seeds."""
    out = {}
    for score in SCORES:
        per = {c: [aurocs[c][variant, s]["test"][score] for s in seeds] for c in aurocs}
        seed_means = [np.mean([per[c][i] for c in per]) for i in range(len(seeds))]
        entry = {
            "auroc": {str(c): _r(v[0]) for c, v in per.items()},
            "mean_auroc": _r(seed_means[0]),
            "seeds": {
                "mean_auroc": _r(np.mean(seed_means)),
                "std_mean_auroc": _r(np.std(seed_means)),
                "auroc": {str(c): {"mean": _r(np.mean(v)), "std": _r(np.std(v))} for c, v in per.items()},
            },
        }
        if variant == "dae":
            entry["val_mean_auroc"] = _r(np.mean([aurocs[c]["dae", s]["val"][score] for c in aurocs for s in seeds]))
        out[score] = entry
    return out


def csv_text(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def draw(heads: dict[int, dict], data: dict[str, Any], dataset: str, best: str, out: Path) -> None:
    """Mean ROC of every score, the histogram of the best score (normal vs anomalous), and the example images."""
    test_y = data["test_y"]
    curves = {s: [roc_points(h["test"][s], test_y != c) for c, h in heads.items()] for s in SCORES}
    fpr = [p["fpr"] for p in next(iter(curves.values()))[0]]
    roc = [{"fpr": f, **{s: mean_roc(curves[s])[i] for s in SCORES}} for i, f in enumerate(fpr)]
    write_text(out / "roc" / f"{dataset}.csv", csv_text(roc))
    ratios = [h["test"][best] / max(float(np.median(h["val_normal"][best])), 1e-12) for h in heads.values()]
    anomalous = [test_y != c for c in heads]
    hist = relative_histogram(np.concatenate(ratios), np.concatenate(anomalous))
    write_text(out / "hist" / f"{dataset}.csv", csv_text(hist))
    plot_anomaly_curves(roc, hist, best, out / "curves" / f"{dataset}.png", f"{dataset}: one-class models")
    rows = {}
    for c, h in heads.items():
        order = np.argsort(h["test"][best], kind="stable")
        picked = torch.from_numpy(np.concatenate([order[:SHOWN], order[-SHOWN:]]))
        images = data["test"][picked]
        rows[f"class {c}"], rows[f"{c} rebuilt"] = images.numpy(), reconstruct(h["model"], images).numpy()
    title = f"{dataset}: {SHOWN} most normal | {SHOWN} most anomalous test images per class ({best})"
    plot_method_grid(rows, out / "examples" / f"{dataset}.png", title)


def evaluate_dataset(params: dict[str, Any], root: Path, dataset: str, plots: Path) -> dict[str, Any]:
    splits = load_splits({**params["data"], "name": dataset})
    data = {"test": class_images(splits, "test"), "val": class_images(splits, "val")}
    data.update(test_y=splits["test_y"], val_y=splits["val_y"])
    aurocs, heads = {}, {}
    for cls in params["anomaly"]["classes"]:
        aurocs[cls], heads[cls] = class_results(params, data, root, dataset, cls)
    seeds = params["anomaly"]["seeds"]
    result: dict[str, Any] = {"scores": summarise(aurocs, "dae", seeds)}
    result["best"] = max(SCORES, key=lambda s: result["scores"][s]["val_mean_auroc"])
    if "plain" in variants(params["anomaly"]):
        result["plain"] = summarise(aurocs, "plain", seeds)
    draw(heads, data, dataset, result["best"], plots)
    head = result["scores"][result["best"]]
    logging.info(
        "%s: best score %s, mean AUROC %.4f (over seeds %.4f)",
        dataset,
        result["best"],
        head["mean_auroc"],
        head["seeds"]["mean_auroc"],
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("models", help="data/models/anomaly: per-class files, and a folder per one-stage dataset")
    parser.add_argument("metrics", help="JSON to write: {dataset: {scores, best, plain}}")
    parser.add_argument("plots", help="folder for roc/<dataset>.csv, hist/<dataset>.csv, examples/<dataset>.png")
    args = parser.parse_args()
    params = load_params()
    models, plots = Path(args.models), Path(args.plots)
    out = {}
    for dataset in anomaly_datasets(params):
        root = models if dataset in params["anomaly"]["datasets"] else models / dataset
        out[dataset] = evaluate_dataset(params, root, dataset, plots)
    write_json(args.metrics, out)


if __name__ == "__main__":
    run(main)
