"""The docs' table tools and the device sweep refuse what would wipe a page or report a failed sweep as done."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("studies.md", "results.md", "anomaly.md")


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """tools/ and the pages they write, copied: a tool that went wrong would rewrite the copy, not the checkout."""
    shutil.copytree(ROOT / "tools", tmp_path / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "docs").mkdir()
    for page in PAGES:
        shutil.copy(ROOT / "docs" / page, tmp_path / "docs" / page)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty.json").write_text("{}")
    return tmp_path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["study_tables.py", "empty", "--write", "digits"], "empty holds no studies/*.json and no probe.json"),
        (["study_tables.py", "empty", "--check", "digits"], "empty holds no studies/*.json and no probe.json"),
        (["study_tables.py", str(ROOT / "metrics"), "--write", "bogus"], "unknown tag 'bogus'; allowed: digits, mnist"),
        (["anomaly_tables.py", "empty.json", "--write"], "empty.json holds no anomaly results"),
        (["anomaly_tables.py", "nowhere.json", "--write"], "error: cannot read nowhere.json"),
        (["sweep_devices.py", "--devices", "0", "-S", "noise.std=0.1", "--repo", "nowhere"], "--repo nowhere holds no"),
    ],
)
def test_a_tool_given_nothing_to_write_says_so_and_leaves_the_pages(copy: Path, args: list[str], message: str):
    """Once the table tools wiped a page's tables and exited 0, and the sweep reported a crash as a finished run."""
    before = {page: (copy / "docs" / page).read_bytes() for page in PAGES}
    proc = subprocess.run(
        [sys.executable, copy / "tools" / args[0], *args[1:]], cwd=copy, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert {page: (copy / "docs" / page).read_bytes() for page in PAGES} == before


def test_a_sweep_whose_dvc_cannot_start_fails(copy: Path):
    """Without dvc on PATH each worker thread crashed, `[]` was written and the sweep exited 0."""
    (copy / "project").mkdir()
    (copy / "project" / "dvc.yaml").write_text("stages: {}\n")  # a folder of its own: no experiment can touch ours
    proc = subprocess.run(
        [
            sys.executable,
            copy / "tools" / "sweep_devices.py",
            "--devices",
            "0",
            "-S",
            "noise.std=0.1",
            "--repo",
            "project",
            "--json",
            "out.json",
        ],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": str(copy / "no-dvc-here")},
    )
    assert proc.returncode == 1 and "error: 1 of 1 experiments failed: noise.std=0.1" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and '"ok": false' in (copy / "out.json").read_text()
