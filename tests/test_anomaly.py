import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import committed_text, sh, with_value

from dae.anomaly import SCORES, auroc, mse, roc_points, score_all, score_images, window_max
from dae.datasets import load_splits
from dae.one_class import class_images
from dae.params import ParamError, validate
from pipeline.train_anomaly import train_run

ROOT = Path(__file__).resolve().parents[1]


def test_auroc_is_one_for_a_perfect_ranking_a_half_for_ties_and_zero_reversed():
    anomalous = np.array([False, False, True, True])
    assert auroc(np.array([0.1, 0.2, 0.8, 0.9]), anomalous) == 1.0
    assert auroc(np.array([0.5, 0.5, 0.5, 0.5]), anomalous) == 0.5
    assert auroc(np.array([0.9, 0.8, 0.2, 0.1]), anomalous) == 0.0
    with pytest.raises(ValueError, match="both normal and anomalous"):
        auroc(np.array([0.1, 0.2]), np.array([True, True]))


def test_a_local_defect_stands_out_more_under_window_max_than_under_mse():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 1, 28, 28, generator=g)
    recon = images.clone()
    recon[0] += 0.05 * torch.randn(1, 28, 28, generator=g)  # small error spread over the whole image
    recon[1, :, 10:15, 10:15] = 1 - images[1, :, 10:15, 10:15]  # one wrong patch
    whole, local = mse(images, recon), window_max(images, recon)
    # Comparable whole-image errors, but the patch is many times worse than anything in the first image locally.
    assert local[1] / local[0] > 5 * whole[1] / whole[0]


def test_every_score_is_zero_for_a_perfect_reconstruction_and_grows_with_the_error():
    images = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    perfect = score_all(images, images)
    assert set(perfect) == set(SCORES)
    noisy = score_all(images, (images + 0.2).clamp(0, 1))
    for name in SCORES:
        assert np.allclose(perfect[name], 0, atol=1e-9), name
        assert (noisy[name] > perfect[name]).all(), name


def test_roc_points_run_from_the_origin_to_one_one():
    points = roc_points(np.array([0.1, 0.4, 0.35, 0.8]), np.array([False, False, True, True]), n=11)
    assert len(points) == 11 and points[0]["fpr"] == 0.0 and points[-1] == {"fpr": 1.0, "tpr": 1.0}
    assert all(a["tpr"] <= b["tpr"] for a, b in zip(points[:-1], points[1:], strict=True))


# --- the one-class study: params, stages, a real model --------------------------------------------------------------

BAD_ANOMALY = [
    ("anomaly.classes", [3, 10], "anomaly.classes[1] = 10 is not allowed; expected a whole number >= 0 and <= 9"),
    ("anomaly.classes", [1, 1], "anomaly.classes = [1, 1] is not allowed; expected a list of 1 to 10 different"),
    ("anomaly.datasets", ["svhn"], "anomaly.datasets[0] = 'svhn' is not allowed; expected one of digits, mnist"),
    ("anomaly.datasets", ["digits"], "anomaly.datasets and anomaly.datasets_one_stage both name digits"),
    ("anomaly.datasets_one_stage", [], "anomaly: name at least one dataset in anomaly.datasets or"),
    ("anomaly.seeds", [], "anomaly.seeds = [] is not allowed; expected a list of 1 to 10 different"),
    ("anomaly.noise", 0, "anomaly.noise = 0 is not allowed; expected a number > 0 and <= 1"),
    ("anomaly.plain", "sometimes", "anomaly.plain = 'sometimes' is not allowed; expected true or false"),
    ("anomaly.model", {"latnt": 4}, "unknown key anomaly.model.latnt; did you mean anomaly.model.latent?"),
    ("anomaly.train", {"epochs": 0}, "anomaly.train.epochs = 0 is not allowed; expected a whole number >= 1"),
    ("anomaly.train", [5], "anomaly.train = [5] is not allowed; expected null, or a mapping of some train: keys"),
]


@pytest.mark.parametrize(("key", "value", "message"), BAD_ANOMALY)
def test_bad_anomaly_params_are_refused_in_one_line(key, value, message):
    with pytest.raises(ParamError) as err:
        validate(with_value(key, value))
    assert "\n" not in str(err.value)
    assert message in str(err.value)


def test_bad_anomaly_params_stop_the_check_params_stage_with_one_line(tmp_path):
    raw = with_value("anomaly.classes", [3, 10])
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    proc = sh(
        sys.executable, "-m", "pipeline.check_params", "ok", cwd=tmp_path, check=False, env={"PYTHONPATH": str(ROOT)}
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: params: anomaly.classes[1] = 10 is not allowed; expected a whole number >= 0 and <= 9"
    ]
    assert not (tmp_path / "ok").exists()


def test_the_matrix_stages_are_listed_per_dataset_and_class(tiny_project):
    raw = yaml.safe_load((tiny_project / "params.yaml").read_text())
    raw["anomaly"].update(datasets=["mnist", "fashion_mnist"], classes=[0, 7])
    (tiny_project / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    listed = {line.split()[0] for line in sh("dvc", "stage", "list", cwd=tiny_project).stdout.splitlines()}
    wanted = {f"train_anomaly@{d}-{c}" for d in ("mnist", "fashion_mnist") for c in (0, 7)}
    assert wanted | {"train_anomaly_all@digits", "anomaly"} <= listed
    assert not any(s.startswith("train_anomaly@digits") for s in listed)


def test_a_one_class_model_on_digits_separates_its_class():
    """Trained on the 0s alone, the DAE rebuilds test 0s far better than the other digits."""
    params = validate(yaml.safe_load(committed_text("params.yaml")))
    params["anomaly"]["train"] = {"epochs": 15}
    splits = load_splits({**params["data"], "name": "digits"})
    model, extra = train_run(params, splits, 0, "dae", 0, torch.device("cpu"))
    assert extra["class"] == 0 and extra["noise_std"] == params["anomaly"]["noise"]
    scores = score_images(model, class_images(splits, "test"))
    anomalous = splits["test_y"] != 0
    assert auroc(scores["mse"], anomalous) > 0.9
    # and a model of another class does not: the score says "not my class", not "an odd image"
    other, _ = train_run(params, splits, 1, "dae", 0, torch.device("cpu"))
    assert auroc(score_images(other, class_images(splits, "test"))["mse"], anomalous) < 0.6


def test_one_run_per_class_still_writes_its_runs_folder(tmp_path):
    """dvc.yaml declares data/models/anomaly/runs/<dataset>-<class> for every class stage; with one seed and no
    plain model it used to be missing, and DVC failed the stage after training."""
    from pipeline.train_anomaly import train_class

    params = validate(yaml.safe_load(committed_text("params.yaml")))
    params["anomaly"] |= {"plain": False, "seeds": [0], "train": {"epochs": 1}}
    train_class(params, load_splits({**params["data"], "name": "digits"}), "digits", 3, tmp_path)
    assert (tmp_path / "digits-3.safetensors").is_file() and list((tmp_path / "runs" / "digits-3").iterdir()) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="asks for CUDA to see the request refused; this machine has it")
def test_the_anomaly_models_train_on_the_device_anomaly_train_names(tmp_path):
    """anomaly.train.device was validated, then ignored: the models trained on train.device."""
    from dae.errors import DaeError
    from pipeline.train_anomaly import train_class

    params = validate(with_value("anomaly.train", {"epochs": 1, "device": "cuda"}))
    assert params["train"]["device"] != "cuda"
    with pytest.raises(DaeError, match="^params: anomaly.train.device = 'cuda' but this machine has no cuda"):
        train_class(params, {}, "digits", 3, tmp_path)
    assert not list(tmp_path.iterdir())


def test_the_one_stage_layout_reruns_when_the_classes_change():
    """train_anomaly_all trains every class of anomaly.classes: DVC must know when that list changes."""
    stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["train_anomaly_all"]["do"]
    assert "anomaly.classes" in stage["params"]


FLOATS = "expected a float tensor (N, C, H, W) in [0, 1]"


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (torch.rand(3, 1, 28, 28), "images of shape (1, 28, 28); this model takes (1, 8, 8)"),
        ((torch.rand(3, 1, 8, 8) * 255).to(torch.uint8), f"{FLOATS}, got torch.uint8 of shape (3, 1, 8, 8)"),
        (torch.rand(3, 1, 8, 8) * 255, "images must be floats in [0, 1] (divide 8-bit images by 255)"),
        (torch.full((3, 1, 8, 8), float("nan")), "the images hold NaN or infinite values"),
        (np.zeros((3, 1, 8, 8), np.float32), f"{FLOATS}, got <class 'numpy.ndarray'>"),
    ],
    ids=["another shape", "uint8", "0-255 floats", "NaN", "a numpy array"],
)
def test_scoring_refuses_images_it_cannot_score_in_one_line(images, message):
    """Once a traceback deep in torch, or (0-255 floats) every ssim score 1.0: scores that look valid."""
    from dae.anomaly import score_images
    from dae.errors import DaeError
    from dae.models import build_model

    model = build_model(validate(yaml.safe_load(committed_text("params.yaml")))["anomaly"]["model"], (1, 8, 8))
    with pytest.raises(DaeError) as caught:
        score_images(model, images)
    assert str(caught.value) == f"anomaly scores: {message}"
    # A float32 step past 1 is no error; a fully convolutional model takes other sizes of its stride's multiples.
    assert score_images(model, torch.full((2, 1, 8, 8), 1 + 1e-7))["mse"].shape == (2,)
    spatial = build_model({**model.config, "bottleneck": "spatial", "hidden": [8]}, (1, 8, 8))
    assert score_images(spatial, torch.rand(2, 1, 16, 24))["mse"].shape == (2,)


def test_auroc_and_the_roc_curve_need_a_bool_mask_of_both_kinds():
    scores = np.arange(6, dtype=np.float64)
    with pytest.raises(ValueError, match="anomalous must be a mask of True/1"):
        auroc(scores, np.array([0, 3, 3, 7, 7, 7]))  # class labels, not a mask: sklearn's multi_class error
    assert auroc(scores, np.array([0, 0, 0, 1, 1, 1])) == 1.0
    with pytest.raises(ValueError, match="both normal and anomalous"):
        roc_points(scores, np.zeros(6, dtype=bool))  # an all-NaN curve before
    assert auroc(scores, np.arange(6) >= 3) == 1.0
