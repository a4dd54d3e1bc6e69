"""What each knob does: a study trains one model per value of one knob, everything else as in params.yaml.

`studies.grids` in params.yaml names the studies and their values; `apply` turns one value into the `model:` and
`train:` params of its model. The `noise` study is the exception: each value is a training noise level, and every
model is tested at every level of the grid.
"""

from __future__ import annotations

import copy
from typing import Any

STUDIES = ("latent", "depth", "dropout", "l2", "weight_decay", "loss", "output", "noise")


def depth_channels(channels: list[int], depth: int) -> list[int]:
    """`depth` conv levels, starting from the first level of model.channels and doubling at each level."""
    return [channels[0] * 2**i for i in range(depth)]


def apply(params: dict[str, Any], study: str, value: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (model, train) params of the study model for `value`, with the studies' own epochs."""
    model, train = copy.deepcopy(params["model"]), dict(params["train"])
    train["epochs"] = params["studies"]["epochs"]
    if study == "latent":
        model["latent"] = value
    elif study == "depth":
        if model["arch"] == "conv":
            model["channels"] = depth_channels(model["channels"], value)
        else:
            model["hidden"] = [model["hidden"][0] // 2**i or 1 for i in range(value)]
    elif study in ("dropout", "output"):
        model[study] = value
    elif study in ("l2", "weight_decay", "loss"):
        train[study] = value
    elif study != "noise":
        raise ValueError(f"unknown study {study!r}; expected one of {', '.join(STUDIES)}")
    return model, train
