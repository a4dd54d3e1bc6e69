"""Faults: a stage killed midway leaves nothing complete-looking, and a rerun gives the uninterrupted result."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import make_project, sh

from pipeline.repro import compare, table

pytestmark = pytest.mark.slow


def outputs(project: Path) -> dict[str, str]:
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    return {out["path"]: out["md5"] for body in lock["stages"].values() for out in body.get("outs", [])}


def assert_same_as(reference: Path, rerun: Path) -> None:
    """Every output hash and metric as in the uninterrupted run (BM3D's, which jitter by 1e-6, within 1e-3); DVC
    sees nothing to do; no temporary file anywhere."""
    rows = compare(reference, rerun, exact=True)
    assert not [r for r in rows if r["status"].startswith("DIFFERS")], table(rows)
    assert len(outputs(rerun)) == len(outputs(reference))
    assert sh("dvc", "status", "-q", cwd=rerun, check=False).returncode == 0
    assert not [p for p in rerun.rglob(".tmp*") if ".git" not in p.parts], "temporaries were left behind"


def kill_during_training(project: Path) -> None:
    """`kill -9` the whole `dvc repro` (DVC and its stage) while a model is midway through training."""
    proc = subprocess.Popen(
        ["dvc", "repro"],
        cwd=project,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "DVC_NO_ANALYTICS": "1"},
    )
    deadline, midway = time.monotonic() + 120, []
    while not midway and time.monotonic() < deadline and proc.poll() is None:
        # DVCLive's folder is still under its temporary name while a model trains; epoch 5 of 12 is midway.
        midway = list((project / "plots/train").glob("**/.tmp-*/plots/images/val_grid/epoch_005.png"))
        time.sleep(0.05)
    assert midway, "training never got to epoch 5"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    live_tmp = midway[0].parents[3]  # .tmp-<setting>.<random>/plots/images/val_grid/epoch_005.png
    setting = live_tmp.name.removeprefix(".tmp-").rsplit(".", 1)[0]
    model = project / "data/models" / ("main.safetensors" if setting == "main" else f"sweep/{setting}.safetensors")
    assert not model.exists(), "a killed training stage left a model file"
    assert not (live_tmp.parent / setting).exists(), "a killed training stage left a complete-looking log folder"


# Loaded by every Python process of the run (PYTHONPATH): SIGKILLs the stage at the moment its finished temporary
# file is about to be renamed onto $KILL_AT, the last instant of a write. Only the project's writers rename `.tmp-*`.
KILLER = """
import os, signal
_target, _replace = os.environ.get("KILL_AT"), os.replace
def _replace_or_die(src, dst, *args, **kwargs):
    if _target and os.path.basename(os.fspath(src)).startswith(".tmp-") and os.fspath(dst).endswith(_target):
        os.kill(os.getpid(), signal.SIGKILL)
    return _replace(src, dst, *args, **kwargs)
os.replace = _replace_or_die
"""


def kill_at_write(project: Path, target: str, hook: Path) -> None:
    """`kill -9` the stage that writes `target`, at the instant its temporary file is complete."""
    proc = sh("dvc", "repro", cwd=project, check=False, env={"KILL_AT": target, "PYTHONPATH": str(hook)})
    assert proc.returncode != 0, f"no stage was killed writing {target}"
    assert not (project / target).exists(), f"a killed writer left {target}"
    leftovers = [p.name for p in project.rglob(".tmp*") if ".git" not in p.parts]
    # Only the project's own temporaries (which the rerun cleans), none of a library's (`.tmpXXXXXX`).
    assert leftovers and all(name.startswith(f".tmp-{Path(target).name}.") for name in leftovers), leftovers


# Kills in the order `dvc repro` reaches them: one of each kind of write (a marker, a model, a metrics JSON, data
# arrays, a DVCLive folder, a cross-noise table, a plots CSV) and one midway through training a sweep model.
KILLS = [
    "data/params.ok",
    "data/models/main.safetensors",
    "metrics/eval.json",
    "data/pairs/sweep/masking-0.5.safetensors",
    "midway through training",
    "metrics/baselines/gaussian-0.5.json",
    "plots/train/blind/all",
    "metrics/cross_noise.json",
    "plots/psnr_vs_noise/gaussian.csv",
]


def test_sigkill_anywhere_then_repro_gives_the_uninterrupted_result(tmp_path: Path, reproduced: tuple[Path, str]):
    # The reference is the session's uninterrupted run; this test is also the suite's proof that two runs from
    # clean give the same bytes (what `python -m pipeline.repro_check` checks).
    reference, killed = reproduced[0], make_project(tmp_path / "killed")
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(KILLER)
    for where in KILLS:
        if where == "midway through training":
            kill_during_training(killed)
        else:
            kill_at_write(killed, where, tmp_path / "hook")
    sh("dvc", "repro", cwd=killed)
    assert_same_as(reference, killed)
