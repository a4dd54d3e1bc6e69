"""Every knob of the pipeline, validated and coerced in one place.

`dvc exp run -S` rewrites params.yaml through OmegaConf, so numbers can come back as strings and booleans as
"true"; every value is coerced here before any stage writes anything.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from dae.architectures import check_model
from dae.datasets import SHAPES
from dae.errors import DaeError
from dae.studies import apply

DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10")
NOISE_TYPES = ("gaussian", "salt_pepper", "masking")
# The noise param that sets each type's strength, as written in `noise:` (sweep entries call it `level`).
LEVEL_KEY = {"gaussian": "std", "salt_pepper": "amount", "masking": "rate"}
ARCHS = ("conv", "mlp", "unet", "dncnn")
ACTIVATIONS = ("relu", "leaky_relu", "gelu", "silu", "tanh", "elu")
LOSSES = ("mse", "bce", "psnr")
OPTIMIZERS = ("adam", "adamw")
DEVICES = ("auto", "cpu", "cuda", "mps")
MAIN = "main"

Spec = Callable[[str, Any], Any]
BOOL_TAG = "tag:yaml.org,2002:bool"


class _Loader(yaml.SafeLoader):
    """params.yaml's booleans as DVC reads them (YAML 1.2: only true and false; PyYAML's YAML 1.1 also takes yes,
    no, on and off, which DVC would write into a stage's command as text), and a key given twice an error, as in
    DVC, not the last one silently. Other YAML 1.1 readings stay (1e-3 is text, coerced by the checks below)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` then overrides: not a duplicate
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: SafeLoader's own message says so
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"found duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def read_yaml(text: str) -> Any:
    """YAML text read as params.yaml is (`_Loader`)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader)


class ParamError(DaeError):
    pass


def _fail(key: str, value: Any, allowed: str) -> None:
    raise ParamError(f"params: {key} = {value!r} is not allowed; expected {allowed}")


def _null(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in ("null", "none", "~", ""))


def _described(allowed: str, check: Spec) -> Spec:
    """Attach the "what is allowed" text to a validator: error messages and docs/params.md both read it."""
    check.allowed = allowed  # type: ignore[attr-defined]
    return check


def _as_float(key: str, value: Any, allowed: str) -> float:
    """A finite float, or a ParamError: inf and nan are never a sensible knob (`-S train.epochs=inf`)."""
    if isinstance(value, bool):
        _fail(key, value, allowed)
    try:
        out = float(value)
    except (TypeError, ValueError, OverflowError):
        _fail(key, value, allowed)
    if not math.isfinite(out):
        _fail(key, value, allowed)
    return out


def number(lo: float | None = None, hi: float | None = None, lo_open: bool = False, why: str = "") -> Spec:
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        parts.append(f"<= {hi:g}")
    allowed = "a number" + (" " + " and ".join(parts) if parts else "") + (f" ({why})" if why else "")

    def check(key: str, value: Any) -> float:
        out = _as_float(key, value, allowed)
        if (lo is not None and (out < lo or (lo_open and out == lo))) or (hi is not None and out > hi):
            _fail(key, value, allowed)
        return out

    return _described(allowed, check)


MAX_INT = 2**31 - 1  # torch takes sizes as C longs: a bigger "whole number" ends in an overflow traceback


def integer(lo: int | None = None, hi: int | None = MAX_INT, why: str = "") -> Spec:
    allowed = "a whole number" + (f" >= {lo}" if lo is not None else "")
    allowed += (f" and <= {hi:,}" if lo is not None else f" <= {hi:,}") if hi is not None else ""
    allowed += f" ({why})" if why else ""

    def check(key: str, value: Any) -> int:
        as_float = _as_float(key, value, allowed)
        if as_float != int(as_float) or (lo is not None and as_float < lo) or (hi is not None and as_float > hi):
            _fail(key, value, allowed)
        # int(value) where it is already an int: floats lose whole numbers above 2**53.
        return value if isinstance(value, int) else int(as_float)

    return _described(allowed, check)


def choice(*options: str) -> Spec:
    allowed = "one of " + ", ".join(options)

    def check(key: str, value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            _fail(key, value, allowed)
        return value

    return _described(allowed, check)


def boolean(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    _fail(key, value, "true or false")


def text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        _fail(key, value, "a non-empty string")
    return value


def md5(key: str, value: Any) -> str:
    if not isinstance(value, str) or len(value) != 32 or any(c not in "0123456789abcdef" for c in value.lower()):
        _fail(key, value, "32 hexadecimal digits (an MD5 checksum)")
    return value.lower()


_described("true or false", boolean)
_described("a non-empty string", text)
_described("32 hexadecimal digits (an MD5 checksum)", md5)


def optional(spec: Spec) -> Spec:
    def check(key: str, value: Any) -> Any:
        return None if _null(value) else spec(key, value)

    return _described(f"null, or {spec.allowed}", check)  # type: ignore[attr-defined]


def int_list(item: Spec, longest: int, shortest: int = 1, unique: bool = False) -> Spec:
    count = f"{shortest}" if shortest == longest else f"{shortest} to {longest}"
    allowed = f"a list of {count} {'different ' if unique else ''}entries, each {item.allowed}"  # type: ignore[attr-defined]

    def check(key: str, value: Any) -> list[Any]:
        if isinstance(value, str):  # `-S model.channels=[16,32]` can arrive as text
            try:
                value = read_yaml(value)
            except (yaml.YAMLError, RecursionError):
                _fail(key, value, allowed)
        if not isinstance(value, list) or not shortest <= len(value) <= longest:
            _fail(key, value, allowed)
        out = [item(f"{key}[{i}]", v) for i, v in enumerate(value)]
        if unique and len(set(out)) != len(out):
            _fail(key, value, allowed)
        return out

    return _described(allowed, check)


def overrides(section: str, fixed: dict[str, str] | None = None) -> Spec:
    """A partial `section:` mapping (null: none), each key checked as in `section:` itself; the keys of `fixed`
    cannot be overridden there, as a run would ignore them (the value says why; `{at}` is the mapping's parent)."""
    fixed = fixed or {}
    allowed = f"null, or a mapping of some {section}: keys to values allowed there"
    allowed += f" (not {', '.join(fixed)})" if fixed else ""

    def check(key: str, value: Any) -> dict[str, Any]:
        if _null(value):
            return {}
        if not isinstance(value, dict):
            _fail(key, value, allowed)
        spec = SCHEMA[section]
        for name in value:
            if name not in spec:
                raise ParamError(f"params: unknown key {key}.{name}{_closest(str(name), list(spec), f'{key}.')}")
            if name in fixed:
                at = key.rpartition(".")[0]
                raise ParamError(f"params: {key}.{name} cannot be set there; {fixed[name].format(at=at)}")
        return {name: spec[name](f"{key}.{name}", v) for name, v in value.items()}

    return _described(allowed, check)


ONE_PROCESS = "torchrun runs the main, sweep and blind models only (train.nproc); these train in one process"
# np.random.seed, called with every seed, takes 0 .. 2**32 - 1.
seed = integer(0, 2**32 - 1, "NumPy's seed range")
# Gaussian std is on the [0, 1] image scale: at 1 the noise is as large as the whole range and a noisy image is
# about 0 dB PSNR; past that no denoiser, classical or learned, has a signal left to recover.
gaussian_std = number(0, 1, why="the std is on the [0, 1] image scale; above 1 no signal is left")
fraction = number(0, 1)
levels = int_list(integer(1), 8)  # model.channels: each level halves the image; 8 take 256 px to 1
layers = int_list(integer(1), 16)

SCHEMA: dict[str, dict[str, Spec]] = {
    "data": {
        "name": choice(*DATASETS),
        "mirror": optional(text),
        "archive_md5": optional(md5),
        "subset": optional(integer(1)),
        "val_fraction": number(0, 0.9, lo_open=True),
        "test_fraction": number(0, 0.9, lo_open=True),
        "seed": seed,
    },
    "noise": {
        "type": choice(*NOISE_TYPES),
        "std": gaussian_std,
        "clip": boolean,
        "amount": fraction,
        "salt_ratio": fraction,
        "rate": fraction,
        "seed": seed,
    },
    "model": {
        "arch": choice(*ARCHS),
        "channels": levels,
        "hidden": layers,
        "latent": integer(1),
        "activation": choice(*ACTIVATIONS),
        "dropout": number(0, 0.9),
        "bottleneck": choice("dense", "spatial"),
        "norm": choice("none", "batch"),
        "blocks": integer(0, 16),
        "output": choice("sigmoid", "linear"),
        "noise_map": choice("none", "estimate"),
    },
    "train": {
        "epochs": integer(1),
        "batch_size": integer(1),
        "lr": number(0, lo_open=True),
        "weight_decay": number(0),
        "l2": number(0),
        "optimizer": choice(*OPTIMIZERS),
        "schedule": choice("constant", "onecycle"),
        "fresh_noise": boolean,
        "loss": choice(*LOSSES),
        "device": choice(*DEVICES),
        "seed": seed,
        "deterministic": boolean,
        "amp": boolean,
        "amp_cpu": boolean,
        "threads": integer(0, 1024),  # torch crashes or stalls far above the cores there are
        "compile": boolean,
        "channels_last": boolean,
        "nproc": integer(0, 64),
        # Applied once the device is CUDA, so it cannot choose the device, nor the torchrun launch before it.
        "gpu": overrides(
            "train",
            {
                "device": "{at}.gpu applies once the device is CUDA: choose it with {at}.device",
                "nproc": "torchrun starts before the device is chosen: set train.nproc (main, sweep, blind models)",
                "gpu": "{at}.gpu does not nest",
            },
        ),
    },
    "blind_train": {
        "epochs": optional(integer(1)),
    },
    "eval": {
        "grid_images": integer(1),
    },
    "baselines": {
        "n_test": integer(1),
        "n_val": integer(1),
        "n_slow": integer(1),
        "seed": seed,
    },
}
SCHEMA["anomaly"] = {
    "datasets": int_list(choice(*DATASETS), len(DATASETS), shortest=0, unique=True),
    "datasets_one_stage": int_list(choice(*DATASETS), len(DATASETS), shortest=0, unique=True),
    "classes": int_list(integer(0, 9), 10, unique=True),
    "seeds": int_list(seed, 10, unique=True),
    "noise": number(0, 1, lo_open=True, why="the gaussian std of the DAE's training inputs, on the [0, 1] scale"),
    "plain": boolean,
    "model": _described("a whole model: section", lambda key, value: _section(key, value, SCHEMA["model"])),
    "train": overrides("train", {"nproc": ONE_PROCESS}),
}
# The values each study may take: the knob's own check.
STUDY_VALUES: dict[str, Spec] = {
    "latent": integer(1),
    "depth": integer(1, 8),
    "dropout": number(0, 0.9),
    "l2": number(0),
    "weight_decay": number(0),
    "loss": choice(*LOSSES),
    "output": choice("sigmoid", "linear"),
    "noise": gaussian_std,
}


def _grids(key: str, raw: Any) -> dict[str, list[Any]]:
    if not isinstance(raw, dict):
        _fail(key, raw, f"a mapping of study names ({', '.join(STUDY_VALUES)}) to lists of values")
    out = {}
    for name, values in raw.items():
        if name not in STUDY_VALUES:
            raise ParamError(f"params: unknown study {key}.{name}{_closest(str(name), list(STUDY_VALUES), key + '.')}")
        out[name] = int_list(STUDY_VALUES[name], 10, unique=True)(f"{key}.{name}", values)
    return out


SCHEMA["studies"] = {
    "setting": text,
    "epochs": integer(1),
    "grids": _described(f"a mapping of study names ({', '.join(STUDY_VALUES)}) to 1-10 values each", _grids),
}
SCHEMA["probe"] = {
    "epochs": integer(1),
    "settings": _described("a mapping of names to {type, level}, as sweep: entries", lambda key, raw: _sweep(raw, key)),
}


def _named(what: str, check_entry: Callable[[str, Any], Any]) -> Spec:
    """A mapping of names (stage and file names) to entries, each checked by `check_entry(key, entry)`."""

    def check(key: str, raw: Any) -> dict[str, Any]:
        if _null(raw):
            return {}
        if not isinstance(raw, dict):
            _fail(key, raw, f"a mapping of names to {what}")
        return {_path_name(key, name): check_entry(f"{key}.{name}", entry) for name, entry in raw.items()}

    return _described(f"a mapping of names to {what}", check)


def _fields(key: str, raw: Any, spec: dict[str, Spec], optional: dict[str, Spec] | None = None) -> dict[str, Any]:
    """A mapping with exactly the keys of `spec`, and any of `optional` (absent ones are None)."""
    optional = optional or {}
    allowed = "{" + ", ".join([*spec, *(f"{k} (optional)" for k in optional)]) + "}"
    if not isinstance(raw, dict):
        _fail(key, raw, allowed)
    for name in raw:
        if name not in spec and name not in optional:
            raise ParamError(f"params: unknown key {key}.{name}{_closest(str(name), [*spec, *optional], f'{key}.')}")
    for name in spec:
        if name not in raw:
            raise ParamError(f"params: missing key {key}.{name}; expected {allowed}")
    out = {name: check(f"{key}.{name}", raw[name]) for name, check in spec.items()}
    return out | {name: check(f"{key}.{name}", raw[name]) if name in raw else None for name, check in optional.items()}


sigma_255 = number(0, 255, lo_open=True, why="gaussian std on the 0-255 scale")


def _model_sigma(key: str, value: Any) -> float | str:
    return "blind" if value == "blind" else sigma_255(key, value)


_model_sigma.allowed = "a gaussian std on the 0-255 scale, or blind"  # type: ignore[attr-defined]
# Factors by which a model's training images are also shrunk (dae.patches.downscaled): the images themselves are
# always used, so [1] or no `scales` means the images as they are, and [1, 0.9] the images and a 0.9 copy of each.
SCALES = int_list(number(0, 1, lo_open=True), 8, unique=True)
SCHEMA["natural"] = {
    "data": _named("{train: folder, test: folder}", lambda k, v: _fields(k, v, {"train": text, "test": text})),
    "sigmas": int_list(sigma_255, 8, unique=True),
    "val_images": integer(1),
    # A model file keeps the patch as its image shape, and load_model reads sides up to 256 (dae/models/files.py).
    "patch": integer(8, 256, "a model file's largest image side"),
    "patches": integer(1),
    "val_patches": integer(1),
    "blind": int_list(number(0, 255), 2, shortest=2),
    "tile": integer(16),
    "archs": _named("a whole model: section", lambda k, v: _section(k, v, SCHEMA["model"])),
    "models": _named(
        "{data, arch, sigma, and optionally epochs and loss (natural.train's otherwise) and scales (shrink factors)}",
        lambda k, v: _fields(
            k,
            v,
            {"data": text, "arch": text, "sigma": _model_sigma},
            {"epochs": integer(1), "loss": choice(*LOSSES), "scales": SCALES},
        ),
    ),
    "finetune": _named(
        "{from, data, sigma, epochs, and optionally lr, loss (natural.train's otherwise), arch (from's), scales}",
        lambda k, v: _fields(
            k,
            v,
            {"from": text, "data": text, "sigma": _model_sigma, "epochs": integer(1)},
            {"lr": number(0, lo_open=True), "loss": choice(*LOSSES), "arch": text, "scales": SCALES},
        ),
    ),
    "train": overrides("train", {"nproc": ONE_PROCESS}),
}


def _check_natural(natural: dict[str, Any]) -> None:
    """Each model names a data entry and an arch of natural:, and the blind range runs upwards."""
    low, high = natural["blind"]
    if low >= high:
        raise ParamError(f"params: natural.blind = {natural['blind']} is not allowed; expected [low, high], low < high")
    for name, entry in natural["models"].items():
        for key, known in (("data", natural["data"]), ("arch", natural["archs"])):
            if entry[key] not in known:
                raise ParamError(
                    f"params: natural.models.{name}.{key} = {entry[key]!r} is not allowed; "
                    f"expected one of: {', '.join(known) or '(none defined)'}"
                )
    for name, entry in natural["finetune"].items():
        if name in natural["models"]:
            raise ParamError(f"params: natural.finetune.{name} is also a natural.models entry; give it another name")
        if entry["from"] not in natural["models"]:
            raise ParamError(
                f"params: natural.finetune.{name}.from = {entry['from']!r} is not allowed; "
                f"expected one of: {', '.join(natural['models']) or '(none defined)'}"
            )
        for key, known in (("data", natural["data"]), ("arch", natural["archs"])):
            if entry[key] is not None and entry[key] not in known:
                raise ParamError(
                    f"params: natural.finetune.{name}.{key} = {entry[key]!r} is not allowed; "
                    f"expected one of: {', '.join(known)}"
                )


def on_device(train: dict[str, Any], device_type: str) -> dict[str, Any]:
    """`train:` as a run on this device type uses it: `train.gpu`'s overrides laid over it on CUDA."""
    return {**train, **train["gpu"]} if device_type == "cuda" else train


def natural_train(params: dict[str, Any]) -> dict[str, Any]:
    """`train:` with `natural.train` laid over it: what every natural-image model trains with."""
    return {**params["train"], **params["natural"]["train"]}


def natural_models(natural: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every natural-image model, trained (`natural.models`) or fine-tuned (`natural.finetune`, which takes its arch
    from its `from` model unless it names one), as {name: {data, arch, sigma, epochs, loss, scales, lr, from}}
    (None: not set)."""
    out = {name: {**entry, "lr": None, "from": None} for name, entry in natural["models"].items()}
    for name, entry in natural["finetune"].items():
        out[name] = {**entry, "arch": entry["arch"] or natural["models"][entry["from"]]["arch"]}
    return out


# Names become stage names, file names and command-line words: a plain word, never `.`, `..` or a path.
SETTING_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
NAME_RULE = "start with a letter or digit, then letters, digits, '.', '_' or '-' (no '..')"


def check_name(section: str, name: Any) -> str:
    if name is not None and not isinstance(name, str) and isinstance(name, (bool, int, float)):
        raise ParamError(
            f"params: {section} key {name!r} is not allowed; YAML reads it as a {type(name).__name__}: quote the "
            "name in params.yaml"
        )
    if not isinstance(name, str) or not SETTING_NAME.fullmatch(name) or ".." in name:
        raise ParamError(f"params: {section} key {name!r} is not allowed; {NAME_RULE}")
    return name


def _path_name(section: str, name: Any) -> str:
    """A name that dvc.yaml puts in a param path (natural.models.<name>): DVC would read a '.' in it as nesting."""
    if "." in check_name(section, name):
        raise ParamError(
            f"params: {section} key {name!r} is not allowed; no '.' here (DVC reads {section}.{name} as a path)"
        )
    return name


def _closest(key: str, options: list[str], prefix: str = "") -> str:
    match = difflib.get_close_matches(key, options, n=1, cutoff=0.5)
    return f"; did you mean {prefix}{match[0]}?" if match else f"; known keys: {', '.join(options)}"


def _section(name: str, raw: Any, spec: dict[str, Spec]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ParamError(f"params: {name} must be a mapping of {', '.join(spec)}, got {raw!r}")
    for key in raw:
        if key not in spec:
            raise ParamError(f"params: unknown key {name}.{key}{_closest(str(key), list(spec), f'{name}.')}")
    out = {}
    for key, check in spec.items():
        if key not in raw:
            raise ParamError(f"params: missing key {name}.{key}")
        out[key] = check(f"{name}.{key}", raw[key])
    return out


def validate_model(raw: Any) -> dict[str, Any]:
    """A `model:` mapping checked and coerced as in params.yaml (model files' headers are checked with it too)."""
    return _section("model", raw, SCHEMA["model"])


def validate_setting(
    name: str, noise_type: Any, level: Any, clip: Any = None, section: str | None = None
) -> dict[str, Any]:
    """One noise setting as the corrupt stage uses it: {name, type, level}, and `clip` where it overrides noise.
    Messages name it `section.name` (the corrupt stage's command line gives only the name)."""
    check_name(section or "sweep", name)
    where = f"{section}.{name}" if section else name
    noise_type = choice(*NOISE_TYPES)(f"{where}.type", noise_type)
    bounds = gaussian_std if noise_type == "gaussian" else fraction
    out = {"name": name, "type": noise_type, "level": bounds(f"{where}.level", level)}
    if clip is not None:
        if noise_type != "gaussian":
            raise ParamError(f"params: {where}.clip is not allowed; only gaussian settings can be unclipped")
        out["clip"] = boolean(f"{where}.clip", clip)
    return out


def _sweep(raw: Any, section: str = "sweep") -> dict[str, dict[str, Any]]:
    """`sweep:`, or `probe.settings` (whose models train at noise.clip: no `clip` key there)."""
    if not isinstance(raw, dict) or not raw:
        raise ParamError(f"params: {section} must be a non-empty mapping of name -> {{type, level}}, got {raw!r}")
    keys = {"type", "level", "clip"} if section == "sweep" else {"type", "level"}
    out = {}
    for name, entry in raw.items():
        if name == MAIN:
            raise ParamError(f"params: {section} key {MAIN!r} is reserved for the main setting in noise:")
        if not isinstance(entry, dict) or not {"type", "level"} <= set(entry) <= keys:
            raise ParamError(
                f"params: {section}.{check_name(section, name)} = {entry!r} is not allowed; expected "
                + (
                    "{type: ..., level: ...} (gaussian entries may add clip: false)"
                    if "clip" in keys
                    else "{type, level}"
                )
            )
        if "clip" in entry and not isinstance(entry["clip"], bool):
            # DVC writes it into the corrupt stage's command as --clip or --no-clip; text would end that command.
            _fail(f"{section}.{name}.clip", entry["clip"], "true or false, unquoted")
        out[name] = validate_setting(name, entry["type"], entry["level"], entry.get("clip"), section)
    return out


def _blind(raw: Any, sweep: dict[str, dict[str, Any]], clip: bool) -> dict[str, list[str]]:
    """{model name: [noise types]}: each blind model is trained across the sweep's levels of those types."""
    # Non-empty because the cross_noise stage reads the blind models' folder, which only a blind model creates.
    if not isinstance(raw, dict) or not raw:
        raise ParamError(f"params: blind must be a non-empty mapping of name -> [noise types], got {raw!r}")
    out = {}
    for name, types in raw.items():
        check_name("blind", name)
        if f"blind-{name}" in sweep:  # cross_noise names blind models so, beside the sweep's
            raise ParamError(
                f"params: blind.{name} and sweep.blind-{name} would share one row of cross_noise; rename one"
            )
        if isinstance(types, str):
            types = [types]
        if not isinstance(types, list) or not types:
            raise ParamError(f"params: blind.{name} = {types!r} is not allowed; expected a list of noise types")
        for t in types:
            choice(*NOISE_TYPES)(f"blind.{name}", t)
            if not any(s["type"] == t and s.get("clip", clip) == clip for s in sweep.values()):
                raise ParamError(
                    f"params: blind.{name} names {t}, but the sweep has no {t} setting to take levels from"
                )
        out[name] = list(dict.fromkeys(types))
    return out


def blind_ranges(params: dict[str, Any], name: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The noise a blind model trains on ([{type, low, high}], one per type: the sweep's level range of that type)
    and the sweep settings it covers (unclipped gaussian entries are left out when noise.clip is on, and vice versa).
    """
    clip = params["noise"]["clip"]
    covered = [
        k for k, s in params["sweep"].items() if s["type"] in params["blind"][name] and s.get("clip", clip) == clip
    ]
    ranges = []
    for t in params["blind"][name]:
        levels = [params["sweep"][k]["level"] for k in covered if params["sweep"][k]["type"] == t]
        ranges.append({"type": t, "low": min(levels), "high": max(levels)})
    return ranges, covered


def _check_anomaly(anomaly: dict[str, Any]) -> None:
    """Each dataset in exactly one of the two stage layouts, and at least one dataset in all."""
    both = set(anomaly["datasets"]) & set(anomaly["datasets_one_stage"])
    if both:
        raise ParamError(
            f"params: anomaly.datasets and anomaly.datasets_one_stage both name {', '.join(sorted(both))}; "
            "list each dataset in one of them"
        )
    if not anomaly["datasets"] and not anomaly["datasets_one_stage"]:
        raise ParamError("params: anomaly: name at least one dataset in anomaly.datasets or anomaly.datasets_one_stage")


def anomaly_datasets(params: dict[str, Any]) -> list[str]:
    """Every dataset of the anomaly study, per-class stages first."""
    return [*params["anomaly"]["datasets"], *params["anomaly"]["datasets_one_stage"]]


def anomaly_params(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The `model:` and `train:` params of the one-class models: `anomaly.model`, and `train:` with
    `anomaly.train` laid over it."""
    anomaly = params["anomaly"]
    return anomaly["model"], {**params["train"], **anomaly["train"]}


def _drop(grids: dict[str, list], study: str, value: str, reason: str) -> str:
    """A study value that the rest of the params cannot train, and the `dvc exp run` option that drops it."""
    rest = ",".join(str(v) for v in grids[study] if v != value)
    return f"studies.grids.{study} has {value!r}, which {reason}; drop it: -S 'studies.grids.{study}=[{rest}]'"


def _bce_conflicts(out: dict[str, Any]) -> Iterator[str]:
    """Every model the params train with loss bce but no sigmoid output (BCE takes probabilities). The study, anomaly
    and natural models count too: found only by their own stage, a conflict stops a run halfway through."""
    model, train, grids = out["model"], out["train"], out["studies"]["grids"]
    why = "(BCE takes probabilities)"
    if train["loss"] == "bce" and model["output"] != "sigmoid":
        yield f"train.loss = 'bce' needs model.output = 'sigmoid' {why}"
    if "bce" in grids.get("loss", []) and model["output"] != "sigmoid":
        yield _drop(grids, "loss", "bce", f"needs model.output = 'sigmoid' {why}")
    if train["loss"] == "bce" and "linear" in grids.get("output", []):
        yield _drop(grids, "output", "linear", f"train.loss = 'bce' cannot train {why}")
    anomaly_model, anomaly_train = anomaly_params(out)
    if anomaly_train["loss"] == "bce" and anomaly_model["output"] != "sigmoid":
        yield f"the anomaly models train with loss 'bce', which needs anomaly.model.output = 'sigmoid' {why}"
    for name, entry in natural_models(out["natural"]).items():
        loss = entry["loss"] or natural_train(out)["loss"]
        if loss == "bce" and out["natural"]["archs"][entry["arch"]]["output"] != "sigmoid":
            yield f"natural model {name} trains with loss 'bce', which needs its arch's output = 'sigmoid' {why}"


def _model_conflicts(out: dict[str, Any]) -> Iterator[str]:
    """Every network the params build that `build_model` would refuse (dae.architectures), named by its own params:
    found only by its own stage, it would stop a run after the stages before it, or a study halfway through."""
    shape, grids = SHAPES[out["data"]["name"]], out["studies"]["grids"]
    models = [("model", out["model"], shape, None)]
    models += [("model", apply(out, study, v)[0], shape, (study, v)) for study in grids for v in grids[study]]
    models += [("anomaly.model", out["anomaly"]["model"], SHAPES[d], None) for d in anomaly_datasets(out)]
    patch = out["natural"]["patch"]
    models += [(f"natural.archs.{name}", m, (1, patch, patch), None) for name, m in out["natural"]["archs"].items()]
    for key, model, image, study in models:
        try:
            check_model(model, image, key)
        except DaeError as exc:
            # A study value's own fix is to drop it: the advice after ';' names model: keys the study does not set.
            yield _drop(grids, *study, f"builds no model ({str(exc).split('; ')[0]})") if study else str(exc)


def validate(raw: Any) -> dict[str, Any]:
    """Check and coerce a whole params mapping; raises ParamError with one line naming the bad key."""
    if not isinstance(raw, dict):
        raise ParamError("params: params.yaml must hold a mapping of sections")
    known = [*SCHEMA, "sweep", "blind"]
    for key in raw:
        if key not in known:
            raise ParamError(f"params: unknown section {key}{_closest(str(key), known)}")
    out: dict[str, Any] = {}
    for name, spec in SCHEMA.items():
        if name not in raw:
            raise ParamError(f"params: missing section {name}")
        out[name] = _section(name, raw[name], spec)
    if "sweep" not in raw:
        raise ParamError("params: missing section sweep")
    out["sweep"] = _sweep(raw["sweep"])
    out["blind"] = _blind(raw.get("blind"), out["sweep"], out["noise"]["clip"])
    _check_anomaly(out["anomaly"])
    _check_natural(out["natural"])
    for conflict in (*_model_conflicts(out), *_bce_conflicts(out)):
        raise ParamError(f"params: {conflict}")
    if out["studies"]["setting"] not in out["sweep"]:
        raise ParamError(
            f"params: studies.setting = {out['studies']['setting']!r} is not a sweep key; "
            f"expected one of {', '.join(out['sweep'])}"
        )
    return out


# The bytes of each params file as load_params read them, for check_unchanged.
_READ: dict[Path, bytes] = {}


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    try:
        data = Path(path).read_bytes()
        _READ[Path(path).resolve()] = data
        raw = read_yaml(data.decode())
    except FileNotFoundError:
        raise ParamError(f"params: {path} not found; run from the repository root") from None
    except OSError as exc:
        raise ParamError(f"params: cannot read {path} ({exc.strerror})") from None
    except RecursionError:
        raise ParamError(f"params: {path} nests too deeply to read") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ParamError(f"params: {path} is not valid YAML: {_yaml_problem(exc)}") from None
    return validate(raw)


def _yaml_problem(exc: Exception) -> str:
    """What the YAML reader found wrong, and where (a MarkedYAMLError's own text spreads over several lines)."""
    mark = getattr(exc, "problem_mark", None)
    if getattr(exc, "problem", None) and mark is not None:
        return f"{exc.problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(exc).splitlines()[0]


def check_unchanged(path: str | Path = "params.yaml") -> None:
    """Refuse to write results when `path` changed since load_params read it.

    Two `dvc exp run` in one workspace do that: the second rewrites params.yaml while the first trains, and the
    first would save a model of one config under the other's params.
    """
    path = Path(path)
    before = _READ.get(path.resolve())
    now = path.read_bytes() if path.is_file() else None
    if before is not None and now != before:
        raise ParamError(
            f"params: {path} changed while this stage ran (another `dvc exp run` in this workspace?); nothing was "
            "written. Run one experiment at a time, or queue them: `dvc exp run --queue ...` then `dvc queue start`"
        )


def main_setting(params: dict[str, Any]) -> dict[str, Any]:
    noise = params["noise"]
    return validate_setting(MAIN, noise["type"], noise[LEVEL_KEY[noise["type"]]])


def setting(params: dict[str, Any], name: str) -> dict[str, Any]:
    """The noise setting called `name`: "main" (from `noise:`) or a key of `sweep:`."""
    if name == MAIN:
        return main_setting(params)
    if name not in params["sweep"]:
        raise ParamError(f"params: no noise setting {name!r}; known: {MAIN}, {', '.join(params['sweep'])}")
    return params["sweep"][name]
