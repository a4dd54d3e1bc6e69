"""ModelConfig: everything that rebuilds a model, as written (JSON) into a model file's header."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class ModelConfig:
    """The `model:` params plus the image shape. Each architecture reads the fields it uses."""

    shape: tuple[int, int, int]
    arch: str
    channels: tuple[int, ...]
    hidden: tuple[int, ...]
    latent: int
    activation: str
    dropout: float
    # Options added after the first model files were written, defaulting to what those files hold.
    bottleneck: str = "dense"
    norm: str = "none"
    blocks: int = 0
    output: str = "sigmoid"
    noise_map: str = "none"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """From a header's (or a params-like) mapping; other keys are ignored, optional ones may be absent."""
        values = {f.name: data[f.name] if f.default is MISSING else data.get(f.name, f.default) for f in fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

    @classmethod
    def from_params(cls, model_params: dict[str, Any], shape: tuple[int, int, int]) -> ModelConfig:
        return cls.from_dict({**model_params, "shape": list(shape)})

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: tuples as lists, values as given (the header holds exactly what the params said).

        A field of WRITTEN_WHEN_SET at its default is left out, so models that do not use it keep the bytes they had
        before it existed."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values = {k: v for k, v in values.items() if not (k in WRITTEN_WHEN_SET and v == OPTIONAL[k])}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


# The optional fields and the value a file without them implies (the header check fills them in).
OPTIONAL = {f.name: f.default for f in fields(ModelConfig) if f.default is not MISSING}
WRITTEN_WHEN_SET = {"noise_map"}
