"""Each benchmark: the pipeline's code next to a bare reference doing the same work on the same arrays."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from dae.models import build_model
from dae.noise import corrupt, rng_for, to_unit
from dae.params import load_params
from dae.training import denoise, fit, make_optimizer, seed_everything
from pipeline.repro import clear_results, committed_copy, run

ROOT = Path(__file__).resolve().parents[1]
MNIST_SHAPE = (1, 28, 28)
SETTINGS = [
    {"type": "gaussian", "level": 0.3},
    {"type": "salt_pepper", "level": 0.2},
    {"type": "masking", "level": 0.25},
]


def best_time(fn: Callable[[], Any], repeat: int = 3) -> float:
    """Fastest of `repeat` runs, in seconds: the least disturbed by the rest of the machine."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times)


def paired_best(ours: Callable[[], Any], bare: Callable[[], Any], rounds: int = 3) -> tuple[float, float]:
    """Best times of `ours` and `bare`, run alternately after a warm-up, so that drift hits both alike."""
    ours()
    bare()
    t_ours, t_bare = [], []
    for _ in range(rounds):
        t_ours.append(best_time(ours, 1))
        t_bare.append(best_time(bare, 1))
    return min(t_ours), min(t_bare)


def default_mirror(folder: str) -> Path:
    """shared/datasets inside the checkout when it holds `folder` (what travels to a GPU machine), else the one
    beside the checkout."""
    inside = ROOT / "shared" / "datasets"
    return inside if (inside / folder).is_dir() else ROOT.parent / "shared" / "datasets"


def machine(device: torch.device) -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    if Path("/proc/cpuinfo").exists():
        names = [
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def bench_corrupt(n: int) -> list[dict[str, Any]]:
    """Noisy-pair generation, images/s: dae.noise (what the corrupt stage runs) vs inline NumPy."""
    images = np.random.default_rng(0).integers(0, 256, size=(n, *MNIST_SHAPE), dtype=np.uint8)
    bare = {
        "gaussian": lambda x, r: np.clip(x + np.float32(0.3) * r.standard_normal(x.shape, dtype=np.float32), 0, 1),
        "salt_pepper": lambda x, r: np.where(
            (u := r.random(x.shape, dtype=np.float32)) < 0.1, np.float32(1), np.where(u < 0.2, np.float32(0), x)
        ),
        "masking": lambda x, r: x * (r.random(x.shape, dtype=np.float32) >= 0.25),
    }
    rows = []
    for setting in SETTINGS:
        ours, ref = paired_best(
            lambda s=setting: corrupt(to_unit(images), s, rng_for(0, s, "train")),
            lambda s=setting: bare[s["type"]](images.astype(np.float32) / 255, np.random.Generator(np.random.PCG64(0))),
        )
        rows.append({"what": f"corrupt {setting['type']}", "unit": "images/s", "pipeline": n / ours, "bare": n / ref})
    return rows


@functools.cache
def pipeline_params() -> dict[str, Any]:
    """The pipeline's own knobs (validated), so the benchmark cannot drift from what `dvc repro` trains with. Read
    when first needed: the GPU and natural-image benchmarks run from configs/, and an invalid params.yaml in the
    workspace must not stop their --help or themselves."""
    return load_params(ROOT / "params.yaml")


# Batch and lr of the GPU runs until configs/mnist.yaml's train.gpu holds measured ones. A batch of 64 leaves a GPU
# waiting on kernel launches (5.7 s an epoch of MNIST on an H200); 1024 took 0.44 s, and lr 0.02 trained stably.
GPU_TRAIN = {"batch_size": 1024, "lr": 0.02}


def gpu_train() -> dict[str, Any]:
    """train: overrides of GPU runs: configs/mnist.yaml's train.gpu when it has any, else GPU_TRAIN."""
    return load_params(ROOT / "configs" / "mnist.yaml")["train"]["gpu"] or dict(GPU_TRAIN)


def model_params(arch: str) -> dict[str, Any]:
    return pipeline_params()["model"] | {"arch": arch}


def bare_loop(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    epochs: int,
    device: torch.device,
    train: dict | None = None,
) -> None:
    """The reference: tensors already on the device, slicing, forward, backward, step. Nothing else."""
    train = train or pipeline_params()["train"]
    optimizer = make_optimizer(model, train)
    bs = train["batch_size"]
    amp = device.type == "cuda"
    for _ in range(epochs):
        perm = torch.randperm(len(x), device=device)
        for i in range(0, len(x), bs):
            idx = perm[i : i + bs]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                loss = F.mse_loss(model(x[idx]).float(), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()


def synthetic_pairs(n: int) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """Seeded random 28x28 (noisy, clean) images, and the first tenth of them as val (the pipeline's default)."""
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(n, *MNIST_SHAPE, generator=g)
    noisy = (clean + 0.3 * torch.randn(clean.shape, generator=g)).clamp(0, 1)
    return noisy, clean, (noisy[: n // 10], clean[: n // 10])


def bench_train(
    arch: str,
    n: int,
    epochs: int,
    device: torch.device,
    compile_model: bool = False,
    overrides: dict[str, Any] | None = None,
    rounds: int = 3,
) -> list[dict]:
    """Training samples/s: dae.training.fit (what the train stage runs, val loss per epoch included) vs bare_loop
    at the same batch size and lr (`overrides` of train:, e.g. a GPU's batch); then test-set throughput of
    dae.training.denoise under inference_mode."""
    noisy, clean, val = synthetic_pairs(n)
    settings = {**pipeline_params()["train"], **(overrides or {}), "epochs": epochs, "compile": compile_model}

    def ours() -> None:
        seed_everything(0)
        fit(build_model(model_params(arch), MNIST_SHAPE), (noisy, clean), val, settings, device)

    x, y = noisy.to(device), clean.to(device)

    def bare() -> None:
        seed_everything(0)
        bare_loop(build_model(model_params(arch), MNIST_SHAPE).to(device), x, y, epochs, device, settings)

    t_ours, t_bare = paired_best(ours, bare, rounds)
    model = build_model(model_params(arch), MNIST_SHAPE).to(device)
    t_eval = best_time(lambda: denoise(model, noisy, device=device))
    train_rate = n * epochs / t_ours
    return [
        {
            "what": f"train {arch}",
            "unit": "samples/s",
            "pipeline": train_rate,
            "bare": n * epochs / t_bare,
            "note": f"batch {settings['batch_size']}",
        },
        {
            "what": f"evaluate {arch}",
            "unit": "samples/s",
            "pipeline": n / t_eval,
            "bare": train_rate,
            "note": "bare = the training throughput",
        },
    ]


def bench_cpu_bf16(n: int = 8192, epochs: int = 2) -> list[dict]:
    """Training samples/s of the MNIST results model (configs/mnist.yaml) with `train.amp_cpu` (bf16 autocast,
    NHWC) against the same fit in fp32, on the CPU."""
    mnist = load_params(ROOT / "configs" / "mnist.yaml")
    noisy, clean, val = synthetic_pairs(n)

    def run_fit(amp_cpu: bool) -> None:
        seed_everything(0)
        model = build_model(mnist["model"], MNIST_SHAPE)
        fit(model, (noisy, clean), val, {**mnist["train"], "epochs": epochs, "amp_cpu": amp_cpu}, torch.device("cpu"))

    t_bf16, t_fp32 = paired_best(lambda: run_fit(True), lambda: run_fit(False))
    return [
        {
            "what": "train MNIST model, bf16 (amp_cpu)",
            "unit": "samples/s",
            "pipeline": n * epochs / t_bf16,
            "bare": n * epochs / t_fp32,
            "note": "bare = the same fit in fp32",
        }
    ]


def bench_pipeline() -> list[dict[str, Any]]:
    """Wall time of the default `dvc repro` from clean (a fresh copy of HEAD, no cache), then with nothing to do."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        copy = committed_copy(ROOT, Path(tmp) / "repo")
        clear_results(copy)
        start = time.perf_counter()
        run("dvc", "repro", cwd=copy)
        full = time.perf_counter() - start
        noop = best_time(lambda: run("dvc", "repro", cwd=copy))
    return [
        {"what": "dvc repro, from clean", "unit": "s", "pipeline": full},
        {"what": "dvc repro, nothing to do", "unit": "s", "pipeline": noop},
    ]


WRAPPER = """
import json, resource, runpy, sys
out, module, *args = sys.argv[1:]
sys.argv = [module, *args]
try:
    runpy.run_module(module, run_name="__main__")
finally:
    with open(out, "w") as fh:
        json.dump({"max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}, fh)
"""


def bench_memory(mirror: Path) -> list[dict[str, Any]]:
    """Peak resident memory of each stage script on full MNIST (one epoch: memory does not grow with epochs)."""
    override = {
        "data": {"name": "mnist"},
        "train": {"epochs": 1},
        "sweep": {"gaussian-0.3": {"type": "gaussian", "level": 0.3}},
        "blind": {"gaussian": ["gaussian"]},  # the default "all" names noise types this one-setting sweep lacks
    }
    stages = [
        ("download", ["pipeline.download", "data/clean.safetensors"]),
        ("corrupt", ["pipeline.corrupt", "data/clean.safetensors", "data/pairs/main.safetensors"]),
        (
            "train",
            ["pipeline.train", "data/pairs/main.safetensors", "data/models/main.safetensors", "plots/train/main"],
        ),
        (
            "evaluate",
            [
                "pipeline.evaluate",
                "data/models/main.safetensors",
                "data/pairs/main.safetensors",
                "metrics/eval.json",
                "plots/eval/main.png",
            ],
        ),
    ]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-mem-") as tmp:
        copy = committed_copy(ROOT, Path(tmp) / "repo", override=override)
        env = {**os.environ, "DAE_DATA_MIRROR": str(mirror.resolve())}
        for name, argv in stages:
            report = Path(tmp) / f"{name}.json"
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", WRAPPER, str(report), *argv], cwd=copy, env=env, check=True, capture_output=True
            )
            seconds = time.perf_counter() - start
            peak = json.loads(report.read_text())["max_rss_kb"] / 1024
            rows.append(
                {
                    "what": f"memory: {name} on MNIST",
                    "unit": "MB peak RSS",
                    "pipeline": peak,
                    "note": f"{seconds:.0f} s",
                }
            )
    return rows


def run_queue(repo: Path, jobs: int, env: dict[str, str] | None = None, timeout: float = 1800) -> str:
    """`dvc queue start -j jobs`, wait until no experiment is queued or running, stop the workers; return the
    final `dvc queue status`.

    DVC 3.67's workers can hang after "shutting down due to empty queue", and `dvc queue start` waits for them,
    so it runs detached here and its workers are stopped explicitly once the queue is empty.
    """
    full_env = {**os.environ, "DVC_NO_ANALYTICS": "1", **(env or {})}
    starter = subprocess.Popen(
        ["dvc", "queue", "start", "-j", str(jobs)],
        cwd=repo,
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    try:
        while True:
            status = run("dvc", "queue", "status", cwd=repo).stdout
            if "Failed" in status or not any(word in status for word in ("Queued", "Running")):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"queued experiments did not finish:\n{status}")
            time.sleep(0.5)
        return status
    finally:
        run("dvc", "queue", "stop", cwd=repo, check=False)
        for pid_file in (repo / ".dvc" / "tmp" / "exps" / "celery").glob("*.pid"):
            with contextlib.suppress(ValueError, ProcessLookupError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(starter.pid, signal.SIGTERM)
        starter.wait(timeout=30)


def bench_queue(stds: str = "0.15,0.25,0.35,0.45") -> list[dict[str, Any]]:
    """A queued sweep of the main setting: one worker (torch's default threads) vs one worker per core, one thread
    each. The committed results are checked out first, so each experiment reruns only the main chain."""
    rows = []
    cores = os.cpu_count() or 1
    for jobs, threads in ((1, None), (cores, 1)):
        with tempfile.TemporaryDirectory(prefix="bench-queue-") as tmp:
            copy = committed_copy(ROOT, Path(tmp) / "repo")
            run("dvc", "cache", "dir", "--local", str(ROOT / ".dvc" / "cache"), cwd=copy)
            run("dvc", "repro", cwd=copy)  # from the shared cache when it holds the committed run
            run("dvc", "exp", "run", "--queue", "-S", f"noise.std={stds}", cwd=copy)
            env = {"OMP_NUM_THREADS": str(threads)} if threads else {}
            start = time.perf_counter()
            status = run_queue(copy, jobs, env)
            seconds = time.perf_counter() - start
            if "Failed" in status:
                raise RuntimeError(f"a queued experiment failed:\n{status}")
        label = f"-j {jobs}" + (f", OMP_NUM_THREADS={threads}" if threads else "")
        rows.append({"what": f"queued sweep of {len(stds.split(','))} exps, {label}", "unit": "s", "pipeline": seconds})
    rows[-1]["note"] = f"speedup {rows[0]['pipeline'] / rows[1]['pipeline']:.2f}x over -j 1"
    return rows
