"""Faults: a stage killed midway leaves nothing complete-looking, and a rerun gives the uninterrupted result."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import make_project, sh

from dae.repro import compare, table

pytestmark = pytest.mark.slow


def outputs(project: Path) -> dict[str, str]:
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    return {out["path"]: out["md5"] for body in lock["stages"].values() for out in body.get("outs", [])}


def test_sigkill_during_training_then_repro_gives_the_uninterrupted_result(tmp_path: Path):
    reference, killed = make_project(tmp_path / "reference"), make_project(tmp_path / "killed")
    sh("dvc", "repro", cwd=reference)

    proc = subprocess.Popen(
        ["dvc", "repro"],
        cwd=killed,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "DVC_NO_ANALYTICS": "1"},
    )
    deadline, midway = time.monotonic() + 120, []
    while not midway and time.monotonic() < deadline and proc.poll() is None:
        # DVCLive's folder is still under its temporary name while a model trains; epoch 5 of 12 is midway.
        midway = list((killed / "plots/train").glob("**/.tmp-*/plots/images/val_grid/epoch_005.png"))
        time.sleep(0.05)
    assert midway, "training never got to epoch 5"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    live_tmp = midway[0].parents[3]  # .tmp-<setting>.<random>/plots/images/val_grid/epoch_005.png
    setting = live_tmp.name.removeprefix(".tmp-").rsplit(".", 1)[0]
    model = killed / "data/models" / ("main.safetensors" if setting == "main" else f"sweep/{setting}.safetensors")
    assert not model.exists(), "a killed training stage left a model file"
    assert not (live_tmp.parent / setting).exists(), "a killed training stage left a complete-looking log folder"

    sh("dvc", "repro", cwd=killed)
    # Every output hash and metric as in the uninterrupted run (BM3D's, which jitter by 1e-6, within 1e-3).
    rows = compare(reference, killed, exact=True)
    assert not [r for r in rows if r["status"].startswith("DIFFERS")], table(rows)
    assert len(outputs(killed)) == len(outputs(reference))
    assert not list(killed.rglob(".tmp-*")), "temporaries of the killed run were left behind"
