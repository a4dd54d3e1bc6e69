"""`pipeline.repro.compare`: which differences between two runs are tolerated, on hand-made run folders."""

import json
from pathlib import Path

import yaml

from pipeline.repro import compare, metric_status

LOCK_STAGES = {
    "evaluate": "metrics/eval.json",
    "evaluate_sweep@gaussian-0.2": "metrics/baselines/gaussian-0.2.json",
}


def make_run(root: Path, eval_psnr: float, bm3d_psnr: float, margin: float) -> Path:
    files = {
        "metrics/eval.json": {"psnr": eval_psnr, "n_test": 30},
        "metrics/baselines/gaussian-0.2.json": {
            "bm3d": {"psnr": bm3d_psnr, "sigma": 0.2},
            "summary": {"best_classical_psnr": bm3d_psnr, "margin_db": margin},
        },
    }
    stages = {}
    for stage, path in LOCK_STAGES.items():
        text = json.dumps(files[path])
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
        stages[stage] = {"outs": [{"path": path, "md5": str(abs(hash(text)))}]}
    (root / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": stages}))
    return root


def statuses(rows: list[dict]) -> dict[str, str]:
    return {row["what"]: row["status"] for row in rows}


def test_bm3d_jitter_is_tolerated_in_every_metric_drawn_from_it(tmp_path: Path):
    a = make_run(tmp_path / "a", 17.0, 17.0077, -1.25312)
    b = make_run(tmp_path / "b", 17.0, 17.0077 + 1e-6, -1.25312 - 1e-6)
    for exact in (True, False):
        got = statuses(compare(a, b, exact=exact))
        assert got["metrics/eval.json:psnr"] == "match"
        assert got["metrics/baselines/gaussian-0.2.json"].startswith("differs (BM3D")
        for key in ("bm3d.psnr", "summary.best_classical_psnr", "summary.margin_db"):
            assert got[f"metrics/baselines/gaussian-0.2.json:{key}"].startswith("within tolerance"), (exact, key)


def test_real_differences_are_caught(tmp_path: Path):
    a = make_run(tmp_path / "a", 17.0, 17.0, -1.0)
    b = make_run(tmp_path / "b", 17.0 + 1e-6, 17.01, -1.0)
    exact = statuses(compare(a, b, exact=True))
    assert exact["metrics/eval.json"] == "DIFFERS"  # a trained output must match to the byte on one machine
    assert exact["metrics/eval.json:psnr"].startswith("DIFFERS")
    assert exact["metrics/baselines/gaussian-0.2.json:bm3d.psnr"].startswith("DIFFERS")  # 0.01 dB is not jitter

    across = statuses(compare(a, b, exact=False))
    assert across["metrics/eval.json"].startswith("differs (trained output")
    assert across["metrics/eval.json:psnr"].startswith("within tolerance")
    assert across["metrics/eval.json:n_test"] == "match"

    c = make_run(tmp_path / "c", 17.0, 17.0, -1.0)
    (c / "metrics/eval.json").write_text(json.dumps({"psnr": 17.0, "n_test": 31}))
    assert statuses(compare(a, c, exact=False))["metrics/eval.json:n_test"].startswith("DIFFERS")


# What moved between the committed run (AVX2 kernels) and a rerun on AVX-512 kernels, measured by
# `python -m pipeline.repro_check --against-committed` (and `--natural`), and a difference of the size the pipeline
# studies.
CROSS_CPU = [
    # key, committed, rerun on AVX-512, a real effect
    ("metrics/baselines/gaussian-0.3.json:summary.autoencoder_psnr", 17.4596, 17.3989, 16.8),
    ("metrics/baselines/salt_pepper-0.1.json:autoencoder_on_slow_subset.psnr", 18.6164, 18.0977, 16.5),
    ("metrics/baselines/salt_pepper-0.1.json:autoencoder_on_slow_subset.ssim", 0.926303, 0.906949, 0.85),
    ("metrics/probe.json:dae.masking-0.5", 0.072423, 0.077994, 0.11),
    ("metrics/studies/l2.json:0.0001.val_loss", 0.040329, 0.040066, 0.046),
    ("metrics/studies/l2.json:0.0001.gap", 0.000922, 0.000802, 0.006),
    ("metrics/studies/loss.json:psnr.train_loss", -15.8891, -15.8821, -17.6),
    # configs/natural-blind.yaml: the fp32 blind model's run (AVX2) against a rerun on AVX-512, Set12 at sigma 25
    ("metrics/natural/bsd.json:table.grey-blind.25.images.09.png", 27.9887, 27.423, 25.9),
    ("metrics/natural/bsd.json:table.grey-blind.25.psnr", 29.7714, 29.7076, 29.1),
]


def test_cross_cpu_spread_is_tolerated_and_real_effects_are_not():
    reference = {key: committed for key, committed, _, _ in CROSS_CPU}
    for key, committed, rerun, effect in CROSS_CPU:
        assert metric_status(key, committed, rerun, False, reference).startswith("within tolerance"), key
        assert metric_status(key, committed, effect, False, reference).startswith("DIFFERS"), key
        assert metric_status(key, committed, rerun, True, reference).startswith("DIFFERS"), key  # one machine
    assert metric_status("metrics/probe.json:n_features", 32, 33, False, reference).startswith("DIFFERS")
