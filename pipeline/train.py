"""Stage `train`: fit one denoising autoencoder on one setting's pairs; log losses and val grids with DVCLive."""

import argparse
import logging

import torch
from dvclive import Live

from dae.io import atomic_dir, load_arrays
from dae.models import build_model, save_model
from dae.noise import to_unit
from dae.params import load_params
from dae.resources import require, training_bytes
from dae.training import denoise, fit, pick_device, seed_everything
from dae.visualise import comparison_grid
from pipeline._stage import run


def pairs(arrays: dict, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(arrays[f"{split}_noisy"]), torch.from_numpy(to_unit(arrays[f"{split}_clean"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pairs", help="output of a corrupt stage")
    parser.add_argument("model", help="model file to write (safetensors, config in its header)")
    parser.add_argument("live_dir", help="DVCLive folder for loss curves and per-epoch val grids")
    args = parser.parse_args()
    params = load_params()
    train = params["train"]
    arrays, meta = load_arrays(args.pairs)
    if train["threads"]:
        torch.set_num_threads(train["threads"])
    seed_everything(train["seed"], train["deterministic"])
    device = pick_device(train["device"])
    model = build_model(params["model"], tuple(arrays["train_clean"].shape[1:]))
    n_images = len(arrays["train_clean"]) + len(arrays["val_clean"])
    data, batch = training_bytes(model, n_images, tuple(arrays["train_clean"].shape[1:]), train["batch_size"])
    lower = "train.batch_size" if batch > data else "data.subset (or train.batch_size)"
    require(data + batch, f"training on {n_images:,} images in batches of {train['batch_size']:,}", lower, device)
    x_val, y_val = pairs(arrays, "val")
    shown = slice(0, params["eval"]["grid_images"])

    # DVCLive writes as it goes; the folder appears under its real name only once training has finished.
    with atomic_dir(args.live_dir) as live_dir, Live(dir=str(live_dir), dvcyaml=False, save_dvc_exp=False) as live:

        def on_epoch(epoch: int, train_loss: float, val_loss: float, model: torch.nn.Module) -> None:
            live.step = epoch  # DVCLive counts from 0; the logs count epochs from 1, like best_epoch
            live.log_metric("train/loss", train_loss)
            live.log_metric("val/loss", val_loss)
            out = denoise(model, x_val[shown], device=device)
            grid = comparison_grid([x_val[shown].numpy(), out.numpy(), y_val[shown].numpy()])
            live.log_image(f"val_grid/epoch_{epoch:03d}.png", grid)
            live.next_step()

        model, history = fit(model, pairs(arrays, "train"), (x_val, y_val), train, device, on_epoch)
        best = min(history, key=lambda h: h["val_loss"])
        live.summary["best_epoch"] = best["epoch"]
        live.summary["best_val_loss"] = best["val_loss"]
    extra = {
        "setting": meta["setting"],
        "dataset": meta["dataset"],
        "best_epoch": best["epoch"],
        "best_val_loss": best["val_loss"],
        "epochs": train["epochs"],
    }
    save_model(model, args.model, extra)
    logging.info("best val loss %.5f at epoch %d -> %s", best["val_loss"], best["epoch"], args.model)


if __name__ == "__main__":
    run(main)
