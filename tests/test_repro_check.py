"""`python -m pipeline.repro_check`: committed results reproduce, and a change made without `dvc repro` is caught."""

import sys
from pathlib import Path

import pytest
import yaml
from conftest import copy_project, sh

pytestmark = pytest.mark.slow


def check(project: Path) -> "subprocess.CompletedProcess":  # noqa: F821
    return sh(sys.executable, "-m", "pipeline.repro_check", "--against-committed", cwd=project, check=False)


def commit(project: Path, message: str) -> None:
    sh("git", "add", "-A", cwd=project)
    sh("git", "commit", "-qm", message, cwd=project)


def test_committed_results_reproduce_and_stale_ones_are_caught(tmp_path: Path, reproduced: tuple[Path, str]):
    tiny_project = copy_project(reproduced[0], tmp_path / "project")
    commit(tiny_project, "results")
    ok = check(tiny_project)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert " 0 differ (committed vs reproduced)" in ok.stdout
    assert "metrics/eval.json:psnr" in ok.stdout and "data/clean.safetensors" in ok.stdout

    # A seed changed and committed without rerunning the pipeline.
    params = yaml.safe_load((tiny_project / "params.yaml").read_text())
    params["noise"]["seed"] = 7
    (tiny_project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    commit(tiny_project, "new noise seed, results not rerun")
    stale = check(tiny_project)
    assert stale.returncode == 1
    assert "The committed dvc.lock does not match the committed code and params." in stale.stdout
    assert "  corrupt: noise.seed is 7 in params.yaml but 0 in dvc.lock" in stale.stdout
    assert "corrupt_sweep@masking-0.5: noise.seed is 7 in params.yaml but 0 in dvc.lock" in stale.stdout
    assert "train:" not in stale.stdout  # only the stages whose own inputs changed are named
    assert "Run `dvc repro` and commit dvc.lock, metrics/ and plots/ with the change." in stale.stdout

    # Library code changed without rerunning.
    params["noise"]["seed"] = 0
    (tiny_project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    with (tiny_project / "dae/metrics.py").open("a") as handle:
        handle.write("\n# a change that should rerun the evaluations\n")
    commit(tiny_project, "metrics code changed, results not rerun")
    stale = check(tiny_project)
    assert stale.returncode == 1
    assert "  evaluate: dae/metrics.py modified (changed deps)" in stale.stdout
