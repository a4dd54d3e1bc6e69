"""Stages `train_anomaly@<dataset>-<class>` and `train_anomaly_all@<dataset>`: one-class autoencoders.

Each model sees the training images of one class only (its val images pick the epoch), once with noisy inputs
(the DAE) and, with `anomaly.plain`, once with clean ones (the plain autoencoder), for every seed of
`anomaly.seeds`. `train_anomaly_all` trains every class of a small dataset in one process, where starting a
process per class would cost more than the training.
"""

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dae.datasets import load_splits
from dae.io import atomic_dir
from dae.models import save_model
from dae.one_class import all_runs, class_images, one_class_pairs, run_files, runs_dir
from dae.params import ParamError, anomaly_params, check_unchanged, load_params
from dae.training import pick_device
from pipeline._build import fit_within_memory
from pipeline._stage import run


def train_run(
    params: dict[str, Any], splits: dict[str, np.ndarray], cls: int, variant: str, seed: int, device: torch.device
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """One model of class `cls`: the DAE (`variant` "dae") or the plain autoencoder, from `seed`."""
    model_p, train_p = anomaly_params(params)
    train_p = {**train_p, "seed": seed}
    train, val = class_images(splits, "train", cls), class_images(splits, "val", cls)
    if not len(train) or not len(val):
        raise ParamError(f"params: class {cls} has no train or val images in this dataset; check anomaly.classes")
    std = params["anomaly"]["noise"] if variant == "dae" else 0.0
    train_pairs, val_pairs, redraw = one_class_pairs(train, val, std, seed)
    model, best = fit_within_memory(model_p, train_p, train_pairs, val_pairs, device, redraw)
    extra = {"class": cls, "variant": variant, "seed": seed, "noise_std": std, "n_train": len(train), **best}
    return model, extra


def train_class(params: dict[str, Any], splits: dict[str, np.ndarray], dataset: str, cls: int, root: Path) -> None:
    """Every (variant, seed) model of one class, written under `root` (see dae.anomaly.run_files)."""
    overridden = "device" in params["anomaly"]["train"]
    device = pick_device(anomaly_params(params)[1]["device"], "anomaly.train.device" if overridden else "train.device")
    runs = all_runs(params["anomaly"])
    files = run_files(root, dataset, cls, runs)
    trained = {}
    for variant, seed in runs:
        start = time.perf_counter()
        trained[variant, seed] = train_run(params, splits, cls, variant, seed, device)
        logging.info("%s class %d %s seed %d: %.1f s", dataset, cls, variant, seed, time.perf_counter() - start)
    check_unchanged()  # before anything is written under its real name
    head = runs[0]
    with atomic_dir(runs_dir(root, dataset, cls)) as tmp:  # empty for one run, yet there: a declared output
        for key in runs[1:]:
            save_model(trained[key][0], tmp / files[key].name, {"dataset": dataset, **trained[key][1]})
    save_model(trained[head][0], files[head], {"dataset": dataset, **trained[head][1]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset", help="a dataset of anomaly.datasets or anomaly.datasets_one_stage")
    parser.add_argument("cls", metavar="class", help="a class of anomaly.classes, or `all` for every one of them")
    parser.add_argument("out", help="folder the model files go into (for `all`: written whole, atomically)")
    args = parser.parse_args()
    params = load_params()
    anomaly = params["anomaly"]
    if args.dataset not in (*anomaly["datasets"], *anomaly["datasets_one_stage"]):
        raise ParamError(f"params: {args.dataset!r} is in neither anomaly.datasets nor anomaly.datasets_one_stage")
    splits = load_splits({**params["data"], "name": args.dataset})
    if args.cls != "all":
        cls = int(args.cls)
        if cls not in anomaly["classes"]:
            raise ParamError(f"params: class {cls} is not in anomaly.classes {anomaly['classes']}")
        train_class(params, splits, args.dataset, cls, Path(args.out))
        return
    with atomic_dir(args.out) as tmp:
        for cls in anomaly["classes"]:
            train_class(params, splits, args.dataset, cls, tmp)


if __name__ == "__main__":
    run(main)
