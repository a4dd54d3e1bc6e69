"""Model files: weights as safetensors, the config and a weights checksum as JSON in the header; no pickle."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes
from torch import nn

from dae.errors import DaeError
from dae.io import pack_metadata, read_metadata, write_bytes
from dae.models.config import OPTIONAL

FORMAT = "dae-model/1"
MAX_CHANNELS, MAX_SIDE = 4, 256


def weights_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes: catches weights corrupted or edited on disk."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        digest.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        # reshape(-1): 0-dim tensors (BatchNorm's num_batches_tracked) cannot be viewed as bytes directly.
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def save_model(model: nn.Module, path: str | Path, extra: dict[str, Any] | None = None) -> None:
    """Weights as safetensors; the model's `config` (and `extra`, e.g. the noise setting) as JSON in the header."""
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    meta = pack_metadata(
        {"format": FORMAT, "config": model.config, "extra": extra or {}, "sha256": weights_digest(tensors)}
    )
    write_bytes(path, safetensors_bytes(tensors, metadata=meta))  # from bytes: see dae.io.save_arrays


def read_header(path: Path) -> dict[str, Any]:
    """{config, sha256} from a file's header, the config checked like params.yaml's `model:` section; DaeError if
    malformed."""
    from dae.params import ParamError, validate_model

    meta = read_metadata(path)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise DaeError(f"{path}: not a {FORMAT} file (header format = {found!r})")
    if not isinstance(meta.get("sha256"), str):
        raise DaeError(f"{path}: no weights checksum in the header (saved by an older version?); rerun dvc repro")
    config = meta.get("config")
    shape = config.get("shape") if isinstance(config, dict) else None
    # Bounded: load_model runs the model once on a zero image of this shape (a spatial bottleneck's weights do not
    # depend on H and W, so the stored tensors cannot vouch for them).
    if not (isinstance(shape, list) and len(shape) == 3 and all(type(s) is int for s in shape)) or not (
        0 < shape[0] <= MAX_CHANNELS and 0 < shape[1] <= MAX_SIDE and 0 < shape[2] <= MAX_SIDE
    ):
        raise DaeError(
            f"{path}: the header's config has no valid image shape [C, H, W] with C <= {MAX_CHANNELS} and H, W <= "
            f"{MAX_SIDE} (got {shape!r})"
        )
    raw = {**OPTIONAL, **{k: v for k, v in config.items() if k != "shape"}}
    try:
        checked = validate_model(raw)
    except ParamError as exc:
        raise DaeError(f"{path}: the header's model config is not valid ({exc})") from None
    # The model is built from the header as written: a value params.yaml would coerce ("2" for 2) is refused here.
    wrong = [k for k in raw if type(raw[k]) is not type(checked[k]) or raw[k] != checked[k]]
    if wrong:
        raise DaeError(f"{path}: the header's model config is not valid ({wrong[0]} = {raw[wrong[0]]!r})")
    return {"config": config, "sha256": meta["sha256"]}


def stored_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """{tensor name: shape} as the file declares them, read without loading any tensor."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return {k: tuple(handle.get_slice(k).get_shape()) for k in handle.keys()}  # noqa: SIM118 (not iterable)
    except (SafetensorError, OSError) as exc:
        raise DaeError(f"{path}: not a readable safetensors model ({exc})") from None


def read_weights(path: Path, sha256: str) -> dict[str, torch.Tensor]:
    """The file's tensors, refused unless they match the header's checksum and are all finite."""
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise DaeError(f"{path}: not a readable safetensors model ({exc})") from None
    if sha256 != weights_digest(tensors):
        raise DaeError(f"{path}: the weights do not match the checksum in the file's header (corrupted or edited)")
    if not all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point()):
        raise DaeError(f"{path}: the weights hold NaN or infinite values; retrain the model")
    return tensors


def model_extra(path: str | Path) -> dict[str, Any]:
    """The `extra` JSON saved with a model (noise setting, dataset, epochs...)."""
    meta = read_metadata(path)
    extra = meta.get("extra") if isinstance(meta, dict) and meta.get("format") == FORMAT else None
    if not isinstance(extra, dict):  # a data file (pairs, clean images) is safetensors too
        raise DaeError(f"{path}: not a {FORMAT} file (its header holds no `extra` mapping)")
    return extra
