import shutil

import numpy as np
import pytest
from conftest import MIRROR

from dae.datasets import load_splits
from dae.errors import DaeError

DATA = {"name": "digits", "mirror": None, "subset": None, "val_fraction": 0.1, "test_fraction": 0.2, "seed": 0}
needs_mirror = pytest.mark.skipif(not (MIRROR / "mnist").is_dir(), reason="no local dataset mirror")


def test_digits_splits_are_disjoint_seeded_and_uint8():
    a, b = load_splits(DATA), load_splits(DATA)
    assert [a[f"{s}_x"].shape for s in ("train", "val", "test")] == [(1294, 1, 8, 8), (144, 1, 8, 8), (359, 1, 8, 8)]
    assert all(a[k].tobytes() == b[k].tobytes() for k in a)
    assert a["train_x"].dtype == np.uint8 and a["train_x"].max() == 255
    rows = {
        s: {x.tobytes() + bytes([y]) for x, y in zip(a[f"{s}_x"], a[f"{s}_y"], strict=True)}
        for s in ("train", "val", "test")
    }
    assert not rows["train"] & rows["test"] and not rows["train"] & rows["val"]
    other = load_splits({**DATA, "seed": 1})
    assert other["test_x"].tobytes() != a["test_x"].tobytes()


def test_subset_caps_every_split():
    splits = load_splits({**DATA, "subset": 50})
    assert {len(splits[f"{s}_x"]) for s in ("train", "val", "test")} == {50}


@pytest.mark.slow
@needs_mirror
def test_mnist_through_the_mirror_on_real_archives(tmp_path, monkeypatch):
    monkeypatch.setenv("DAE_DATA_MIRROR", str(MIRROR))
    splits = load_splits({**DATA, "name": "mnist", "subset": None}, cache=tmp_path)
    assert splits["train_x"].shape == (54000, 1, 28, 28)
    assert splits["val_x"].shape == (6000, 1, 28, 28)
    assert splits["test_x"].shape == (10000, 1, 28, 28)
    assert splits["test_y"][:5].tolist() == [7, 2, 1, 0, 4]  # the official test set's first labels
    assert 0.12 < splits["test_x"].mean() / 255 < 0.14  # MNIST's well-known mean intensity, 0.1325


@needs_mirror
def test_truncated_archive_in_the_mirror_is_refused(tmp_path):
    mirror = tmp_path / "mirror" / "mnist"
    mirror.mkdir(parents=True)
    for archive in (MIRROR / "mnist").glob("*.gz"):
        shutil.copy(archive, mirror / archive.name)
    broken = mirror / "train-images-idx3-ubyte.gz"
    broken.write_bytes(broken.read_bytes()[:1000])
    with pytest.raises(DaeError, match="fails its MD5 check .* truncated or wrong"):
        load_splits({**DATA, "name": "mnist", "mirror": str(tmp_path / "mirror")}, cache=tmp_path / "cache")
    assert not any((tmp_path / "cache").rglob("train-images*"))


def test_mirror_without_the_dataset_folder(tmp_path):
    with pytest.raises(DaeError, match="has no fashion_mnist/train-images-idx3-ubyte.gz"):
        load_splits({**DATA, "name": "fashion_mnist", "mirror": str(tmp_path)}, cache=tmp_path / "cache")


def test_mirror_that_is_not_a_folder(tmp_path):
    with pytest.raises(DaeError, match="is not a folder"):
        load_splits({**DATA, "name": "mnist", "mirror": str(tmp_path / "nope")}, cache=tmp_path)


def test_unreachable_download_says_how_to_use_a_mirror(tmp_path, monkeypatch):
    monkeypatch.setenv("DAE_DATA_MIRROR", "http://127.0.0.1:9")  # the discard port: refused at once
    with pytest.raises(
        DaeError, match=r"could not download cifar10 \(.*Connection refused.*\); check that http://127.0.0.1:9/cifar10/"
    ):
        load_splits({**DATA, "name": "cifar10"}, cache=tmp_path)


@pytest.mark.parametrize(
    ("change", "split", "key"),
    [({"val_fraction": 0.0001}, "val", "data.val_fraction"), ({"test_fraction": 0.0001}, "test", "data.test_fraction")],
)
def test_an_empty_split_is_refused_in_one_line(change: dict, split: str, key: str):
    """It once went on to a ZeroDivisionError in training or evaluation."""
    with pytest.raises(DaeError, match=rf"the {split} split of digits is empty; change {key} or data.subset"):
        load_splits({**DATA, **change})
