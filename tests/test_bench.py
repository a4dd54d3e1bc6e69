"""The benchmark code runs and reports sane numbers (its speed targets are checked by running it, not here)."""

import json
import subprocess
import sys

import pytest
import torch
from conftest import MIRROR, ROOT

from bench.__main__ import table
from bench.measure import bench_corrupt, bench_cpu_bf16, bench_train, machine


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


def test_cpu_bf16_row_times_the_mnist_model_both_ways():
    (row,) = bench_cpu_bf16(128, 1)
    assert row["what"] == "train MNIST model, bf16 (amp_cpu)" and row["pipeline"] > 0 and row["bare"] > 0


def test_gpu_flag_without_a_gpu_is_one_clear_line():
    if torch.cuda.is_available():
        return
    proc = subprocess.run([sys.executable, "-m", "bench", "--gpu"], capture_output=True, text=True)
    assert proc.returncode != 0
    assert proc.stderr.strip() == "error: --gpu asks for CUDA, and this machine has none; run without --gpu"


@pytest.mark.slow
@pytest.mark.skipif(not (MIRROR / "mnist").is_dir(), reason="no local dataset mirror")
def test_probe_trains_a_small_mnist_model_and_reports_json():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.probe",
            "--std",
            "0.3",
            "--epochs",
            "1",
            "--train-images",
            "512",
            "--test",
            "64",
            "--blind",
            "0.1",
            "0.5",
            "--mirror",
            str(MIRROR),
            "--model",
            '{"channels": [8], "blocks": 0}',
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert set(result["test_psnr"]) == {"0.1", "0.3", "0.5"}
    # Heavier noise leaves a lower PSNR, even after one epoch on 512 images.
    assert result["test_psnr"]["0.1"] > result["test_psnr"]["0.5"]
    assert result["model"] == {"channels": [8], "blocks": 0}


def test_probe_rejects_a_bad_override_in_one_line():
    proc = subprocess.run(
        [sys.executable, "-m", "bench.probe", "--std", "0.1", "--epochs", "1", "--train", '{"lr": -1}'],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: params: train.lr = -1 is not allowed; expected a number > 0"
