"""Denoising autoencoders: which architectures exist, and how a model is built from params or loaded from a file.

An architecture is a module of its own (conv.py, mlp.py, unet.py, dncnn.py) holding an Encoder and a Decoder
subclass that build their layers from a ModelConfig; adding one is that module and its line in ARCHITECTURES,
its name in dae.params.ARCHS, and what configs it cannot build in dae.architectures.check_model (whether it takes a
noise map, is residual, or halves the image per level: the rules the params check runs without importing torch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from dae.architectures import check_model, check_noise_map
from dae.errors import DaeError
from dae.models.base import Decoder, Encoder
from dae.models.config import ModelConfig
from dae.models.conv import ConvDecoder, ConvEncoder
from dae.models.dncnn import DnCNNDecoder, DnCNNEncoder
from dae.models.files import FORMAT, model_extra, read_header, read_weights, save_model, stored_shapes, weights_digest
from dae.models.mlp import MLPDecoder, MLPEncoder
from dae.models.unet import UNetDecoder, UNetEncoder

__all__ = [
    "ARCHITECTURES",
    "FORMAT",
    "Decoder",
    "DenoisingAutoencoder",
    "Encoder",
    "ModelConfig",
    "build_model",
    "load_model",
    "model_extra",
    "save_model",
    "start_from",
    "weights_digest",
]

# model.arch -> (encoder class, decoder class).
ARCHITECTURES: dict[str, tuple[type[Encoder], type[Decoder]]] = {
    "conv": (ConvEncoder, ConvDecoder),
    "mlp": (MLPEncoder, MLPDecoder),
    "unet": (UNetEncoder, UNetDecoder),
    "dncnn": (DnCNNEncoder, DnCNNDecoder),
}


def _architecture(arch: str) -> tuple[type[Encoder], type[Decoder]]:
    if arch not in ARCHITECTURES:
        raise DaeError(f"model: arch = {arch!r} is not allowed; expected one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch]


class DenoisingAutoencoder(nn.Module):
    """encoder -> latent -> decoder; output has the input's shape and lies in [0, 1]."""

    def __init__(self, config: ModelConfig | dict[str, Any]):
        super().__init__()
        spec = config if isinstance(config, ModelConfig) else ModelConfig.from_dict(config)
        # `config` is the JSON save_model writes. A header's dict is kept as read, so a file saved before an
        # optional key existed is saved again with the same header.
        self.config = spec.to_dict() if isinstance(config, ModelConfig) else dict(config)
        encoder, decoder = _architecture(spec.arch)
        check_noise_map(spec.arch, spec.noise_map)  # a file's header too: its first layer would not fit
        self.encoder = encoder(spec)
        self.decoder = decoder(spec)
        self.decoder.output = spec.output
        # On the meta device (planning memory, checking a file's shapes) no forward pass: it would cost torch
        # about a second to import its meta kernels, in every stage that loads a model. load_model checks later.
        if next(self.parameters()).device.type != "meta":
            self.check_shape(spec.shape)

    def check_shape(self, shape: tuple[int, ...]) -> None:
        """Refuse a config whose decoder does not give back the input's shape."""
        was_training = self.training
        self.eval()
        with torch.no_grad():
            out = self(torch.zeros(1, *shape))
        self.train(was_training)
        if tuple(out.shape[1:]) != shape:
            raise DaeError(f"model: output shape {tuple(out.shape[1:])} != input shape {shape}; change model.channels")

    @property
    def stride(self) -> int | None:
        """Image sides must be multiples of it (fully convolutional models), or None: only `config["shape"]`."""
        return _architecture(self.config["arch"])[0].stride(ModelConfig.from_dict(self.config))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder.logits(self.encoder(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def build_model(model_params: dict[str, Any], shape: tuple[int, int, int]) -> DenoisingAutoencoder:
    """A freshly initialised model from the `model:` params and the image shape (C, H, W)."""
    check_model(model_params, shape)
    return DenoisingAutoencoder(ModelConfig.from_params(model_params, shape))


def start_from(model: DenoisingAutoencoder, start: DenoisingAutoencoder) -> None:
    """Give `model` the weights of `start` (fine-tuning): the same arch and layers, where a layer of `model` may take
    more input channels (`noise_map: estimate` added): it gets `start`'s weights on the channels they share and zeros
    on the new ones, so `model` starts out computing exactly what `start` does. DaeError otherwise."""
    ours, theirs = model.state_dict(), start.state_dict()
    if start.config["arch"] != model.config["arch"] or ours.keys() != theirs.keys():
        arch = start.config["arch"]
        raise DaeError(f"a {arch} model of other layers; cannot fine-tune it as this {model.config['arch']}")
    weights = {}
    for name, old in theirs.items():
        new = ours[name]
        wider = old.dim() == 4 and old.shape[0] == new.shape[0] and old.shape[2:] == new.shape[2:]
        if old.shape != new.shape and not (wider and old.shape[1] < new.shape[1]):
            raise DaeError(f"layer {name} is {tuple(old.shape)} there and {tuple(new.shape)} here; cannot fine-tune")
        weights[name] = (
            old if old.shape == new.shape else torch.cat([old, old.new_zeros(new.shape)[:, old.shape[1] :]], 1)
        )
    model.load_state_dict(weights)


def load_model(path: str | Path, device: str | torch.device = "cpu") -> DenoisingAutoencoder:
    """Load a model saved by the pipeline (e.g. `data/models/main.safetensors`), in eval mode.

    Reads only safetensors and JSON: no code from the file is ever executed. The model is first built on the meta
    device (no memory) and its tensor shapes checked against the file's, so a header declaring a huge model
    allocates nothing; weights that fail their checksum or are not finite are refused.
    """
    path = Path(path)
    if path.is_dir():
        raise DaeError(f"{path}: is a folder; expected a .safetensors model file")
    if not path.is_file():
        raise DaeError(f"{path}: model file not found")
    header = read_header(path)
    try:
        with torch.device("meta"):
            model = DenoisingAutoencoder(header["config"])
    except (DaeError, RuntimeError, ValueError, TypeError) as exc:
        raise DaeError(f"{path}: the header's config builds no model ({str(exc).splitlines()[0]})") from None
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if expected != stored_shapes(path):
        raise DaeError(f"{path}: the header's config does not match the stored tensors (edited or corrupted)")
    tensors = read_weights(path, header["sha256"])
    # assign=True: the loaded tensors become the weights, so the file's tensors are the only copy in memory.
    model.load_state_dict(tensors, strict=True, assign=True)
    try:
        model.check_shape(tuple(header["config"]["shape"]))
    except (RuntimeError, ValueError) as exc:
        raise DaeError(f"{path}: the header's config builds no model ({str(exc).splitlines()[0]})") from None
    return model.to(device).eval()
