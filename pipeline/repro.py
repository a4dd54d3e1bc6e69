"""Reproducibility checks: run the pipeline from clean copies and compare every output hash and metric.

Data outputs (download, corrupt) must match to the byte everywhere: they come from fixed-algorithm generators.
Trained outputs must match to the byte on one machine; across machines (other CPU kernels, other thread counts)
only their metrics are compared, within TOLERANCE.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import yaml

from dae.models.config import OPTIONAL, WRITTEN_WHEN_SET

# Stages whose outputs are pure functions of data and params, equal to the byte on every machine.
EXACT_STAGES = ("download", "corrupt", "natural_data")
# Metric tolerance across machines, by metric name: (absolute, relative). Measured spread between CPU kernel
# variants and thread counts (docs/reproducibility.md): 0.10 dB PSNR, 0.24 dB cross-noise PSNR, 0.0034 SSIM, 0.7%
# loss, 2 of 359 probe test images; the tolerances leave a margin of 2-5x. Anything not named (counts, levels) must
# match exactly.
TOLERANCE = {
    "psnr": (0.5, 0.0),
    "psnr_gain": (0.5, 0.0),
    "margin_db": (0.5, 0.0),
    "ssim": (0.01, 0.0),
    "mse": (0.0, 0.1),
    "loss": (0.0, 0.1),
    "best_epoch": (math.inf, 0.0),
    "auroc": (0.01, 0.0),
    "probe_error": (0.02, 0.0),  # a test error rate: 0.02 is 7 of the digits' 359 test images
    "default": (0.0, 0.0),
}
# One image's score, or the mean of a few (BM3D's subset: baselines.n_slow, 6 images), moves more than a mean over a
# test set: measured between AVX2 and AVX-512 kernels, 0.52 dB PSNR and 0.019 SSIM on the 6-image subset, and 0.57 dB
# on one Set12 image (the shipped blind model's config rerun; its 12-image mean moved 0.06 dB).
FEW_IMAGES = {"psnr": (1.5, 0.0), "ssim": (0.05, 0.0)}
NOISY_OUTPUTS = ("plots/baselines_vs_noise.png",)
NOISY_TOLERANCE = (1e-3, 0.0)  # measured: BM3D's scores move by about 1e-6 between runs
# A config that runs in seconds and still trains every kind of stage (used by the check and by the tests).
SMALL = {
    "data": {"subset": 500},
    "train": {"epochs": 12, "batch_size": 32},
    "baselines": {"n_test": 30, "n_val": 10, "n_slow": 2},
    # gaussian-0.5: a setting the README's commands name, so the docs' test runs them on this project.
    "sweep": {"gaussian-0.5": {"type": "gaussian", "level": 0.5}, "masking-0.5": {"type": "masking", "level": 0.5}},
    "blind": {"all": ["gaussian", "masking"]},
    "anomaly": {"classes": [0, 1, 2], "train": {"epochs": 5}},
    "studies": {
        "epochs": 2,
        "setting": "gaussian-0.5",
        # One model study and the noise study (which trains across levels): the two kinds a study stage has.
        "grids": {"latent": [4, 16], "noise": [0.2, 0.4]},
    },
    "probe": {"epochs": 2, "settings": {"gaussian-0.5": {"type": "gaussian", "level": 0.5}}},
}


def run(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    proc = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(args)}` failed in {cwd} ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def merge(base: dict, override: dict) -> dict:
    """`override` on top of `base`, section by section; a `sweep`, `blind`, `grids` or `settings` override replaces
    the whole mapping (its entries are names, not keys to merge)."""
    out = dict(base)
    for key, value in override.items():
        whole = key in ("sweep", "blind", "grids", "settings")
        out[key] = merge(base[key], value) if isinstance(value, dict) and not whole else value
    return out


RESULTS = ("dvc.lock", "metrics", "plots")


def clear_results(root: Path) -> None:
    """Remove committed results, so that the next `dvc repro` starts from nothing."""
    for name in RESULTS:
        path = root / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def committed_copy(root: Path, dest: Path, override: dict | None = None) -> Path:
    """Check out HEAD of `root` into `dest` as a fresh git repo (no DVC cache: every stage really runs).

    With `override` (a params subset), the committed results are dropped: they belong to other params.
    """
    archive = subprocess.run(["git", "archive", "--format=tar", "HEAD"], cwd=root, capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    if override:
        params = yaml.safe_load((dest / "params.yaml").read_text())
        (dest / "params.yaml").write_text(yaml.safe_dump(merge(params, override), sort_keys=False))
        clear_results(dest)
    run("git", "init", "-q", cwd=dest)
    # `dvc exp` commits to hidden refs, so the copy needs an identity of its own.
    run("git", "config", "user.name", "repro", cwd=dest)
    run("git", "config", "user.email", "repro@example.invalid", cwd=dest)
    run("git", "add", "-A", cwd=dest)
    run("git", "commit", "-qm", "copy", cwd=dest)
    return dest


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}."""
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def lock_outputs(root: Path) -> dict[str, tuple[str, str]]:
    """{output path: (md5, stage)} from dvc.lock."""
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    return {
        out["path"]: (out.get("md5", "?"), stage)
        for stage, body in lock["stages"].items()
        for out in body.get("outs", [])
    }


def metric_files(root: Path) -> list[str]:
    dvc = yaml.safe_load((root / "dvc.lock").read_text())
    return sorted(
        out["path"] for body in dvc["stages"].values() for out in body.get("outs", []) if out["path"].endswith(".json")
    )


def read_metrics(root: Path) -> dict[str, float]:
    """Every numeric metric of every JSON output, as {"file:key": value}."""
    out = {}
    for name in metric_files(root):
        path = root / name
        if path.is_file():
            for key, value in flatten(json.loads(path.read_text())).items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    out[f"{name}:{key}"] = float(value)
    return out


def tolerance_for(key: str, metrics: dict[str, float] | None = None) -> tuple[float, float]:
    """(absolute, relative) tolerance of a "file:metric" key across machines; `metrics` (the reference run's) gives
    a `gap` (val loss minus train loss) the loss tolerance of its own val loss."""
    file, _, name = key.partition(":")
    stem, _, leaf = name.rpartition(".")
    leaf = leaf.removeprefix("noisy_").removeprefix("best_val_")
    if ".images." in name:  # metrics/natural/<data>.json: one test image's PSNR, keyed by its file name
        return FEW_IMAGES["psnr"]
    if file.endswith("cross_noise.json"):  # a table of mean PSNRs keyed by setting names
        return TOLERANCE["psnr"]
    if file.endswith("probe.json"):
        return TOLERANCE["probe_error"] if leaf != "n_features" else TOLERANCE["default"]
    if "auroc" in name:
        return TOLERANCE["auroc"]
    if leaf == "gap":
        val_loss = (metrics or {}).get(f"{file}:{stem}.val_loss", 0.0)
        return (TOLERANCE["loss"][1] * abs(val_loss), 0.0)
    kind = next((k for k in ("psnr", "ssim", "mse", "loss") if leaf.endswith(k)), leaf)
    if "_on_slow_subset" in stem and kind in FEW_IMAGES:
        return FEW_IMAGES[kind]
    return TOLERANCE.get(leaf, TOLERANCE.get(kind, TOLERANCE["default"]))


def not_bit_stable(path: str) -> bool:
    """Outputs of BM3D (the `bm3d` package's compiled library gives run-to-run differences of about 4e-7 per pixel,
    even on one thread), and the plots drawn from them: equal only within NOISY_TOLERANCE, even on one machine.
    Judged by path, not stage: the `evaluate_sweep` stages that write them also write bit-stable outputs."""
    return path in NOISY_OUTPUTS or path.startswith(
        ("metrics/baselines/", "plots/baselines/", "metrics/natural/bm3d/", "data/natural/bm3d/")
    )


def metric_status(key: str, va: float | None, vb: float | None, exact: bool, metrics: dict[str, float]) -> str:
    """`match`, `within tolerance (...)` or `DIFFERS (...)` for one metric of a reference run (`va`, of the run's
    `metrics`) and another (`vb`); `exact`: the same machine, so trained outputs must match to the bit."""
    if va is None or vb is None:
        return "DIFFERS"
    if va == vb:
        return "match"
    absolute, relative = (0.0, 0.0) if exact else tolerance_for(key, metrics)
    if not_bit_stable(key.split(":")[0]):
        absolute = max(absolute, NOISY_TOLERANCE[0])
    within = abs(va - vb) <= absolute + relative * abs(va)
    return f"within tolerance ({vb - va:+.2g})" if within else f"DIFFERS ({vb - va:+.3g})"


def compare(a_root: Path, b_root: Path, exact: bool) -> list[dict[str, str]]:
    """Rows of what matched and what differed between two pipeline runs ("a" is the reference)."""
    rows = []
    a_outs, b_outs = lock_outputs(a_root), lock_outputs(b_root)
    for path in sorted(set(a_outs) | set(b_outs)):
        (ha, stage), (hb, _) = a_outs.get(path, ("missing", "?")), b_outs.get(path, ("missing", "?"))
        data = stage.split("@")[0].removesuffix("_sweep") in EXACT_STAGES
        if ha == hb:
            status = "match"
        elif "missing" in (ha, hb) or data or (exact and not not_bit_stable(path)):
            status = "DIFFERS"
        elif not_bit_stable(path):
            status = "differs (BM3D is not bit-stable: judged by its metrics)"
        else:
            status = "differs (trained output: judged by its metrics)"
        rows.append({"what": path, "a": ha[:10], "b": hb[:10], "status": status})
    a_metrics, b_metrics = read_metrics(a_root), read_metrics(b_root)
    for key in sorted(set(a_metrics) | set(b_metrics)):
        va, vb = a_metrics.get(key), b_metrics.get(key)
        status = metric_status(key, va, vb, exact, a_metrics)
        rows.append(
            {
                "what": key,
                "a": f"{va:.6g}" if va is not None else "missing",
                "b": f"{vb:.6g}" if vb is not None else "missing",
                "status": status,
            }
        )
    return rows


def recorded_run(record: dict, dest: Path) -> Path:
    """A folder that compare() reads like a run: the dvc.lock outputs and the two metric files of a natural-image
    run recorded by `tools/natural_tables.py --record` (docs/data/natural.json)."""
    name = record["data"]
    (dest / "metrics/natural/bm3d").mkdir(parents=True)
    # A record of before 2026-11-29 holds only the models' hashes and the table (BM3D's scores are in it).
    models = {f"train_natural@{m}": {"outs": [{"path": f"data/models/natural/{m}.safetensors", "md5": e["md5"]}]}
              for m, e in record["models"].items()}  # fmt: skip
    evaluate = {f"evaluate_natural@{name}": {"outs": [{"path": f"metrics/natural/{name}.json"}]}}
    lock = record.get("lock", models | evaluate)
    (dest / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": lock}, sort_keys=False))
    (dest / f"metrics/natural/{name}.json").write_text(json.dumps(record["metrics"]))
    if "bm3d" in record:
        (dest / f"metrics/natural/bm3d/{name}.json").write_text(json.dumps(record["bm3d"]))
    return dest


# model: keys a model file leaves out at their default (dae.models.config): a record's archs may lack them too.
ADDED_MODEL_KEYS = {key: OPTIONAL[key] for key in WRITTEN_WHEN_SET}


def recorded_rows(rows: list[dict[str, str]], record: dict) -> tuple[list[dict[str, str]], list[str]]:
    """compare()'s rows against a natural-image record, less what the record never held, and notes saying so: an
    early record kept only the models' hashes and the table; runs recorded before the x8 self-ensemble was scored
    have no x8 rows."""
    notes = []
    if "lock" not in record:
        notes.append("holds only the models' hashes and the table: the rest is not compared.")
        rows = [r for r in rows if r["a"] != "missing"]
    if not any("x8" in s for method in record["metrics"]["table"].values() for s in method.values()):
        notes.append("was recorded before the x8 self-ensemble was scored: its x8 rows are not compared.")
        rows = [r for r in rows if not (".x8." in r["what"] and r["a"] == "missing")]
    return rows, notes


def natural_record_mismatch(record: dict, params: dict) -> list[str]:
    """What of a natural-image record (docs/data/natural.json) was not made with these params' natural: section."""
    natural, name = params["natural"], record["data"]
    entries = {**natural["models"], **(natural.get("finetune") or {})}
    wanted = {m: e for m, e in entries.items() if e["data"] == name}
    recorded = {m: {k: v for k, v in e.items() if k not in ("md5", "size")} for m, e in record["models"].items()}
    archs = {a: {**ADDED_MODEL_KEYS, **spec} for a, spec in record["archs"].items()}
    old = {"archs": archs, "train": record["train"]}
    lines = [f"natural.{key} differs" for key in ("archs", "train") if old[key] != natural[key]]
    return lines + ([f"natural.models and natural.finetune of {name} differ"] if recorded != wanted else [])


def stale_stages(root: Path) -> list[str]:
    """Lines naming every stage whose committed dvc.lock no longer matches its committed code or params.

    Run in a clean checkout, where cached outputs are simply absent: those are not staleness, and neither is a
    dependency that another stage produces (its own stage is named instead).
    """
    status = json.loads(run("dvc", "status", "--json", cwd=root).stdout or "{}")
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"] if (root / "dvc.lock").exists() else {}
    params = yaml.safe_load((root / "params.yaml").read_text())
    outs = set(lock_outputs(root)) if lock else set()

    def produced(path: str) -> bool:
        return any(path == o or o.startswith(f"{path}/") or path.startswith(f"{o}/") for o in outs)

    lines = []
    for stage, changes in status.items():
        reasons = []
        for change in changes:
            if not isinstance(change, dict):
                reasons.append(str(change))  # e.g. "changed command"
                continue
            for path, what in change.get("changed deps", {}).items():
                if path == "params.yaml" and isinstance(what, dict):
                    locked = flatten(lock.get(stage, {}).get("params", {}).get("params.yaml", {}))
                    for section in what:
                        now = flatten({section: _get(params, section)})
                        for key in sorted(set(now) | {k for k in locked if k.startswith(section)}):
                            if now.get(key) != locked.get(key):
                                reasons.append(
                                    f"{key} is {now.get(key)!r} in params.yaml but {locked.get(key)!r} in dvc.lock"
                                )
                elif not produced(path):
                    reasons.append(f"{path} {what} (changed deps)")
        if reasons:
            lines.append(f"{stage}: " + "; ".join(reasons))
    return lines


def _get(data: dict, dotted: str) -> Any:
    for part in dotted.split("."):
        data = data.get(part, {}) if isinstance(data, dict) else {}
    return data


def table(rows: list[dict[str, str]], a: str = "a", b: str = "b") -> str:
    """A plain-text table of compare() rows, columns titled `a` and `b`."""
    titles = {"what": "output or metric", "a": a, "b": b, "status": "status"}
    widths = {k: max([len(t), *(len(r[k]) for r in rows)]) for k, t in titles.items()}
    lines = [" | ".join(t.ljust(widths[k]) for k, t in titles.items()), "-+-".join("-" * w for w in widths.values())]
    lines += [" | ".join(r[k].ljust(widths[k]) for k in titles) for r in rows]
    return "\n".join(lines)


def fresh_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
