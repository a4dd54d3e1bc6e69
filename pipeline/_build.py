"""Build a model only once training it is known to fit in memory (the train stages share it)."""

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from dae.errors import DaeError
from dae.models import build_model, load_model, start_from
from dae.params import check_unchanged, on_device
from dae.resources import data_bytes, knob_to_lower, require, training_bytes, weight_bytes
from dae.training import fit, seed_everything


def build_within_memory(
    params: dict[str, Any], shape: tuple[int, ...], n_train: int, n_val: int, device: torch.device
) -> torch.nn.Module:
    """The model, built only once training it is known to fit; else a one-line refusal naming the knob to lower.

    The weights (the part a huge `model.latent` blows up) are counted on the meta device, before anything is
    allocated; the activations of one sample, on the real model once its weights are known to fit.
    """
    train = params["train"]
    what = f"training on {n_train + n_val:,} images in batches of {min(train['batch_size'], n_train):,}"
    with torch.device("meta"):
        plan = build_model(params["model"], shape)
    parts = {"data": data_bytes(n_train + n_val, shape), "batch": 0, "weights": weight_bytes(plan)}
    require(sum(parts.values()), what, knob_to_lower(parts, params["model"]), device)
    model = build_model(params["model"], shape)
    parts["batch"] = training_bytes(model, n_train, shape, train["batch_size"])["batch"]
    require(sum(parts.values()), what, knob_to_lower(parts, params["model"]), device)
    return model


def _stop_if_params_changed(*_: Any) -> None:
    # A second `dvc exp run` in the workspace rewrote params.yaml: stop this run now, not after its last epoch.
    check_unchanged()


def fit_within_memory(
    model_p: dict[str, Any],
    train_p: dict[str, Any],
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    device: torch.device,
    redraw: Callable[[int], np.ndarray] | None = None,
    init: str | None = None,
    watch_params: bool = True,
) -> tuple[torch.nn.Module, dict[str, float]]:
    """Seed, build within memory and fit one model without logging (the study, probe, one-class and natural stages);
    the model of the best val loss, and that epoch's history row. `init`: a model file to start from (fine-tuning).
    Stops with a ParamError at the end of the epoch in which params.yaml changed (`dae.params.check_unchanged`);
    `watch_params=False` for callers that borrow this trainer but are not run from params.yaml (benches)."""
    train_p = on_device(train_p, device.type)
    if train_p["threads"]:  # equal thread counts give bit-equal weights, in these stages as in train
        torch.set_num_threads(train_p["threads"])
    seed_everything(train_p["seed"], train_p["deterministic"])
    shape = tuple(train[1].shape[1:])
    model = build_within_memory({"model": model_p, "train": train_p}, shape, len(train[1]), len(val[1]), device)
    if init is not None:
        try:
            start_from(model, load_model(init))
        except DaeError as exc:
            raise DaeError(f"{init}: {exc}") from None
    model, history = fit(model, train, val, train_p, device, _stop_if_params_changed if watch_params else None, redraw)
    return model, min(history, key=lambda h: h["val_loss"])
