"""Encoder, Decoder and the DenoisingAutoencoder that chains them; saving and loading without pickle."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes
from torch import nn

from dae.errors import DaeError
from dae.io import pack_metadata, read_metadata, write_bytes

FORMAT = "dae-model/1"
ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
}

# Model options added after the first model files were written, with the value those files imply.
OPTIONAL = {"bottleneck": "dense", "norm": "none", "blocks": 0}


def _down_sizes(size: int, levels: int) -> list[int]:
    """Spatial size after each stride-2 convolution (kernel 3, padding 1)."""
    sizes = [size]
    for _ in range(levels):
        sizes.append((sizes[-1] + 1) // 2)
    return sizes


def _conv(c_in: int, c_out: int, stride: int, act: type[nn.Module], norm: str) -> list[nn.Module]:
    """3x3 convolution, then BatchNorm (which makes the conv's own bias redundant) and the activation."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=norm == "none")]
    if norm == "batch":
        layers.append(nn.BatchNorm2d(c_out))
    return [*layers, act()]


class Encoder(nn.Module):
    """Image (C, H, W) -> latent code.

    `conv`: stride-2 convolutions (each followed by `blocks` stride-1 ones), then either a linear layer to a latent
    vector (`bottleneck: dense`) or a convolution to a `latent`-channel map at the lowest resolution (`spatial`).
    `mlp`: linear layers to a latent vector.
    """

    def __init__(
        self,
        shape: tuple[int, int, int],
        arch: str,
        channels: list[int],
        hidden: list[int],
        latent: int,
        activation: str = "relu",
        dropout: float = 0.0,
        bottleneck: str = "dense",
        norm: str = "none",
        blocks: int = 0,
    ):
        super().__init__()
        act = ACTIVATIONS[activation]
        c, h, w = shape
        layers: list[nn.Module] = []
        if arch == "conv":
            for out in channels:
                layers += _conv(c, out, 2, act, norm)
                for _ in range(blocks):
                    layers += _conv(out, out, 1, act, norm)
                c = out
            h, w = _down_sizes(h, len(channels))[-1], _down_sizes(w, len(channels))[-1]
            if bottleneck == "dense":
                layers += [nn.Flatten(), nn.Dropout(dropout), nn.Linear(c * h * w, latent)]
            else:
                layers += [nn.Dropout(dropout), nn.Conv2d(c, latent, 3, padding=1)]
        else:
            width = c * h * w
            layers.append(nn.Flatten())
            for out in hidden:
                layers += [nn.Linear(width, out), act(), nn.Dropout(dropout)]
                width = out
            layers.append(nn.Linear(width, latent))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """Latent code -> image logits; `forward` applies the sigmoid that maps them onto the [0, 1] data range."""

    def __init__(
        self,
        shape: tuple[int, int, int],
        arch: str,
        channels: list[int],
        hidden: list[int],
        latent: int,
        activation: str = "relu",
        dropout: float = 0.0,
        bottleneck: str = "dense",
        norm: str = "none",
        blocks: int = 0,
    ):
        super().__init__()
        act = ACTIVATIONS[activation]
        c, h, w = shape
        layers: list[nn.Module] = []
        if arch == "conv":
            hs, ws = _down_sizes(h, len(channels)), _down_sizes(w, len(channels))
            if bottleneck == "dense":
                layers += [
                    nn.Linear(latent, channels[-1] * hs[-1] * ws[-1]),
                    act(),
                    nn.Dropout(dropout),
                    nn.Unflatten(1, (channels[-1], hs[-1], ws[-1])),
                ]
            else:
                layers += _conv(latent, channels[-1], 1, act, norm)
            outs = [*reversed(channels[:-1]), c]
            for i, out in enumerate(outs):
                level = len(channels) - i
                for _ in range(blocks):
                    layers += _conv(channels[level - 1], channels[level - 1], 1, act, norm)
                # output_padding picks the exact size the encoder came from (odd sizes such as 7 need 0, not 1).
                pad = (hs[level - 1] - (2 * hs[level] - 1), ws[level - 1] - (2 * ws[level] - 1))
                last = i == len(outs) - 1
                layers.append(
                    nn.ConvTranspose2d(
                        channels[level - 1],
                        out,
                        3,
                        stride=2,
                        padding=1,
                        output_padding=pad,
                        bias=last or norm == "none",
                    )
                )
                if not last:
                    layers += [nn.BatchNorm2d(out)] if norm == "batch" else []
                    layers.append(act())
        else:
            width = latent
            for out in reversed(hidden):
                layers += [nn.Linear(width, out), act(), nn.Dropout(dropout)]
                width = out
            layers += [nn.Linear(width, c * h * w), nn.Unflatten(1, (c, h, w))]
        self.net = nn.Sequential(*layers)

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(z))


class DenoisingAutoencoder(nn.Module):
    """encoder -> latent -> decoder; output has the input's shape and lies in [0, 1]."""

    def __init__(self, config: dict[str, Any]):
        super().__init__()
        self.config = dict(config)
        shape = tuple(config["shape"])
        kwargs = {k: config[k] for k in ("arch", "channels", "hidden", "latent", "activation", "dropout")}
        # Files saved before these options existed hold the plain conv/mlp models they default to.
        kwargs |= {k: config.get(k, v) for k, v in OPTIONAL.items()}
        self.encoder = Encoder(shape, **kwargs)
        self.decoder = Decoder(shape, **kwargs)
        self._check_shape(shape)

    def _check_shape(self, shape: tuple[int, ...]) -> None:
        was_training = self.training
        self.eval()
        with torch.no_grad():
            out = self(torch.zeros(2, *shape))
        self.train(was_training)
        if tuple(out.shape[1:]) != shape:
            raise DaeError(f"model: output shape {tuple(out.shape[1:])} != input shape {shape}; change model.channels")

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder.logits(self.encoder(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def model_config(model_params: dict[str, Any], shape: tuple[int, int, int]) -> dict[str, Any]:
    """The JSON-able config that rebuilds a model: the `model:` params plus the image shape."""
    keys = ("arch", "channels", "hidden", "latent", "activation", "dropout")
    return {
        "shape": list(shape),
        **{k: model_params[k] for k in keys},
        **{k: model_params.get(k, v) for k, v in OPTIONAL.items()},
    }


def build_model(model_params: dict[str, Any], shape: tuple[int, int, int]) -> DenoisingAutoencoder:
    if model_params["arch"] == "conv" and min(shape[1:]) < 2 ** len(model_params["channels"]):
        raise DaeError(
            f"model: {len(model_params['channels'])} conv levels shrink a {shape[1]}x{shape[2]} image "
            f"below 1 pixel; use at most {int(math.log2(min(shape[1:])))} entries in model.channels"
        )
    return DenoisingAutoencoder(model_config(model_params, shape))


def weights_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes: catches weights corrupted or edited on disk."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        digest.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        # reshape(-1): 0-dim tensors (BatchNorm's num_batches_tracked) cannot be viewed as bytes directly.
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def save_model(model: DenoisingAutoencoder, path: str | Path, extra: dict[str, Any] | None = None) -> None:
    """Weights as safetensors; the config (and `extra`, e.g. the noise setting) as JSON in the file's header."""
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    meta = pack_metadata(
        {"format": FORMAT, "config": model.config, "extra": extra or {}, "sha256": weights_digest(tensors)}
    )
    write_bytes(path, safetensors_bytes(tensors, metadata=meta))  # from bytes: see dae.io.save_arrays


def _file_config(path: Path) -> dict[str, Any]:
    """The model config in a file's header, checked like params.yaml's `model:` section; DaeError if malformed."""
    from dae.params import SCHEMA, ParamError, _section

    meta = read_metadata(path)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise DaeError(f"{path}: not a {FORMAT} file (header format = {found!r})")
    if not isinstance(meta.get("sha256"), str):
        raise DaeError(f"{path}: no weights checksum in the header (saved by an older version?); rerun dvc repro")
    config = meta.get("config")
    shape = config.get("shape") if isinstance(config, dict) else None
    if not (isinstance(shape, list) and len(shape) == 3 and all(type(s) is int and 0 < s <= 2**16 for s in shape)):
        raise DaeError(f"{path}: the header's config has no valid image shape [C, H, W] (got {shape!r})")
    try:
        _section("model", {**OPTIONAL, **{k: v for k, v in config.items() if k != "shape"}}, SCHEMA["model"])
    except ParamError as exc:
        raise DaeError(f"{path}: the header's model config is not valid ({exc})") from None
    return {"config": config, "sha256": meta["sha256"]}


def _stored_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return {k: tuple(handle.get_slice(k).get_shape()) for k in handle.keys()}  # noqa: SIM118 (not iterable)
    except (SafetensorError, OSError) as exc:
        raise DaeError(f"{path}: not a readable safetensors model ({exc})") from None


def load_model(path: str | Path, device: str | torch.device = "cpu") -> DenoisingAutoencoder:
    """Load a model saved by the pipeline (e.g. `data/models/main.safetensors`), in eval mode.

    Reads only safetensors and JSON: no code from the file is ever executed. The model is first built on the meta
    device (no memory) and its tensor shapes checked against the file's, so a header declaring a huge model
    allocates nothing; weights that fail their checksum or are not finite are refused.
    """
    path = Path(path)
    if not path.is_file():
        raise DaeError(f"{path}: model file not found")
    header = _file_config(path)
    try:
        with torch.device("meta"):
            model = DenoisingAutoencoder(header["config"])
    except (DaeError, RuntimeError, ValueError) as exc:
        raise DaeError(f"{path}: the header's config builds no model ({str(exc).splitlines()[0]})") from None
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if expected != _stored_shapes(path):
        raise DaeError(f"{path}: the header's config does not match the stored tensors (edited or corrupted)")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise DaeError(f"{path}: not a readable safetensors model ({exc})") from None
    if header["sha256"] != weights_digest(tensors):
        raise DaeError(f"{path}: the weights do not match the checksum in the file's header (corrupted or edited)")
    if not all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point()):
        raise DaeError(f"{path}: the weights hold NaN or infinite values; retrain the model")
    # assign=True: the loaded tensors become the weights, so the file's tensors are the only copy in memory.
    model.load_state_dict(tensors, strict=True, assign=True)
    return model.to(device).eval()


def model_extra(path: str | Path) -> dict[str, Any]:
    """The `extra` JSON saved with a model (noise setting, dataset, epochs...)."""
    return read_metadata(path).get("extra", {})
