"""A small archive in the real CIFAR-10 python format (the real one cannot be downloaded here), for the tests.

Same layout as `cifar-10-python.tar.gz`: `cifar-10-batches-py/` holding `data_batch_1..5`, `test_batch` and
`batches.meta`, each a protocol-2 pickle of a dict; `data` is an N x 3072 uint8 array (red plane, green, blue).
The images are smooth colour blobs, so a denoiser has structure to learn.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

LABELS = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def blobs(n: int, rng: np.random.Generator) -> np.ndarray:
    """n colour images (n, 3, 32, 32) uint8 of three soft blobs each on a tinted background."""
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float32)
    out = np.empty((n, 3, 32, 32), dtype=np.float32)
    for i in range(n):
        image = rng.uniform(0.1, 0.4, size=(3, 1, 1)) * np.ones((3, 32, 32), dtype=np.float32)
        for _ in range(3):
            cy, cx, r = rng.uniform(4, 28), rng.uniform(4, 28), rng.uniform(3, 9)
            mask = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
            image += mask * rng.uniform(-0.3, 0.6, size=(3, 1, 1))
        out[i] = image
    return np.rint(np.clip(out, 0, 1) * 255).astype(np.uint8)


def _add(tar: tarfile.TarFile, name: str, obj: object) -> None:
    data = pickle.dumps(obj, protocol=2)
    info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_cifar10(path: Path, per_batch: int = 100, test: int = 100, seed: int = 0) -> str:
    """Write the archive to `path`; return its MD5 (for `data.archive_md5`)."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
        for name in names:
            n = test if name == "test_batch" else per_batch
            images = blobs(n, rng)
            batch = {
                "batch_label": name,
                "labels": [int(v) for v in rng.integers(0, 10, n)],
                "data": images.reshape(n, 3072),
                "filenames": [f"blob_{name}_{i}.png" for i in range(n)],
            }
            _add(tar, name, batch)
        _add(tar, "batches.meta", {"num_cases_per_batch": per_batch, "label_names": LABELS, "num_vis": 3072})
    return hashlib.md5(path.read_bytes()).hexdigest()
