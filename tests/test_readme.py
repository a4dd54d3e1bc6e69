"""The README is a front page: short, its commands the ones CI runs, its stage table the pipeline's stages.

Its code blocks are run or checked with every other page's by tests/test_docs.py.
"""

import json
import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
MAX_BYTES = 12_000


def section(heading: str) -> str:
    return README.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]


def block_after(heading: str, lang: str) -> str:
    return re.search(rf"```{lang}\n(.*?)```", section(heading), re.S).group(1)


def test_ci_runs_the_quickstart_commands():
    install, tests = block_after("## Quickstart", "bash").strip().splitlines()
    ci = (ROOT / ".ci" / "run").read_text()
    assert install == 'pip install -e ".[dev]" && dvc repro'
    for command in install.split(" && ") + [tests]:
        command = command.replace("pip install -e", "pip install -q -e")
        assert command in ci, f"{command!r} is in the README quickstart but not in .ci/run"


def test_readme_is_a_front_page():
    size = len(README.encode())
    assert size <= MAX_BYTES, f"README.md is {size:,} bytes; move the long material into docs/"


def test_readme_links_every_page_of_the_docs():
    linked = set(re.findall(r"\]\((docs/[\w.-]+\.md)\)", section("## Where to go next")))
    pages = {str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")}
    assert linked == pages


def test_stage_table_lists_every_stage_of_the_pipeline():
    table = section("## The pipeline").split("| stage |", 1)[1].split("\n\n", 1)[0]
    # `train_sweep@<s>` in the table stands for dvc.yaml's foreach stage train_sweep, `train_anomaly@<d>-<c>` for
    # the matrix stage train_anomaly.
    listed = {
        re.sub(r"@<\w+>(-<\w+>)*$", "@", name)
        for row in table.splitlines()[2:]
        for name in re.findall(r"`([\w@<>-]+)`", row.split(" | ")[0])
    }
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    expected = {f"{name}@" if {"foreach", "matrix"} & set(stage) else name for name, stage in stages.items()}
    assert listed == expected


def committed(path: str) -> str:
    """A file as committed: the workspace may hold an experiment's results (`dvc exp run -S noise.std=0.5`)."""
    proc = subprocess.run(["git", "show", f"HEAD:./{path}"], cwd=ROOT, capture_output=True, text=True)
    return proc.stdout if proc.returncode == 0 else (ROOT / path).read_text()


def test_results_table_is_the_committed_run():
    rows = [line for line in section("## Results").splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == 8
    for row in rows:
        name, *cells = (cell.strip().strip("*`") for cell in row.strip("|").split("|"))
        path = "metrics/eval.json" if name.startswith("main") else f"metrics/sweep/{name}.json"
        metrics = json.loads(committed(path))
        expected = [f"{metrics['noisy_psnr']:.2f}", f"{metrics['psnr']:.2f}"]
        expected += [f"{metrics['noisy_ssim']:.3f}", f"{metrics['ssim']:.3f}"]
        assert cells == expected, f"README row {name}: {cells}, committed {path}: {expected}"
