"""Build a model only once training it is known to fit in memory (the train stages share it)."""

from typing import Any

import torch

from dae.models import build_model
from dae.resources import data_bytes, knob_to_lower, require, training_bytes, weight_bytes


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
