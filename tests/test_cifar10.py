"""CIFAR-10, colour end to end: the project's reader on an archive in the real python format, and `dvc repro`."""

from __future__ import annotations

import io
import json
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from cifar_archive import LABELS, write_cifar10
from conftest import make_project, sh
from PIL import Image

from dae import load_model
from dae.datasets import load_splits, read_cifar10
from dae.errors import DaeError

DATA = {"name": "cifar10", "subset": None, "val_fraction": 0.1, "test_fraction": 0.2, "seed": 0}


def _archive(path: Path, batches: dict[str, object]) -> Path:
    """A tar.gz laid out as cifar-10-python.tar.gz, each batch pickled as given (protocol 2, as the original)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, obj in batches.items():
            data = obj if isinstance(obj, bytes) else pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _batch(planes: list[int], n: int = 2) -> dict:
    """n images whose red, green and blue planes are the constants `planes`."""
    rows = np.concatenate([np.full(1024, v, dtype=np.uint8) for v in planes])
    return {"batch_label": "b", "labels": [3] * n, "data": np.tile(rows, (n, 1)), "filenames": ["x.png"] * n}


def test_reader_lays_out_the_planes_red_green_blue(tmp_path: Path) -> None:
    batches = {f"data_batch_{i}": _batch([200, 100, 10 * i]) for i in range(1, 6)}
    archive = _archive(tmp_path / "c.tar.gz", {**batches, "test_batch": _batch([1, 2, 3], n=3)})
    splits = read_cifar10(archive)
    x, y = splits["train"]
    assert x.shape == (10, 3, 32, 32) and x.dtype == np.uint8 and y.tolist() == [3] * 10
    assert (x[:, 0] == 200).all() and (x[:, 1] == 100).all()
    assert [int(x[2 * i, 2, 5, 7]) for i in range(5)] == [10, 20, 30, 40, 50], "batches read out of order"
    assert splits["test"][0].shape == (3, 3, 32, 32) and (splits["test"][0][:, 2] == 3).all()


class _Exploit:
    """A pickle that would run a shell command when loaded by a plain `pickle.load`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_names_other_code_is_refused_unrun(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    evil = pickle.dumps({"data": _Exploit(marker), "labels": [0]}, protocol=2)
    batches = {f"data_batch_{i}": _batch([1, 2, 3]) for i in range(1, 6)}
    archive = _archive(tmp_path / "c.tar.gz", {**batches, "data_batch_3": evil, "test_batch": _batch([1, 2, 3])})
    with pytest.raises(DaeError, match=r"not a CIFAR-10 python archive \(UnpicklingError: global .*system"):
        read_cifar10(archive)
    assert not marker.exists()


def test_missing_batch_and_bad_labels_are_named(tmp_path: Path) -> None:
    four = {f"data_batch_{i}": _batch([1, 2, 3]) for i in range(1, 5)}
    with pytest.raises(DaeError, match="data_batch_5"):
        read_cifar10(_archive(tmp_path / "a.tar.gz", {**four, "test_batch": _batch([1, 2, 3])}))
    bad = {**_batch([1, 2, 3]), "labels": [0, 12]}
    with pytest.raises(DaeError, match="labels in 0..9"):
        read_cifar10(_archive(tmp_path / "b.tar.gz", {**four, "data_batch_5": bad, "test_batch": _batch([1, 2, 3])}))


def test_load_splits_through_the_mirror_checks_the_md5(tmp_path: Path) -> None:
    md5 = write_cifar10(tmp_path / "mirror/cifar10/cifar-10-python.tar.gz", per_batch=20, test=10)
    data = {**DATA, "mirror": str(tmp_path / "mirror")}
    with pytest.raises(DaeError, match="fails its MD5 check.*set data.archive_md5"):
        load_splits({**data, "archive_md5": None}, cache=tmp_path / "cache")
    splits = load_splits({**data, "archive_md5": md5}, cache=tmp_path / "cache")
    assert splits["train_x"].shape == (90, 3, 32, 32) and splits["val_x"].shape == (10, 3, 32, 32)
    assert splits["test_x"].shape == (10, 3, 32, 32) and len(LABELS) == 10


CIFAR = {
    "train": {"epochs": 3},
    "baselines": {"n_test": 20, "n_val": 5, "n_slow": 1},
    "sweep": {"gaussian-0.5": {"type": "gaussian", "level": 0.5}},  # the setting of the small params' studies
    "blind": {"gaussian": ["gaussian"]},
}


@pytest.mark.slow
def test_cifar10_end_to_end_with_dvc_repro(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    md5 = write_cifar10(tmp_path / "mirror/cifar10/cifar-10-python.tar.gz")
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["data"] |= {"name": "cifar10", "mirror": str(tmp_path / "mirror"), "archive_md5": md5, "subset": None}
    for section, values in CIFAR.items():
        params[section] = {**params[section], **values} if section not in ("sweep", "blind") else values
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    # Loading, training (per setting and blind), evaluation, grids, baselines and the summary plots; the studies
    # and the digits' anomaly stages are the same code on any dataset, and would double the test's time.
    targets = ("evaluate", "cross_noise", "plots")
    sh("dvc", "repro", *targets, cwd=project)
    assert sh("dvc", "status", *targets, cwd=project).stdout.strip() == "Data and pipelines are up to date."
    model = load_model(project / "data/models/main.safetensors")
    assert model.config["shape"] == [3, 32, 32]
    main = json.loads((project / "metrics/eval.json").read_text())
    assert main["psnr"] > main["noisy_psnr"] + 2, main
    baselines = json.loads((project / "metrics/baselines/gaussian-0.5.json").read_text())
    assert {"bm3d", "gaussian_blur"} <= set(json.dumps(baselines).replace('"', " ").split()), baselines
    cross = json.loads((project / "metrics/cross_noise.json").read_text())
    assert "gaussian" in json.dumps(cross)
    with Image.open(project / "plots/eval/main.png") as grid:
        pixels = np.asarray(grid.convert("RGB")).astype(int)
    assert np.abs(pixels[..., 0] - pixels[..., 2]).mean() > 5, "the test grid is drawn in grey"
