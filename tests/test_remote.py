"""Sharing results between machines: `dvc push` to a remote, `dvc pull` into a fresh clone, `dvc exp push/pull`.

The remote is a local folder and the git remote a bare repository: the real CLI, and the same commands as with an
S3 or SSH remote (docs/reproducibility.md#sharing-results-between-machines-a-dvc-remote).
"""

import json
from pathlib import Path

import pytest
from conftest import copy_project, sh

from dae import load_model

pytestmark = pytest.mark.slow


def ran(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")}


def test_pull_into_a_fresh_clone_gives_the_models_without_retraining(tmp_path: Path, reproduced: tuple[Path, str]):
    project, origin, store = (
        copy_project(reproduced[0], tmp_path / "project"),
        tmp_path / "origin.git",
        tmp_path / "store",
    )
    sh("git", "init", "-q", "--bare", str(origin), cwd=tmp_path)
    sh("dvc", "remote", "add", "-d", "store", str(store), cwd=project)
    sh("git", "add", "-A", cwd=project)
    sh("git", "commit", "-qm", "results and the remote", cwd=project)
    sh("git", "remote", "add", "origin", str(origin), cwd=project)
    sh("git", "push", "-q", "origin", "main", cwd=project)
    sh("dvc", "push", cwd=project)

    clone = tmp_path / "clone"
    sh("git", "clone", "-q", "-b", "main", str(origin), str(clone), cwd=tmp_path)
    assert not (clone / "data/models/main.safetensors").exists()
    sh("dvc", "pull", cwd=clone)
    assert sh("dvc", "status", "-q", cwd=clone, check=False).returncode == 0
    model = clone / "data/models/main.safetensors"
    assert model.read_bytes() == (project / "data/models/main.safetensors").read_bytes()
    assert load_model(model).config["shape"] == [1, 8, 8]
    assert ran(sh("dvc", "repro", cwd=clone).stdout) == set()  # nothing to retrain

    # An experiment run on one machine, shared through git refs and the remote, and applied on the other.
    sh("dvc", "exp", "run", "-n", "std-0.4", "-S", "noise.std=0.4", cwd=project)
    sh("dvc", "exp", "push", "origin", "std-0.4", cwd=project)
    sh("dvc", "exp", "pull", "origin", "std-0.4", cwd=clone)
    assert "std-0.4" in sh("dvc", "exp", "list", cwd=clone).stdout
    sh("dvc", "exp", "apply", "std-0.4", cwd=clone)
    metrics = json.loads((clone / "metrics/eval.json").read_text())
    assert metrics == json.loads((project / "metrics/eval.json").read_text())
    assert sh("dvc", "status", "-q", cwd=clone, check=False).returncode == 0  # the experiment's model came too
