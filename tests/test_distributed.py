"""Data-parallel training under torchrun: real processes, the gloo backend on the CPU (`train.nproc`)."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml
from conftest import copy_project, sh, stopped_by_change

from dae import load_model
from dae.models import model_extra

pytestmark = pytest.mark.slow
TRAIN = [sys.executable, "-m", "pipeline.train", "data/pairs/main.safetensors"]


def project_with(tmp_path: Path, reproduced: tuple[Path, str], **train) -> Path:
    project = copy_project(reproduced[0], tmp_path / "project")
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"].update(train)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return project


def test_one_torchrun_process_gives_the_plain_paths_bytes(tmp_path: Path, reproduced: tuple[Path, str]):
    project = project_with(tmp_path, reproduced, epochs=3)
    sh(*TRAIN, "plain.safetensors", "live-plain", cwd=project)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"]["nproc"] = 1
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(*TRAIN, "ddp.safetensors", "live-ddp", cwd=project)
    assert (project / "ddp.safetensors").read_bytes() == (project / "plain.safetensors").read_bytes()


def test_two_processes_through_dvc_write_one_model_from_rank_0(tmp_path: Path, reproduced: tuple[Path, str]):
    project = copy_project(reproduced[0], tmp_path / "project")
    sh("dvc", "exp", "run", "-S", "train.nproc=2", "-S", "train.epochs=4", "train", cwd=project)
    model = project / "data/models/main.safetensors"
    assert load_model(model).config["shape"] == [1, 8, 8] and model_extra(model)["epochs"] == 4
    logs = project / "plots/train/main"
    assert (logs / "metrics.json").is_file() and not list(logs.parent.glob(".tmp*"))
    assert sh("dvc", "status", "-q", "train", cwd=project, check=False).returncode == 0


def test_fewer_training_images_than_processes_is_one_line_naming_train_nproc(tmp_path, reproduced):
    from dae.io import load_arrays, save_arrays

    project = project_with(tmp_path, reproduced, nproc=2, epochs=1)
    arrays, meta = load_arrays(project / "data/pairs/main.safetensors")
    arrays = {k: v[:1] if k.startswith("train_") else v for k, v in arrays.items()}
    save_arrays(project / "one.safetensors", arrays, meta)
    proc = sh(*TRAIN[:-1], "one.safetensors", "model.safetensors", "live", cwd=project, check=False)
    assert proc.returncode == 2 and not (project / "model.safetensors").exists()
    assert re.fullmatch(
        r"error: training with 2 torchrun processes failed: rank [01]: training has 1 image, too few for 2 "
        r"processes, one each; lower train.nproc",
        proc.stderr.strip().splitlines()[-1],
    ), proc.stderr


def rank_pids(rank: int) -> list[int]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if "pipeline.train" in (proc.info["cmdline"] or []) and proc.environ().get("RANK") == str(rank):
                found.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def test_a_killed_rank_fails_in_one_line_leaves_no_model_and_a_rerun_works(tmp_path, reproduced):
    project = project_with(tmp_path, reproduced, nproc=2, epochs=12)
    model = project / "model.safetensors"
    proc = subprocess.Popen([*TRAIN, str(model), "live"], cwd=project, stderr=subprocess.PIPE, text=True)
    deadline, midway = time.monotonic() + 120, []
    while not midway and time.monotonic() < deadline and proc.poll() is None:
        midway = list(project.glob(".tmp-live.*/plots/images/val_grid/epoch_003.png"))
        time.sleep(0.05)
    assert midway, "training never got to epoch 3"
    os.kill(rank_pids(1)[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    last = err.strip().splitlines()[-1]
    assert (
        last == "error: training with 2 torchrun processes failed: rank 1 killed by signal 9; no output was "
        "written, rerun the stage"
    ), err
    assert not model.exists() and not (project / "live").exists()
    sh(*TRAIN, str(model), "live", cwd=project)
    assert load_model(model) is not None and (project / "live/metrics.json").is_file()


def test_params_yaml_changed_under_torchrun_stops_every_rank_in_one_line(tmp_path, reproduced):
    """Rank 0 alone checks params.yaml after each epoch; torchrun then stops the other rank, and the error is
    rank 0's (without the per-epoch check this run would train for hours)."""
    project = project_with(tmp_path, reproduced, nproc=2, epochs=100000)
    model = project / "model.safetensors"
    proc = subprocess.Popen([*TRAIN, str(model), "live"], cwd=project, stderr=subprocess.PIPE, text=True)
    err = stopped_by_change(
        proc,
        lambda: bool(list(project.glob(".tmp-live.*/plots/metrics/train/loss.tsv"))),
        lambda: (project / "params.yaml").write_text((project / "params.yaml").read_text() + "# changed\n"),
        "training under torchrun",
    )
    assert proc.returncode == 2
    rank_0 = "error: training with 2 torchrun processes failed: rank 0: params: params.yaml changed while this stage"
    assert err.strip().splitlines()[-1].startswith(rank_0), err
    assert not model.exists() and not (project / "live").exists() and not list(project.glob(".tmp-live.*"))
    assert not rank_pids(0) + rank_pids(1), "a rank outlived the run"
