"""The README's commands are the ones CI runs, and its code example works on the pipeline's model."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def block_after(heading: str, lang: str) -> str:
    section = README.split(heading, 1)[1]
    return re.search(rf"```{lang}\n(.*?)```", section, re.S).group(1)


def test_ci_runs_the_quickstart_commands():
    install, tests = block_after("## Quickstart", "bash").strip().splitlines()
    ci = (ROOT / ".ci" / "run").read_text()
    assert install == 'pip install -e ".[dev]" && dvc repro'
    for command in install.split(" && ") + [tests]:
        command = command.replace("pip install -e", "pip install -q -e")
        assert command in ci, f"{command!r} is in the README quickstart but not in .ci/run"


@pytest.mark.skipif(not (ROOT / "data/models/main.safetensors").exists(), reason="run `dvc repro` first")
def test_model_example_runs():
    code = block_after("## Using a trained model", "python") + "\nassert denoised.shape == noisy.shape\n"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
