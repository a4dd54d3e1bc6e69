"""What the train stages share: check memory, fit with DVCLive logging, save the best model."""

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from dvclive import Live

from dae import distributed
from dae.io import atomic_dir
from dae.models import save_model
from dae.params import check_unchanged, on_device
from dae.training import denoise, fit, pick_device, seed_everything
from dae.visualise import comparison_grid
from pipeline._build import build_within_memory

GRID_EPOCHS = 50


def setup(train: dict[str, Any]) -> tuple[torch.device, dict[str, Any]]:
    """The device (this rank's, under torchrun), then `train:` as it runs there (train.gpu laid over it on CUDA),
    whose threads and seeds are set: train.gpu may change them too."""
    device = distributed.setup(pick_device(train["device"]))
    train = on_device(train, device.type)
    if train["threads"]:
        torch.set_num_threads(train["threads"])
    seed_everything(train["seed"], train["deterministic"])
    return device, train


def train_and_save(
    params: dict[str, Any],
    train_pairs: tuple[torch.Tensor, torch.Tensor],
    val_pairs: tuple[torch.Tensor, torch.Tensor],
    model_path: str,
    live_dir: str,
    extra: dict[str, Any],
    redraw: Callable[[int], np.ndarray] | None = None,
) -> None:
    """Fit one model on float (noisy, clean) tensors; log losses and val grids per epoch; save the best by val loss.

    `redraw(epoch)` gives fresh noisy training inputs for each epoch after the first (`dae.noise.sampler`). Stops
    with a ParamError, writing nothing, at the end of the epoch in which params.yaml changed."""
    device, train = setup(params["train"])
    params = {**params, "train": train}
    shape = tuple(train_pairs[1].shape[1:])
    model = build_within_memory(params, shape, len(train_pairs[1]), len(val_pairs[1]), device)
    if not distributed.is_main():  # under torchrun, rank 0 alone logs and writes
        fit(model, train_pairs, val_pairs, train, device, None, redraw)
        return distributed.teardown()
    x_val, y_val = val_pairs
    shown = slice(0, params["eval"]["grid_images"])
    # At most about GRID_EPOCHS val grids, whatever train.epochs is: every k-th epoch, and the last.
    every = math.ceil(train["epochs"] / GRID_EPOCHS)

    # DVCLive writes as it goes; the folder appears under its real name only once training has finished.
    with atomic_dir(live_dir) as tmp_dir, Live(dir=str(tmp_dir), dvcyaml=False, save_dvc_exp=False) as live:

        def on_epoch(epoch: int, train_loss: float, val_loss: float, model: torch.nn.Module) -> None:
            check_unchanged()  # a clashing experiment stops now, not after the rest of its epochs
            live.step = epoch  # DVCLive counts from 0; the logs count epochs from 1, like best_epoch
            live.log_metric("train/loss", train_loss)
            live.log_metric("val/loss", val_loss)
            if epoch % every == 0 or epoch == train["epochs"]:
                out = denoise(model, x_val[shown], device=device)
                grid = comparison_grid([x_val[shown].numpy(), out.numpy(), y_val[shown].numpy()])
                live.log_image(f"val_grid/epoch_{epoch:03d}.png", grid)
            live.next_step()

        model, history = fit(model, train_pairs, val_pairs, train, device, on_epoch, redraw)
        check_unchanged()  # before anything is written under its real name
        best = min(history, key=lambda h: h["val_loss"])
        live.summary["best_epoch"] = best["epoch"]
        live.summary["best_val_loss"] = best["val_loss"]
    extra = {**extra, "best_epoch": best["epoch"], "best_val_loss": best["val_loss"], "epochs": train["epochs"]}
    save_model(model, model_path, extra)
    distributed.teardown()
    logging.info("best val loss %.5f at epoch %d -> %s", best["val_loss"], best["epoch"], model_path)
