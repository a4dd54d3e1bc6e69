"""Run a sweep of experiments with one worker pinned to each GPU (DVC's own queue has no GPU scheduling).

    python tools/sweep_devices.py --devices 0,1 -S noise.std=0.1,0.3,0.5 -S model.latent=16,32
    python tools/sweep_devices.py --devices 0,1,2,3 -S train.lr=0.001,0.002 --dry-run

Every combination of the -S values (as `dvc exp run -S` expands comma lists) becomes one `dvc exp run --temp`: an
experiment in its own temporary copy of the repository, saved like a queued one (`dvc exp show` lists it). Each
device runs one experiment at a time, with CUDA_VISIBLE_DEVICES set to it, so every experiment sees exactly one GPU
as `cuda:0` and no two share one. On the CPU the device names are just labels (`--devices a,b` runs two at once),
and OMP_NUM_THREADS is 1 unless you set it, so workers do not fight over cores. Exits 1 if any experiment failed,
naming each; the others still run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

from tqdm import tqdm

from dae.io import write_text


def combinations(sets: list[str]) -> list[list[str]]:
    """`["a=1,2", "b=x"]` -> `[["a=1", "b=x"], ["a=2", "b=x"]]`: one list of -S values per experiment."""
    axes = []
    for item in sets:
        key, sep, values = item.partition("=")
        if not sep or not key or not values:
            raise SystemExit(f"error: -S {item!r} is not KEY=VALUE[,VALUE...]")
        axes.append([f"{key}={v}" for v in values.split(",")])
    return [list(combo) for combo in itertools.product(*axes)]


def run_one(repo: Path, device: str, values: list[str]) -> dict:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": device, "DVC_NO_ANALYTICS": "1"}
    env.setdefault("OMP_NUM_THREADS", "1")
    # Two `dvc exp run --temp` starting together contend for the repo's lock for a moment; without --wait-for-lock the
    # later one failed at once ("Unable to acquire lock"; seen in CI on a slow 2-core machine).
    cmd = ["dvc", "--wait-for-lock", "exp", "run", "--temp", *itertools.chain.from_iterable(("-S", v) for v in values)]
    start = time.time()
    try:
        proc = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True)
    except OSError as exc:  # dvc not on PATH: a failed experiment, not a crashed worker thread and exit 0
        return {"device": device, "set": values, "start": start, "end": time.time(), "ok": False, "error": str(exc)}
    last = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
    ok = proc.returncode == 0
    error = None if ok else last
    return {"device": device, "set": values, "start": start, "end": time.time(), "ok": ok, "error": error}


def sweep(repo: Path, devices: list[str], experiments: list[list[str]]) -> list[dict]:
    """Every experiment, each on the first free device; the results in the order they finished."""
    todo: queue.Queue = queue.Queue()
    for values in experiments:
        todo.put(values)
    results, lock = [], threading.Lock()
    bar = tqdm(total=len(experiments), desc="experiments", unit="exp", disable=None)

    def worker(device: str) -> None:
        while True:
            try:
                values = todo.get_nowait()
            except queue.Empty:
                return
            result = run_one(repo, device, values)
            with lock:
                results.append(result)
                bar.update()

    threads = [threading.Thread(target=worker, args=(d,)) for d in devices]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bar.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", required=True, help="comma-separated CUDA device indices (or CPU labels)")
    parser.add_argument("-S", dest="sets", action="append", required=True, help="KEY=VALUE[,VALUE...], repeatable")
    parser.add_argument("--repo", type=Path, default=Path("."), help="the project (default: here)")
    parser.add_argument("--dry-run", action="store_true", help="print the experiments and their devices, run none")
    parser.add_argument("--json", type=Path, help="also write each experiment's device, times and outcome here")
    args = parser.parse_args()
    devices = [d.strip() for d in args.devices.split(",") if d.strip()]
    if not devices or len(set(devices)) != len(devices):
        raise SystemExit(f"error: --devices {args.devices!r} must list distinct devices, e.g. 0,1")
    experiments = combinations(args.sets)
    if not (args.repo / "dvc.yaml").is_file():
        raise SystemExit(f"error: --repo {args.repo} holds no dvc.yaml; pass the project's folder")
    if args.dry_run:
        for i, values in enumerate(experiments):
            print(f"device {devices[i % len(devices)]} (or the first free): -S {' -S '.join(values)}")
        return
    results = sweep(args.repo, devices, experiments)
    if args.json:
        write_text(args.json, json.dumps(results, indent=2) + "\n")
    for r in sorted(results, key=lambda r: r["start"]):
        state = "ok" if r["ok"] else f"FAILED: {r['error']}"
        print(f"device {r['device']}: {' '.join(r['set'])}: {r['end'] - r['start']:.0f} s, {state}")
    failed = [r for r in results if not r["ok"]]
    if failed:
        names = "; ".join(" ".join(r["set"]) for r in failed)
        sys.exit(f"error: {len(failed)} of {len(results)} experiments failed: {names}")


if __name__ == "__main__":
    main()
