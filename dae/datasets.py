"""Datasets as clean uint8 image arrays (N, C, H, W) with seeded train / val / test splits.

`digits` is scikit-learn's bundled 8x8 digits (no network). The torchvision datasets go through torchvision's own
download code, checksums included; a mirror (a folder or URL holding `<name>/` with the original archives) stands
in for the internet on air-gapped machines.
"""

from __future__ import annotations

import os
import pickle
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from dae.errors import DaeError
from dae.io import atomic_path

MIRROR_ENV = "DAE_DATA_MIRROR"
# Image shape (C, H, W) of each dataset, so models can be checked before any data is read.
SHAPES = {"digits": (1, 8, 8), "mnist": (1, 28, 28), "fashion_mnist": (1, 28, 28), "cifar10": (3, 32, 32)}


def resolve_mirror(mirror: str | None) -> str | None:
    """The mirror in force: $DAE_DATA_MIRROR over `data.mirror`; a URL, or an existing folder's absolute path."""
    mirror = os.environ.get(MIRROR_ENV) or mirror
    if not mirror:
        return None
    if "://" in mirror:
        return mirror.rstrip("/")
    try:
        folder = Path(mirror).expanduser().resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop: RuntimeError before Python 3.13, OSError after
        raise DaeError(
            f"data mirror {mirror!r} cannot be opened ({exc.__class__.__name__}: {exc}); set data.mirror "
            f"or ${MIRROR_ENV} to a folder or URL"
        ) from None
    if not folder.is_dir():
        raise DaeError(f"data mirror {mirror!r} is not a folder (set data.mirror or ${MIRROR_ENV} to a folder or URL)")
    return str(folder)


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # Pixel values are counts 0..16; scale to the 0..255 range every other dataset uses.
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    return images, bunch.target.astype(np.int64)


def _archives(name: str, base: Any, mirror: str | None, md5: str | None = None) -> list[tuple[str, str, list[str]]]:
    """(filename, md5, URLs to try) of every original archive of a torchvision dataset; `md5` replaces the official
    checksum of CIFAR-10's single archive (a re-packed or generated copy in the same format)."""
    if md5 and name != "cifar10":
        raise DaeError(f"params: data.archive_md5 is for cifar10's single archive; {name} has several (set it to null)")
    if name == "cifar10":
        files, default = [(base.filename, md5 or base.tgz_md5)], {base.filename: [base.url]}
    else:
        files = list(base.resources)
        default = {f: [m + f for m in base.mirrors] for f, _ in files}
    return [(f, digest, [f"{mirror}/{name}/{f}"] if mirror else default[f]) for f, digest in files]


def _fetch(name: str, base: Any, mirror: str | None, store: Path, md5_override: str | None) -> None:
    """Put every archive, MD5-verified by torchvision's own check, into `store` (kept between runs)."""
    from torchvision.datasets.utils import check_integrity, download_url

    for filename, md5, urls in _archives(name, base, mirror, md5_override):
        dest = store / filename
        if check_integrity(str(dest), md5):
            continue
        if mirror and "://" not in mirror:
            source = Path(mirror) / name / filename
            if not source.is_file():
                raise DaeError(
                    f"data mirror {mirror} has no {name}/{filename}; it needs the original archives of {name}"
                )
            if not check_integrity(str(source), md5):
                raise DaeError(
                    f"data mirror file {source} fails its MD5 check (expected {md5}): truncated or wrong file"
                    + (" (a re-packed copy: set data.archive_md5 to its MD5)" if name == "cifar10" else "")
                )
            with atomic_path(dest) as tmp:
                shutil.copyfile(source, tmp)
            continue
        errors = []
        for url in urls:
            with tempfile.TemporaryDirectory(dir=store.parent) as tmp:
                try:
                    download_url(url, tmp, filename=filename, md5=md5)
                except Exception as exc:  # URLError, HTTPError, RuntimeError (checksum)... for one cause
                    errors.append(f"{url}: {' '.join(str(exc).split())[:200]}")
                    continue
                with atomic_path(dest) as out:
                    shutil.move(Path(tmp) / filename, out)
                break
        else:
            hint = (
                f"check that {mirror}/{name}/ holds the original archives"
                if mirror
                else f"no network? set data.mirror or ${MIRROR_ENV} to a folder holding {name}/ with the original "
                "archives (see README, 'Datasets')"
            )
            raise DaeError(f"could not download {name} ({'; '.join(errors)}); {hint}")


def _torchvision(
    name: str, mirror: str | None, cache: Path, md5: str | None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from torchvision import datasets

    base = {"mnist": datasets.MNIST, "fashion_mnist": datasets.FashionMNIST, "cifar10": datasets.CIFAR10}[name]
    store = cache / name
    store.mkdir(parents=True, exist_ok=True)
    _fetch(name, base, mirror, store, md5)
    if name == "cifar10":
        return read_cifar10(store / base.filename)
    out = {}
    # Extract into a fresh folder every time: a half-extracted file from a killed run is never read back.
    with tempfile.TemporaryDirectory(dir=cache) as root:
        raw = Path(root) / base.__name__ / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        for filename, _, _ in _archives(name, base, None):
            shutil.copyfile(store / filename, raw / filename)
        for split in ("train", "test"):
            # The archives are in place with the right MD5, so torchvision only verifies and extracts them.
            ds = base(root=root, train=split == "train", download=True)
            images = np.asarray(ds.data)
            images = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)
            out[split] = (np.ascontiguousarray(images, dtype=np.uint8), np.asarray(ds.targets, dtype=np.int64))
    return out


class _ArraysOnly(pickle.Unpickler):
    """Unpickles the CIFAR-10 batches (dicts of lists, strings and NumPy arrays) and nothing else: a pickle that
    names any other global is refused, so no code from the archive is ever run."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct")}
    ALLOWED |= {("numpy._core.multiarray", "_reconstruct"), ("copy_reg", "_reconstructor"), ("__builtin__", "object")}
    ALLOWED |= {("_codecs", "encode")}  # how Python 3 writes bytes into a protocol-2 pickle

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR-10 batch")
        return super().find_class({"copy_reg": "copyreg", "__builtin__": "builtins"}.get(module, module), name)


def _cifar_batch(tar: tarfile.TarFile, name: str) -> tuple[np.ndarray, np.ndarray]:
    member = tar.extractfile(f"cifar-10-batches-py/{name}")
    if member is None:
        raise KeyError(name)
    batch = _ArraysOnly(member, encoding="latin1").load()
    images = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    labels = np.asarray(batch["labels"], dtype=np.int64)
    if len(labels) != len(images) or labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise ValueError(f"{len(images)} images but {len(labels)} labels in 0..9")
    return images, labels


def read_cifar10(archive: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """train / test (uint8 N,3,32,32 images, int64 labels) of `cifar-10-python.tar.gz`, read as the python version
    lays it out: `cifar-10-batches-py/data_batch_1..5` and `test_batch`, each a pickled dict of `data` (N x 3072
    bytes, the red plane, then green, then blue, row by row) and `labels`."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            train = [_cifar_batch(tar, f"data_batch_{i}") for i in range(1, 6)]
            test = _cifar_batch(tar, "test_batch")
    except (tarfile.TarError, OSError, EOFError, KeyError, ValueError, pickle.UnpicklingError) as exc:
        raise DaeError(f"{archive}: not a CIFAR-10 python archive ({exc.__class__.__name__}: {exc})") from None
    x, y = (np.concatenate(parts) for parts in zip(*train, strict=True))
    return {"train": (x, y), "test": test}


def load_splits(data: dict[str, Any], cache: str | Path = "data/.cache") -> dict[str, np.ndarray]:
    """Clean images and labels for train / val / test, as `{split}_x` uint8 (N,C,H,W) and `{split}_y` int64.

    Val is carved from train by a seeded permutation; digits, which has no official test split, gives one too.
    `data.subset` caps every split at that many images (a seeded sample).
    """
    rng = np.random.Generator(np.random.PCG64(data["seed"]))
    if data["name"] == "digits":
        x, y = _digits()
        order = rng.permutation(len(x))
        n_test = int(round(len(x) * data["test_fraction"]))
        test, rest = order[:n_test], order[n_test:]
        splits = {"test": (x[np.sort(test)], y[np.sort(test)]), "train": (x[np.sort(rest)], y[np.sort(rest)])}
    else:
        splits = _torchvision(data["name"], resolve_mirror(data["mirror"]), Path(cache), data.get("archive_md5"))
    x, y = splits["train"]
    order = rng.permutation(len(x))
    n_val = int(round(len(x) * data["val_fraction"]))
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    splits = {"train": (x[train], y[train]), "val": (x[val], y[val]), "test": splits["test"]}
    out = {}
    for split, (xs, ys) in splits.items():
        if data["subset"] is not None and len(xs) > data["subset"]:
            keep = np.sort(rng.permutation(len(xs))[: data["subset"]])
            xs, ys = xs[keep], ys[keep]
        out[f"{split}_x"], out[f"{split}_y"] = np.ascontiguousarray(xs), np.ascontiguousarray(ys)
    for split, key in (("val", "data.val_fraction"), ("test", "data.test_fraction"), ("train", "data.val_fraction")):
        if not len(out[f"{split}_y"]):
            raise DaeError(f"data: the {split} split of {data['name']} is empty; change {key} or data.subset")
    return out
