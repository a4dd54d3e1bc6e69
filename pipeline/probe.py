"""Stage `probe`: are a DAE's features better than a plain autoencoder's? A linear probe on the frozen codes.

A plain autoencoder and one DAE per `probe.settings` entry (the same network, `probe.epochs` epochs) are trained
on the training images; a logistic regression on their codes of the training images is scored on the test images,
next to the same probe on raw pixels and on PCA with as many components as the code has numbers.
"""

import argparse
import logging
from pathlib import Path
from typing import Any

import torch

from dae.io import load_arrays, write_json, write_text
from dae.noise import corrupt, rng_for, to_unit
from dae.params import check_unchanged, load_params
from dae.probe import latent_codes, pca_features, probe_error
from dae.training import pick_device
from dae.visualise import plot_probe
from pipeline._build import fit_within_memory
from pipeline._stage import run


def train_features(params: dict[str, Any], x: dict[str, torch.Tensor], setting: dict | None) -> torch.nn.Module:
    """An autoencoder of `model:` trained on clean targets: from noisy inputs (`setting`) or clean ones (None)."""
    train_p = {**params["train"], "epochs": params["probe"]["epochs"]}
    noise = params["noise"]

    def inputs(split: str) -> torch.Tensor:
        if setting is None:
            return x[split]
        rng = rng_for(noise["seed"], setting, split)
        return torch.from_numpy(corrupt(x[split].numpy(), setting, rng, noise["clip"], noise["salt_ratio"]))

    train, val = (inputs("train"), x["train"]), (inputs("val"), x["val"])
    model, _ = fit_within_memory(params["model"], train_p, train, val, pick_device(train_p["device"]))
    return model.cpu()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("clean", help="clean images and labels (download stage)")
    parser.add_argument("metrics", help='JSON to write: {"raw": e, "pca": e, "ae": e, "dae": {setting: e}}')
    parser.add_argument("plots", help="folder for probe.csv and probe.png")
    args = parser.parse_args()
    params = load_params()
    arrays, _ = load_arrays(args.clean)
    x = {s: torch.from_numpy(to_unit(arrays[f"{s}_x"])) for s in ("train", "val", "test")}
    y_train, y_test = arrays["train_y"], arrays["test_y"]

    def error(model: torch.nn.Module) -> float:
        return probe_error(latent_codes(model, x["train"]), y_train, latent_codes(model, x["test"]), y_test)

    pixels = {s: x[s].flatten(1).double().numpy() for s in ("train", "test")}
    ae = train_features(params, x, None)
    n = latent_codes(ae, x["train"][:1]).shape[1]
    out: dict[str, Any] = {"raw": probe_error(pixels["train"], y_train, pixels["test"], y_test)}
    pca_train, pca_test = pca_features(pixels["train"], pixels["test"], n)
    out["pca"] = probe_error(pca_train, y_train, pca_test, y_test)
    out["ae"] = error(ae)
    out["dae"] = {name: error(train_features(params, x, s)) for name, s in params["probe"]["settings"].items()}
    out["n_features"] = n
    check_unchanged()
    out["dae"] = {k: round(v, 6) for k, v in out["dae"].items()}
    write_json(args.metrics, {k: round(v, 6) if isinstance(v, float) else v for k, v in out.items()})
    rows = [{"setting": k, **s, "error": out["dae"][k]} for k, s in params["probe"]["settings"].items()]
    write_text(
        Path(args.plots) / "probe.csv",
        "setting,type,level,error\n" + "".join(f"{r['setting']},{r['type']},{r['level']},{r['error']}\n" for r in rows),
    )
    plot_probe(rows, {k: out[k] for k in ("raw", "pca", "ae")}, Path(args.plots) / "probe.png")
    logging.info("probe error: raw %.4f, pca %.4f, ae %.4f, dae %s", out["raw"], out["pca"], out["ae"], out["dae"])


if __name__ == "__main__":
    run(main)
