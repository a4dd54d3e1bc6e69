"""A sweep of the main setting as queued experiments, run by two parallel workers with one thread each."""

import json
from pathlib import Path

import pytest
from conftest import copy_project, sh

from bench.measure import run_queue

pytestmark = pytest.mark.slow


def test_queued_sweep_runs_on_two_workers(tmp_path: Path, reproduced: tuple[Path, str]):
    tiny_project = copy_project(reproduced[0], tmp_path / "project")
    sh("git", "add", "-A", cwd=tiny_project)
    sh("git", "commit", "-qm", "baseline", cwd=tiny_project)
    sh("dvc", "exp", "run", "--queue", "-S", "noise.std=0.1,0.5", cwd=tiny_project)
    assert sh("dvc", "queue", "status", cwd=tiny_project).stdout.count("Queued") == 2
    status = run_queue(tiny_project, jobs=2, env={"OMP_NUM_THREADS": "1"}, timeout=300)
    assert status.count("Success") == 2, status

    shown = json.loads(sh("dvc", "exp", "show", "--json", cwd=tiny_project).stdout)
    results = {}
    for rev in shown:
        for exp in rev.get("experiments") or []:
            data = exp["revs"][0]["data"]
            std = data["params"]["params.yaml"]["data"]["noise"]["std"]
            results[std] = data["metrics"]["metrics/eval.json"]["data"]["noisy_psnr"]
    assert set(results) == {0.1, 0.5}
    assert results[0.1] > results[0.5] + 5  # light noise leaves a much cleaner input
