"""Denoising autoencoders: data, noise, models, training, metrics and pictures for the DVC pipeline.

>>> import dae
>>> model = dae.load_model("data/models/main.safetensors")   # trained by `dvc repro`
>>> denoised = model(noisy_batch)                              # (N, C, H, W) floats in [0, 1]
"""

from typing import Any

__all__ = ["DenoisingAutoencoder", "load_model"]


def __getattr__(name: str) -> Any:
    # Imported lazily: stages that only need NumPy (corrupt) should not pay for importing torch.
    if name in __all__:
        from dae import models

        return getattr(models, name)
    raise AttributeError(f"module 'dae' has no attribute {name!r}")
