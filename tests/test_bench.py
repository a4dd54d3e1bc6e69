"""The benchmark code runs and reports sane numbers (its speed targets are checked by running it, not here)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
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
    # One batch a fit: a CPU without native bf16 emulates it, 10 times slower than fp32 (34 s at 128 images there).
    (row,) = bench_cpu_bf16(32, 1)
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


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench.natural_step", "--steps", "0"], "argument --steps: 0 is not allowed; expected a whole number >= 1"),
        (["bench.ensemble", "--sigmas", "15", "nan"], "--sigmas: nan is not allowed; expected a number from 0"),
        (["bench.denoise_image", "--size", "4000"], "argument --size: '4000' is not a size; expected HxW in pixels"),
        (["bench.probe", "--std", "0.1", "--epochs", "two"], "argument --epochs: 'two' is not a whole number"),
        (["bench.probe", "--std", "0.1", "--epochs", "1", "--blind", "0.5", "0.1"], "0.5 0.1 is not allowed; expected"),
    ],
)
def test_a_bad_number_for_a_bench_script_is_one_line_before_any_work(argv, message):
    proc = subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and proc.stdout == ""
    assert message in proc.stderr.strip().splitlines()[-1]


def test_gpu_script_compares_with_the_committed_cpu_results():
    # The CPU column of the GPU report is the per-setting row of docs/results.md's MNIST table, setting by setting.
    from bench.gpu import CPU_PSNR

    text = (ROOT / "docs" / "results.md").read_text()
    lines = text[text.index("### Blind models on MNIST") :].splitlines()
    header = next(line for line in lines if line.startswith("| model | `gaussian-0.1`"))
    row = next(line for line in lines if line.startswith("| per-setting model |"))
    names = [cell.strip(" `") for cell in header.split("|")[2:-1]]
    values = [float(cell) for cell in row.split("|")[2:-1]]
    assert dict(zip(names, values, strict=True)) == CPU_PSNR


def test_gpu_script_without_a_gpu_is_one_clear_line():
    if torch.cuda.is_available():
        return
    proc = subprocess.run([sys.executable, "-m", "bench.gpu"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [
        "error: --device cuda asks for CUDA, and this machine has none; use --device cpu --subset 512"
    ]


@pytest.mark.slow
@pytest.mark.skipif(not (MIRROR / "mnist").is_dir(), reason="no local dataset mirror")
def test_gpu_script_runs_its_mnist_sweep_on_the_cpu(tmp_path):
    # The GPU checks, on a sample and the CPU: the same code a GPU machine runs, so it is known to work beforehand.
    out = tmp_path / "gpu.json"
    overrides = '{"epochs": 2, "batch_size": 32, "amp_cpu": false}'
    settings = ["--settings", "gaussian-0.1", "gaussian-0.5"]
    cmd = ["-m", "bench.gpu", "--device", "cpu", "--mirror", str(MIRROR), "--subset", "256", "--train", overrides]
    proc = subprocess.run(
        [sys.executable, *cmd, *settings, "--out", str(out)], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    rows = result["mnist"]["rows"]
    assert [r["setting"] for r in rows] == ["gaussian-0.1", "gaussian-0.5"]
    assert [r["n_test"] for r in rows] == [256, 256] and all(r["images_per_s"] > 0 for r in rows)
    assert [r["cpu_psnr"] for r in rows] == [31.10, 21.05]
    # --train is laid over the GPU batch and lr (lr 0.02 kept from it), as a GPU run would use them.
    assert result["mnist"]["train"]["batch_size"] == 32 and result["mnist"]["train"]["lr"] == 0.02
    assert rows[0]["psnr"] > rows[1]["psnr"] > 10  # lighter noise, better output, even after a few steps
    assert "gaussian-0.5: " in proc.stderr and "images/s" in proc.stderr  # progress, as each setting ends


def test_mnist_archs_are_the_natural_ones_with_the_mnist_recipe():
    from bench.archs import arch_params
    from dae.params import validate

    natural = yaml.safe_load((ROOT / "configs" / "natural.yaml").read_text())["natural"]["archs"]
    mnist = yaml.safe_load((ROOT / "configs" / "mnist.yaml").read_text())
    for arch in ("unet", "dncnn"):
        params = validate(arch_params(arch, {"amp_cpu": False}))
        assert params["model"] == natural[arch]
        assert params["train"] == {**mnist["train"], "amp_cpu": False}


@pytest.mark.skipif(not (ROOT / "docs" / "data" / "mnist" / "archs.json").is_file(), reason="no recorded run yet")
def test_mnist_archs_table_is_the_recorded_run():
    from bench.archs import BEGIN, DOC, END, OUT, table

    block = DOC.read_text().split(BEGIN, 1)[1].split("\n", 1)[1].split(END, 1)[0]
    assert block.strip() == table(json.loads(OUT.read_text())).strip()


def test_natural_step_times_each_layout_and_refuses_an_unknown_arch():
    cmd = [sys.executable, "-m", "bench.natural_step", "--config", "configs/natural-fp32.yaml", "--threads", "1"]
    proc = subprocess.run([*cmd, "--archs", "conv", "--bf16", "--steps", "1"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    header, row = proc.stdout.splitlines()[1:3]
    assert header.split()[1:] == ["fp32", "NCHW", "fp32", "NHWC", "bf16", "NHWC"]
    assert row.split()[0] == "conv" and all(float(t) > 0 for t in row.split()[1:]) and len(row.split()) == 4

    proc = subprocess.run([*cmd, "--archs", "unet-nm", "transformer"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "natural_step: no arch transformer in configs/natural-fp32.yaml; it has dncnn, unet, unet-nm, conv"
    ]


def test_ensemble_bench_scores_held_out_training_images_one_pass_and_x8(tmp_path):
    from PIL import Image

    from dae.models import build_model, save_model

    rng = np.random.default_rng(0)
    photos = tmp_path / "train"
    photos.mkdir()
    for i in range(5):  # smooth random images: something for the noise to hide
        coarse = Image.fromarray(rng.integers(0, 256, (6, 6), dtype="uint8")).resize((40, 40), Image.BICUBIC)
        coarse.save(photos / f"{i}.png")
    config = {"data": {"seed": 0}, "natural": {"data": {"mine": {"train": str(photos)}}, "val_images": 2}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    arch = {"arch": "unet", "channels": [8, 16], "blocks": 1, "output": "linear", "hidden": [8], "latent": 4}
    torch.manual_seed(0)
    save_model(build_model({**arch, "activation": "relu", "dropout": 0.0, "bottleneck": "dense", "norm": "none"},
                           (1, 16, 16)), tmp_path / "m.safetensors")  # fmt: skip
    cmd = [sys.executable, "-m", "bench.ensemble", "--model", str(tmp_path / "m.safetensors"), "--sigmas", "25"]
    proc = subprocess.run([*cmd, "--config", str(tmp_path / "c.yaml")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout.splitlines()[0])
    assert row["sigma"] == 25 and row["images"] == 2 and row["x8"] != row["one_pass"]
    assert row["gain"] == pytest.approx(row["x8"] - row["one_pass"], abs=2e-3) and row["smallest_gain"] <= row["gain"]


@pytest.mark.skipif(not (MIRROR / "train400").is_dir(), reason="no local dataset mirror")
def test_natural_gpu_script_trains_plans_and_scores_on_the_cpu(tmp_path):
    # The natural-image GPU runs, on a sample and the CPU: budgets become epochs by a probe, a match shares them.
    from dae.models import load_model

    tiny = [8, 16, 32, 64]
    runs = [
        {"name": "b", "channels": tiny, "sigma": "blind", "epochs": 3, "budget": 1e9, "match": "m"},
        {"name": "s", "channels": tiny, "sigma": 15, "epochs": 1, "match": "m"},
        {"name": "f", "channels": tiny, "sigma": 25, "epochs": 1},
    ]
    natural = {"patches": 128, "val_patches": 32, "val_images": 3}
    cmd = ["-m", "bench.natural_gpu", "--device", "cpu", "--mirror", str(MIRROR), "--subset", "6"]
    cmd += ["--runs", json.dumps(runs), "--natural", json.dumps(natural)]
    out, save = tmp_path / "natural.json", tmp_path / "models"
    proc = subprocess.run(
        [sys.executable, *cmd, "--out", str(out), "--save", str(save)], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["epochs"] == {"b": 3, "s": 3, "f": 1}  # the budget allows the cap; "s" follows its match
    rows = {r["name"]: r for r in result["runs"]}
    assert [rows[n]["trained_epochs"] for n in "bsf"] == [3, 3, 1]
    for row in rows.values():
        assert len(row["held_out"]) == len(row["test"]) == 3 and row["held_out"][0] > row["held_out"][2] > 10
    model = load_model(save / "b.safetensors")
    assert model.config["channels"] == tiny and model.config["noise_map"] == "estimate"


def test_probe_honours_fresh_noise_and_stays_seeded():
    from sklearn.datasets import load_digits

    from bench.probe import main_model_only, train_and_score
    from dae.params import validate

    # The bundled 8x8 digits blown up to MNIST's 28x28 (3x3 blocks, padded): strokes a model can learn in seconds.
    digits = np.pad(np.kron(load_digits().images, np.ones((3, 3))), ((0, 0), (2, 2), (2, 2))) * 255 / 16
    digits = digits.round().astype(np.uint8)[:, None]
    splits = {"train_x": digits[:256], "val_x": digits[256:288], "test_x": digits[288:320]}
    raw = yaml.safe_load((ROOT / "configs" / "mnist.yaml").read_text())
    raw["model"] |= {"channels": [4], "blocks": 0}

    def score(fresh: bool) -> float:
        raw["train"] |= {"epochs": 3, "amp_cpu": False, "fresh_noise": fresh}
        return train_and_score(validate(main_model_only(raw)), splits, 0.3, test=32)["val_psnr"]

    fixed, fresh = score(False), score(True)
    # train.fresh_noise trains on other inputs than the fixed pairs, and is seeded like them.
    assert fresh != fixed
    assert score(True) == fresh


def test_an_invalid_params_yaml_does_not_stop_the_benchmarks_help(tmp_path):
    """bench.measure read params.yaml when imported: `python -m bench --help` (and the GPU and natural-image
    benchmarks, which run from configs/) failed with a ParamError traceback on an invalid workspace params.yaml."""
    import shutil

    shutil.copytree(ROOT / "bench", tmp_path / "bench", ignore=shutil.ignore_patterns("__pycache__", "*.json"))
    (tmp_path / "params.yaml").write_text("train: {lr: -1}\n")
    # bench.gpu and bench.natural_gpu import bench.measure as `python -m bench` does: one process tells for all
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        timeout=120,
    )
    assert proc.returncode == 0 and "usage:" in proc.stdout, proc.stderr
