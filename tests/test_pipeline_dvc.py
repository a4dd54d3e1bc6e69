"""The pipeline driven through the real `dvc` CLI in a throwaway git repo, on a tiny config."""

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import copy_project, sh

pytestmark = pytest.mark.slow

# check_params reruns on any params change (it validates them all first) and writes the same marker.
MAIN_STAGES = {"check_params", "corrupt", "train", "evaluate", "plots"}


def ran(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")}


def _check_main_sweep_and_baselines(tiny_project: Path) -> None:
    """The main model, every sweep and blind model, the classical baselines and the plots."""
    metrics = json.loads((tiny_project / "metrics/eval.json").read_text())
    assert {"psnr", "ssim", "mse", "noisy_psnr", "noisy_ssim", "noisy_mse"} <= set(metrics)
    assert metrics["psnr"] > metrics["noisy_psnr"]
    for name in ("gaussian-0.5", "masking-0.5"):
        assert (tiny_project / f"data/models/sweep/{name}.safetensors").is_file()
        assert (tiny_project / f"metrics/sweep/{name}.json").is_file()
    cross = json.loads((tiny_project / "metrics/cross_noise.json").read_text())
    settings = {"gaussian-0.5", "masking-0.5"}
    assert set(cross) == settings | {"blind-all", "blind_minus_specialist"}
    assert (
        set(cross["masking-0.5"]) == set(cross["blind-all"]) == set(cross["blind_minus_specialist"]["all"]) == settings
    )
    gap = cross["blind_minus_specialist"]["all"]["masking-0.5"]
    assert gap == pytest.approx(cross["blind-all"]["masking-0.5"] - cross["masking-0.5"]["masking-0.5"], abs=1e-3)
    baselines = json.loads((tiny_project / "metrics/baselines/masking-0.5.json").read_text())
    methods = {"identity", "gaussian_blur", "median", "total_variation", "non_local_means", "wavelet", "bm3d"}
    assert methods | {"autoencoder", "autoencoder_on_slow_subset"} <= set(baselines)
    assert baselines["summary"]["n_test"] == 30 and baselines["summary"]["n_slow"] == 2
    assert baselines["best_classical"] in methods
    for picture in (
        "eval/main.png",
        "loss_curves.png",
        "psnr_vs_noise.png",
        "cross_noise.png",
        "baselines_vs_noise.png",
        "baselines/gaussian-0.5.png",
    ):
        assert (tiny_project / "plots" / picture).read_bytes()[:4] == b"\x89PNG"


def _check_anomaly(tiny_project: Path) -> None:
    """The one-class anomaly models' AUROC per digit and their plots."""
    anomaly = json.loads((tiny_project / "metrics/anomaly.json").read_text())["digits"]
    assert set(anomaly) == {"scores", "best", "plain"} and "mse" in anomaly["scores"]
    assert anomaly["best"] in anomaly["scores"]
    classes = yaml.safe_load((tiny_project / "params.yaml").read_text())["anomaly"]["classes"]
    assert set(anomaly["scores"]["mse"]["auroc"]) == {str(c) for c in classes}
    assert all(0 <= v <= 1 for v in anomaly["scores"]["mse"]["auroc"].values())
    assert anomaly["scores"][anomaly["best"]]["mean_auroc"] > 0.8  # 5 epochs on ~45 images a class
    for name in ("roc/digits.csv", "hist/digits.csv", "examples/digits.png", "curves/digits.png"):
        assert (tiny_project / "plots/anomaly" / name).stat().st_size > 0


def _check_studies_and_probe(tiny_project: Path) -> None:
    """Every knob study of the grid and the linear probe of the codes."""
    grids = yaml.safe_load((tiny_project / "params.yaml").read_text())["studies"]["grids"]
    assert {p.stem for p in (tiny_project / "metrics/studies").glob("*.json")} == set(grids)
    latent = json.loads((tiny_project / "metrics/studies/latent.json").read_text())
    assert set(latent) == {str(v) for v in grids["latent"]}
    assert all({"psnr", "ssim", "gap", "best_epoch"} <= set(r) for r in latent.values())
    probe = json.loads((tiny_project / "metrics/probe.json").read_text())
    settings = yaml.safe_load((tiny_project / "params.yaml").read_text())["probe"]["settings"]
    assert set(probe) == {"raw", "pca", "ae", "dae", "n_features"} and set(probe["dae"]) == set(settings)
    assert all(0 <= e < 0.9 for e in [probe["raw"], probe["pca"], probe["ae"], *probe["dae"].values()])


def test_repro_then_experiment_changes_only_the_main_setting(tmp_path: Path, reproduced: tuple[Path, str]):
    tiny_project, first = copy_project(reproduced[0], tmp_path / "project"), reproduced[1]
    assert {
        "download",
        "corrupt",
        "train",
        "evaluate",
        "cross_noise",
        "plots",
        "corrupt_sweep@gaussian-0.5",
        "train_sweep@masking-0.5",
        "evaluate_sweep@masking-0.5",
        "train_blind@all",
        "train_anomaly_all@digits",
        "anomaly",
    } <= ran(first)
    _check_main_sweep_and_baselines(tiny_project)
    _check_anomaly(tiny_project)
    _check_studies_and_probe(tiny_project)
    assert sh("dvc", "status", "-q", cwd=tiny_project, check=False).returncode == 0
    assert ran(sh("dvc", "repro", cwd=tiny_project).stdout) == set()

    sh("git", "add", "-A", cwd=tiny_project)
    sh("git", "commit", "-qm", "baseline results", cwd=tiny_project)
    exp = sh("dvc", "exp", "run", "-S", "noise.std=0.5", cwd=tiny_project).stdout
    assert ran(exp) == MAIN_STAGES, exp
    diff = json.loads(sh("dvc", "metrics", "diff", "--json", cwd=tiny_project).stdout)
    change = diff["metrics/eval.json"]["noisy_psnr"]
    assert change["new"] < change["old"] - 2  # std 0.3 -> 0.5 costs the noisy input several dB
    assert "metrics/sweep/gaussian-0.5.json" not in diff
    shown = json.loads(sh("dvc", "exp", "show", "--json", cwd=tiny_project).stdout)
    assert "0.5" in json.dumps(shown)

    # The blind models' own epochs retrain only them and what reads them.
    exp = sh("dvc", "exp", "run", "-S", "blind_train.epochs=3", cwd=tiny_project).stdout
    assert ran(exp) == {"check_params", "train_blind@all", "cross_noise", "plots"}, exp
    from dae.models import model_extra

    assert model_extra(tiny_project / "data/models/blind/all.safetensors")["epochs"] == 3


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("noise.std", -1, "params: noise.std = -1 is not allowed; expected a number >= 0"),
        ("noise.type", "speckle", "params: noise.type = 'speckle' is not allowed; expected one of gaussian"),
        ("data.name", "imagenet", "params: data.name = 'imagenet' is not allowed; expected one of digits"),
    ],
)
def test_bad_param_stops_before_any_output(tiny_project: Path, key, value, message):
    params = yaml.safe_load((tiny_project / "params.yaml").read_text())
    section, name = key.split(".")
    params[section][name] = value
    (tiny_project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    proc = sh("dvc", "repro", cwd=tiny_project, check=False)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: params:")]
    assert errors == [f"error: {message}"] or errors[0].startswith(f"error: {message}")
    assert not (tiny_project / "data").exists() or not any((tiny_project / "data").rglob("*.safetensors"))
    assert not (tiny_project / "metrics").exists()


def test_a_batch_too_big_for_memory_fails_before_training(tiny_project: Path):
    params = yaml.safe_load((tiny_project / "params.yaml").read_text())
    params["train"]["batch_size"] = 10**8  # a full batch of all 500 training images: activations dominate
    (tiny_project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    proc = sh("dvc", "repro", "train", cwd=tiny_project, check=False, env={"DAE_MEMORY_LIMIT_MB": "8"})
    assert proc.returncode != 0
    assert re.search(
        r"^error: training on [\d,]+ images in batches of 500 needs about [\d,]+ MB of memory "
        r"but 8 MB is free; lower train.batch_size$",
        proc.stderr,
        re.M,
    ), proc.stderr
    assert not (tiny_project / "data/models").exists()


def test_a_dataset_too_big_for_memory_fails_before_corrupting(tiny_project: Path):
    proc = sh("dvc", "repro", "corrupt", cwd=tiny_project, check=False, env={"DAE_MEMORY_LIMIT_MB": "0.2"})
    assert proc.returncode != 0
    assert re.search(
        r"^error: corrupting digits needs about \d+ MB of memory but 0 MB is free; lower data.subset$",
        proc.stderr,
        re.M,
    ), proc.stderr
    assert (tiny_project / "data/clean.safetensors").is_file()
    assert not (tiny_project / "data/pairs").exists()
