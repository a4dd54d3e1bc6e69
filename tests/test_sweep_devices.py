"""tools/sweep_devices.py: a sweep with one worker per (fake, on the CPU) device, through the real `dvc` CLI."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT, copy_project, sh

pytestmark = pytest.mark.slow

# noise.amount is salt-and-pepper's, unused by the gaussian main setting: each experiment reruns check_params and
# corrupt, which write the same bytes, and nothing after them (6 s of CPU against 19 for noise.std). What is under
# test is which device runs which experiment when, not the training.
AMOUNTS = ("0.05", "0.1", "0.15")
SETS = sorted(f"noise.amount={amount}" for amount in AMOUNTS)


def test_each_device_runs_one_experiment_at_a_time_with_its_own_cuda_visible_devices(tmp_path, reproduced):
    project = copy_project(reproduced[0], tmp_path / "project")
    sh("git", "add", "-A", cwd=project)
    sh("git", "commit", "-qm", "baseline results", cwd=project)
    # A `dvc` first on PATH that records the device each call sees, then runs the real one.
    shim, log = tmp_path / "bin", tmp_path / "calls.log"
    shim.mkdir()
    (shim / "dvc").write_text(f'#!/bin/sh\necho "$CUDA_VISIBLE_DEVICES $*" >> {log}\nexec {shutil.which("dvc")} "$@"\n')
    (shim / "dvc").chmod(0o755)
    env = {**os.environ, "PATH": f"{shim}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    report = tmp_path / "sweep.json"
    cmd = [
        sys.executable,
        str(ROOT / "tools/sweep_devices.py"),
        "--devices",
        "gpu-a,gpu-b",
        "-S",
        f"noise.amount={','.join(AMOUNTS)}",
    ]
    proc = subprocess.run([*cmd, "--json", str(report)], cwd=project, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    results = json.loads(report.read_text())
    assert sorted(r["set"][0] for r in results) == SETS
    assert {r["device"] for r in results} == {"gpu-a", "gpu-b"}
    for device in ("gpu-a", "gpu-b"):  # never two experiments on one device at once
        spans = sorted((r["start"], r["end"]) for r in results if r["device"] == device)
        assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:], strict=False))
    calls = [line.split(" ", 1) for line in log.read_text().splitlines()]
    assert sorted(args.split()[-1] for device, args in calls) == SETS
    assert {r["device"]: r["set"] for r in results}.keys() <= {device for device, _ in calls}

    shown = json.loads(sh("dvc", "exp", "show", "--json", cwd=project).stdout)
    amounts = {
        exp["revs"][0]["data"]["params"]["params.yaml"]["data"]["noise"]["amount"]
        for rev in shown
        for exp in rev.get("experiments") or []
    }
    assert amounts == {float(amount) for amount in AMOUNTS}


def test_bad_arguments_are_one_line():
    for args, message in (
        (["--devices", "0,0", "-S", "noise.std=0.1"], "must list distinct devices"),
        (["--devices", "0", "-S", "noise.std"], "is not KEY=VALUE"),
    ):
        proc = subprocess.run(
            [sys.executable, "tools/sweep_devices.py", *args], cwd=ROOT, capture_output=True, text=True
        )
        assert proc.returncode != 0 and message in proc.stderr.strip().splitlines()[-1]
