"""The benchmark code runs and reports sane numbers (its speed targets are checked by running it, not here)."""

import subprocess
import sys

import torch

from bench.__main__ import table
from bench.measure import bench_corrupt, bench_train, machine


def test_corrupt_and_train_rows():
    rows = bench_corrupt(300) + bench_train("mlp", 256, 1, torch.device("cpu"))
    assert [r["what"] for r in rows] == [
        "corrupt gaussian",
        "corrupt salt_pepper",
        "corrupt masking",
        "train mlp",
        "evaluate mlp",
    ]
    assert all(r["pipeline"] > 0 and r["bare"] > 0 for r in rows)
    text = table(rows)
    assert "corrupt masking" in text and "ratio" in text.splitlines()[0]
    assert machine(torch.device("cpu"))["cores"] >= 1


def test_gpu_flag_without_a_gpu_is_one_clear_line():
    if torch.cuda.is_available():
        return
    proc = subprocess.run([sys.executable, "-m", "bench", "--gpu"], capture_output=True, text=True)
    assert proc.returncode != 0
    assert proc.stderr.strip() == "error: --gpu asks for CUDA, and this machine has none; run without --gpu"
