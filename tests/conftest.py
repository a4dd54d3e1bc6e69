"""Shared fixtures: a throwaway copy of the project in a fresh git + DVC repo, driven through the real CLI."""

from __future__ import annotations

import copy
import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from pipeline.repro import SMALL, merge

# Under pytest-xdist (the suite's default, `-n auto`) the workers share the cores: one torch thread each, inherited
# by every stage they start. Two workers with a thread per core each would spin OpenMP threads against each other.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # The variable reaches the stages a worker starts, but not the worker's own torch: its OpenMP runtime had already
    # read the environment (a worker's torch used 2 threads with the variable at 1; with CI's reproduction beside the
    # two workers, in-process tests of tests/test_training.py took 10 to 42 s that take under a second alone).
    import torch
    from threadpoolctl import threadpool_limits

    first = os.environ["OMP_NUM_THREADS"].split(",")[0]  # OpenMP also takes a nested list, "4,2"
    if first.isdigit() and int(first) > 0:
        torch.set_num_threads(int(first))  # also the MKL inside torch, which threadpoolctl cannot see
        threadpool_limits(int(first))  # numpy's OpenBLAS, loaded before this file too, had 2 as well

ROOT = Path(__file__).resolve().parents[1]
MIRROR = ROOT.parent / "shared" / "datasets"
# What a stage needs: the code and the pipeline definition, not the committed results.
CODE = {"dae", "pipeline", ".dvc", "dvc.yaml", "params.yaml", "pyproject.toml", ".dvcignore", ".gitignore"}


def tracked_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in out.splitlines() if (ROOT / line).is_file()]


def committed_text(path: str) -> str:
    """A file as committed at HEAD, not as in the workspace: after `dvc exp run -S noise.std=0.5` the workspace's
    params.yaml holds the experiment, and tests about the committed project must not see it. The workspace file
    where there is no git history (an unpacked archive)."""
    proc = subprocess.run(["git", "show", f"HEAD:{path}"], cwd=ROOT, capture_output=True, text=True)
    return proc.stdout if proc.returncode == 0 else (ROOT / path).read_text()


def with_value(dotted: str, value) -> dict:
    """The committed params as a dict, with one dotted key (`noise.std`, `sweep`) set to `value`."""
    return with_values({dotted: value})


def with_values(changes: dict) -> dict:
    """The committed params as a dict, with each dotted key of `changes` set to (a copy of) its value, in order."""
    raw = yaml.safe_load(committed_text("params.yaml"))
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = raw
        for key in parents:
            node = node[key]
        node[last] = copy.deepcopy(value)
    return raw


def copy_files(files: list[str], dest: Path) -> None:
    for name in files:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)


def sh(*args: str, cwd: Path, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "DVC_NO_ANALYTICS": "1", **(env or {})}
    proc = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def stopped_by_change(
    proc: subprocess.Popen, started: Callable[[], bool], change: Callable[[], object], what: str
) -> str:
    """Wait until `started()`, call `change()` (which rewrites params.yaml), and return `proc`'s stderr once it has
    ended. A test failure if it never starts (3 minutes) or goes on for 5 minutes after the change; `proc` and all
    its descendants are killed whatever happens, so no stage outlives the test."""
    try:
        deadline = time.monotonic() + 180
        while not started():
            assert proc.poll() is None and time.monotonic() < deadline, f"{what} never finished an epoch"
            time.sleep(0.05)
        change()
        try:
            return proc.communicate(timeout=300)[1]
        except subprocess.TimeoutExpired:
            pytest.fail(f"{what} kept training after params.yaml changed under it")
    finally:
        kill_tree(proc)


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL `proc` and every process under it: torchrun starts each rank in a session of its own, which a kill of
    `proc`'s process group would miss."""
    import psutil

    if proc.poll() is not None:
        return
    try:
        family = [*psutil.Process(proc.pid).children(recursive=True), psutil.Process(proc.pid)]
    except psutil.NoSuchProcess:
        return
    for member in family:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            continue
    proc.wait()


def git_repo(path: Path) -> None:
    sh("git", "init", "-q", "-b", "main", cwd=path)
    sh("git", "config", "user.email", "tests@example.invalid", cwd=path)
    sh("git", "config", "user.name", "tests", cwd=path)


def make_project(dest: Path) -> Path:
    """The project's code with the small params of dae.repro.SMALL, committed in a fresh git repo."""
    dest.mkdir(parents=True, exist_ok=True)
    files = [f for f in tracked_files() if f.split("/")[0] in CODE]
    copy_files(files, dest)
    params = merge(yaml.safe_load(committed_text("params.yaml")), SMALL)
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    git_repo(dest)
    sh("git", "add", "-A", cwd=dest)
    sh("git", "commit", "-qm", "small project", cwd=dest)
    return dest


@pytest.fixture
def tiny_project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


@pytest.fixture(scope="session")
def reproduced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The small project after one `dvc repro` from clean, and that run's output. Built once per session (it is the
    suite's costliest step): under pytest-xdist the first worker to need it builds it in the folder the workers share,
    and the others wait for it. Tests read it, or change a copy of it (`copy_project`), never the project itself."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    project, log = shared / "reproduced" / "project", shared / "reproduced" / "repro.log"
    with open(shared / "reproduced.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not log.is_file():  # absent too after a failed build, which the next worker then retries
            shutil.rmtree(project.parent, ignore_errors=True)
            output = sh("dvc", "repro", cwd=make_project(project)).stdout
            log.write_text(output)
    return project, log.read_text()


# The tests that use the reproduced project, in two xdist groups (`--dist loadgroup`; as one group they were the
# suite's critical path). Each group runs in one worker; both read the one build. In CI on the AVX2 EPYC they took
# 530 and 441 s (the first with the build), and the ungrouped tests filled the difference: the suite's 1,356 s of
# tests ran in 692 s on two workers. docs/performance.md has the measurements.
SECOND_GROUP = {"test_docs", "test_repro_check", "test_sweep_devices", "test_remote", "test_distributed"}
# xdist hands each worker one of the groups first (the largest units of work), so the second group's worker would
# idle while the first builds the project (125 s of the AVX2 EPYC): it starts with two tests that need none
# (78 and 34 s in CI on that EPYC at commit e2e983b).
WHILE_BUILDING = (
    "test_cifar10_end_to_end_with_dvc_repro",
    "test_a_second_experiment_in_the_same_workspace_stops_the_first_with_one_line",
)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the group marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "reproduced" in getattr(item, "fixturenames", ()):
            second = item.module is not None and item.module.__name__ in SECOND_GROUP
            item.add_marker(pytest.mark.xdist_group("reproduced-2" if second else "reproduced-1"))
        elif item.name in WHILE_BUILDING:
            item.add_marker(pytest.mark.xdist_group("reproduced-2"))
    items.sort(key=lambda item: item.name not in WHILE_BUILDING)  # stable: first in their group, the rest as before


def copy_project(source: Path, dest: Path) -> Path:
    """A copy of a project with its git history and DVC cache: DVC and git work in it as in the original."""
    shutil.copytree(source, dest, symlinks=True)
    return dest


def in_terminal(cmd: list[str], columns: int) -> str:
    """What `cmd` prints on a pseudo-terminal that reports `columns` columns (stdout and stderr together)."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24 if columns else 0, columns, 0, 0))
    proc = subprocess.Popen(cmd, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO on Linux once the child has closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=300) == 0
    return b"".join(chunks).decode(errors="replace")
