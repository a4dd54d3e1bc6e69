"""Hostile or careless input, in-process: each case ends in one DaeError line, and nothing that looks valid."""

import json
import math
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import committed_text, with_value

from dae.datasets import resolve_mirror
from dae.errors import DaeError
from dae.io import atomic_dir, atomic_path, save_arrays, write_json
from dae.models import build_model, load_model, model_extra, save_model
from dae.params import ParamError, validate

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = yaml.safe_load(committed_text("params.yaml"))
MODEL = {"arch": "conv", "channels": [8, 16], "hidden": [32], "latent": 8, "activation": "relu", "dropout": 0.0}
BAD_NAMES = ["..", ".", "a/b", "a b", "x$(touch pwned)", "-rf", "", "a..b", "abc\n"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_sweep_and_blind_names_must_be_plain_words(name):
    entry = {"type": "gaussian", "level": 0.1}
    with pytest.raises(ParamError, match="^" + re.escape(f"params: sweep key {name!r} is not allowed; start with")):
        validate(with_value("sweep", {**DEFAULT["sweep"], name: entry}))
    with pytest.raises(ParamError, match="^params: blind key .* is not allowed; start with a letter or digit"):
        validate(with_value("blind", {name: ["gaussian"]}))


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("train.epochs", "inf", "a whole number >= 1"),
        ("train.epochs", math.inf, "a whole number >= 1"),
        ("train.batch_size", "nan", "a whole number >= 1"),
        ("model.channels", "[inf]", "a whole number >= 1"),
        ("model.channels", "[1e400]", "a whole number >= 1"),
        ("model.channels", "[", "a list of 1 to 8 entries"),
        ("train.seed", 2**32, "NumPy's seed range"),
        ("noise.seed", -1, "a whole number >= 0"),
        ("noise.std", "inf", "a number >= 0 and <= 1"),
        ("noise.std", 1.5, "above 1 no signal is left"),
        ("train.lr", "-inf", "a number > 0"),
        ("model.dropout", "nan", "a number >= 0 and <= 0.9"),
        ("model.latent", 10**19, "<= 2,147,483,647"),
        ("model.blocks", 20000, "<= 16"),
        ("model.channels", [8] * 9, "a list of 1 to 8 entries"),
        ("model.channels", "[" * 2000 + "]" * 2000, "a list of 1 to 8 entries"),
    ],
)
def test_non_finite_and_out_of_range_values_get_one_line(key, value, allowed):
    with pytest.raises(ParamError) as caught:
        validate(with_value(key, value))
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"params: {key}") and allowed in message


def test_sweep_levels_are_finite_and_bounded():
    for level in ("inf", 2.0, "nan"):
        with pytest.raises(ParamError, match=r"^params: sweep\.g\.level = .* is not allowed"):
            validate(with_value("sweep", {"g": {"type": "gaussian", "level": level}}))


@pytest.mark.parametrize("writer", [atomic_path, atomic_dir])
@pytest.mark.parametrize("name", ["..", ".", "sub/..", "sub/."])
def test_atomic_writers_never_replace_a_folder_they_were_not_given(tmp_path, writer, name):
    (tmp_path / "sub").mkdir()
    keep = tmp_path / "sub" / "keep.txt"
    keep.write_text("tracked")
    target = os.path.join(tmp_path / "sub", name)
    with pytest.raises(DaeError, match="not a plain entry of its folder"), writer(target):
        pass
    assert keep.read_text() == "tracked"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["keep.txt", "sub"]


def test_a_file_writer_refuses_a_folder_at_its_path(tmp_path):
    folder = tmp_path / "m.safetensors"
    (folder / "inside").mkdir(parents=True)
    model = build_model(MODEL, (1, 8, 8))
    with pytest.raises(DaeError, match=r"m\.safetensors: is a folder; a file output cannot replace it \(remove"):
        save_model(model, folder)
    with pytest.raises(DaeError, match="is a folder"):
        write_json(folder, {"a": 1})
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "m.safetensors",
        "m.safetensors/inside",
    ]
    # A link to a folder is an entry of its own: the file replaces the link, and the folder it pointed to stays.
    (tmp_path / "link.json").symlink_to(folder)
    write_json(tmp_path / "link.json", {"a": 1})
    assert json.loads((tmp_path / "link.json").read_text()) == {"a": 1} and (folder / "inside").is_dir()


def test_writers_leave_nothing_but_their_output(tmp_path):
    # safetensors' own save_file writes a `.tmpXXXXXX` beside its output; the project serialises in memory instead.
    save_arrays(tmp_path / "a.safetensors", {"x": torch.zeros(3).numpy()})
    save_model(build_model(MODEL, (1, 8, 8)), tmp_path / "m.safetensors")
    write_json(tmp_path / "j.json", {"a": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.safetensors", "j.json", "m.safetensors"]


def test_a_mirror_that_is_a_symlink_loop_is_one_line(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(DaeError, match=r"^data mirror '.*a' cannot be opened \(.*[Ss]ymlink loop"):
        resolve_mirror(str(tmp_path / "a"))


def rewrite_header(path: Path, edit) -> None:
    """Replace the `dae` metadata of a saved model with edit(metadata); the tensors (and checksum) stay."""
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    header["__metadata__"]["dae"] = json.dumps(edit(json.loads(header["__metadata__"]["dae"])))
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n :])


CRAFTED = {
    "channels: []": (lambda m: {**m, "config": {**m["config"], "channels": []}}, "model.channels = []"),
    "metadata is a list": (lambda m: [m], "not a dae-model/1 file"),
    "config is a string": (lambda m: {**m, "config": "conv"}, "no valid image shape"),
    "shape of 2 numbers": (lambda m: {**m, "config": {**m["config"], "shape": [8, 8]}}, "no valid image shape"),
    "latent 2e6": (lambda m: {**m, "config": {**m["config"], "latent": 2_000_000}}, "does not match the stored"),
    "unknown activation": (lambda m: {**m, "config": {**m["config"], "activation": "os.system"}}, "model.activation"),
    "latent as text": (lambda m: {**m, "config": {**m["config"], "latent": "8"}}, "latent = '8'"),
    "blocks 20000": (lambda m: {**m, "config": {**m["config"], "blocks": 20000}}, "model.blocks = 20000"),
    # A spatial bottleneck's weights do not depend on H and W: only the bound keeps the shape check small.
    "4096 px image": (lambda m: {**m, "config": {**m["config"], "shape": [1, 4096, 4096]}}, "H, W <= 256"),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_model_headers_are_refused_in_one_line(tmp_path, case):
    path = tmp_path / "m.safetensors"
    save_model(build_model(MODEL, (1, 8, 8)), path)
    edit, expected = CRAFTED[case]
    rewrite_header(path, edit)
    with pytest.raises(DaeError) as caught:
        load_model(path)
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_a_header_declaring_a_huge_model_allocates_nothing(tmp_path):
    """Peak RSS of loading a 2e6-latent header over a small file, in a fresh process, against loading the honest
    file: the refusal may not cost more than the file's own size plus a small margin (the old loader built the
    declared model first: about 2 GB)."""
    honest, crafted = tmp_path / "honest.safetensors", tmp_path / "crafted.safetensors"
    save_model(build_model({**MODEL, "latent": 4}, (1, 8, 8)), honest)
    crafted.write_bytes(honest.read_bytes())
    rewrite_header(crafted, lambda m: {**m, "config": {**m["config"], "latent": 2_000_000}})
    probe = (
        "import resource, sys\nfrom dae.models import load_model\nfrom dae.errors import DaeError\n"
        "load_model(sys.argv[1])  # warm: every import and allocator arena in place\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n    load_model(sys.argv[2])\nexcept DaeError as e:\n    print('refused:', e, file=sys.stderr)\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe, str(honest), str(crafted)], capture_output=True, text=True)
    assert "refused:" in proc.stderr and "does not match the stored tensors" in proc.stderr, proc.stderr
    grown = int(proc.stdout.strip())
    assert grown <= crafted.stat().st_size + 8 * 2**20, f"peak RSS grew by {grown:,} bytes"


def test_weights_with_nan_and_a_valid_checksum_are_refused(tmp_path):
    model = build_model(MODEL, (1, 8, 8))
    with torch.no_grad():
        next(model.parameters())[0].fill_(float("nan"))
    save_model(model, tmp_path / "nan.safetensors")  # the checksum is computed over the NaN weights: it matches
    with pytest.raises(DaeError, match="the weights hold NaN or infinite values"):
        load_model(tmp_path / "nan.safetensors")


def test_extra_of_a_header_that_is_not_a_mapping_is_one_line(tmp_path):
    path = tmp_path / "m.safetensors"
    save_model(build_model(MODEL, (1, 8, 8)), path)
    rewrite_header(path, lambda m: [m])
    with pytest.raises(DaeError, match="holds no `extra` mapping"):
        model_extra(path)
