"""Denoising autoencoders: data, noise, models, training, metrics and pictures for the DVC pipeline.

A model as the `model:` section of params.yaml describes it, for 8x8 grey images, on a batch of noisy ones (a
trained one, after `dvc repro`: `dae.load_model("data/models/main.safetensors")`):

>>> import torch
>>> from dae.models import build_model
>>> params = {"arch": "conv", "channels": [32, 64], "hidden": [256], "latent": 32, "activation": "relu",
...           "dropout": 0.0, "bottleneck": "dense", "norm": "none", "blocks": 0}
>>> model = build_model(params, (1, 8, 8)).eval()
>>> noisy = torch.rand(16, 1, 8, 8)                  # (N, C, H, W), floats in [0, 1]
>>> with torch.inference_mode():
...     denoised = model(noisy)
>>> denoised.shape
torch.Size([16, 1, 8, 8])
>>> bool(denoised.min() >= 0 and denoised.max() <= 1)
True
"""

from typing import Any

__all__ = ["DenoisingAutoencoder", "denoise_image", "load_model"]


def __getattr__(name: str) -> Any:
    # Imported lazily: stages that only need NumPy (corrupt) should not pay for importing torch.
    if name == "denoise_image":
        from dae import inference

        return inference.denoise_image
    if name in __all__:
        from dae import models

        return getattr(models, name)
    raise AttributeError(f"module 'dae' has no attribute {name!r}")
