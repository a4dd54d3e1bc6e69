import numpy as np
import pytest
import yaml
from conftest import committed_text, with_value, with_values

from dae.errors import DaeError
from dae.params import ParamError, validate
from dae.probe import pca_features, probe_error
from dae.studies import apply, depth_channels

PARAMS = validate(yaml.safe_load(committed_text("params.yaml")))


@pytest.mark.parametrize(
    ("study", "value", "where", "expected"),
    [
        ("latent", 8, ("model", "latent"), 8),
        ("dropout", 0.3, ("model", "dropout"), 0.3),
        ("l2", 0.01, ("train", "l2"), 0.01),
        ("weight_decay", 0.1, ("train", "weight_decay"), 0.1),
        ("loss", "bce", ("train", "loss"), "bce"),
        ("depth", 3, ("model", "channels"), [32, 64, 128]),
    ],
)
def test_each_study_changes_its_knob_and_nothing_else(study, value, where, expected):
    model, train = apply(PARAMS, study, value)
    got = {"model": model, "train": train}
    assert got[where[0]][where[1]] == expected
    assert train["epochs"] == PARAMS["studies"]["epochs"]
    for section, params in got.items():
        changed = {k for k in params if params[k] != PARAMS[section][k]}
        assert changed <= {where[1], "epochs"}, (study, changed)


def test_depth_doubles_the_channels_from_the_first_level():
    assert depth_channels([16, 64], 1) == [16]
    assert depth_channels([16, 64], 4) == [16, 32, 64, 128]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("studies.grids", {"latnet": [2]}, "unknown study studies.grids.latnet; did you mean studies.grids.latent?"),
        ("studies.grids", {"latent": [0]}, "studies.grids.latent[0] = 0 is not allowed; expected a whole number >= 1"),
        ("studies.grids", {"loss": ["l1"]}, "studies.grids.loss[0] = 'l1' is not allowed; expected one of mse, bce"),
        ("studies.grids", {"dropout": [0.1, 0.1]}, "studies.grids.dropout = [0.1, 0.1] is not allowed"),
        ("studies.setting", "gaussian-0.9", "studies.setting = 'gaussian-0.9' is not a sweep key"),
        ("probe.settings", {"a/b": {"type": "gaussian", "level": 0.1}}, "probe.settings key 'a/b' is not allowed"),
        ("probe.settings", {}, "probe.settings must be a non-empty mapping"),
    ],
)
def test_bad_study_and_probe_params_are_one_line(key, value, message):
    with pytest.raises(ParamError) as err:
        validate(with_value(key, value))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_the_probe_reads_labels_from_informative_features_and_not_from_noise():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=600)
    informative = np.eye(3)[y] + 0.3 * rng.standard_normal((600, 3))
    noise = rng.standard_normal((600, 3))
    assert probe_error(informative[:400], y[:400], informative[400:], y[400:]) < 0.05
    assert probe_error(noise[:400], y[:400], noise[400:], y[400:]) > 0.5
    train, test = pca_features(np.hstack([informative, 0.01 * noise])[:400], informative[400:].repeat(2, 1), 2)
    assert train.shape == (400, 2) and test.shape == (200, 2)


def test_a_linear_output_trains_on_the_raw_output_and_is_clamped_in_use(tmp_path):
    import torch
    import torch.nn.functional as F

    from dae.errors import DaeError
    from dae.models import build_model, load_model, save_model
    from dae.training import loss_fn

    model = build_model({**PARAMS["model"], "output": "linear"}, (1, 8, 8))
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.decoder.net[-1].bias.fill_(2.0)  # push outputs past 1: the clamp must show
        logits = model.logits(x)
        assert logits.max() > 1
        assert torch.equal(model(x), logits.clamp(0, 1))
        assert loss_fn("mse", "linear")(logits, x) == F.mse_loss(logits, x)  # no sigmoid in training
        assert loss_fn("mse")(logits, x) == F.mse_loss(torch.sigmoid(logits), x)
    with pytest.raises(DaeError, match="needs model.output = 'sigmoid'"):
        loss_fn("bce", "linear")
    save_model(model, tmp_path / "m.safetensors")
    assert load_model(tmp_path / "m.safetensors").decoder.output == "linear"


def test_bce_with_a_linear_output_is_refused_in_one_line():
    raw = with_value("train.loss", "bce")
    raw["model"]["output"] = "linear"
    with pytest.raises(ParamError, match=r"train.loss = 'bce' needs model.output = 'sigmoid'"):
        validate(raw)


NATURAL = {
    "natural.data": {"x": {"train": "train400", "test": "set12"}},
    "natural.models": {"n": {"data": "x", "arch": "conv", "sigma": 25, "epochs": 1, "loss": "bce"}},
}


@pytest.mark.parametrize(
    "changes, message, fix",
    [
        (
            {"train.loss": "bce"},
            r"grids.output has 'linear', which train.loss = 'bce' cannot train .*-S 'studies.grids.output=\[sigmoid\]'",
            {"studies.grids.output": ["sigmoid"]},
        ),
        (
            {"model.output": "linear"},
            r"grids.loss has 'bce', which needs model.output = 'sigmoid' .*-S 'studies.grids.loss=\[mse,psnr\]'",
            {"studies.grids.loss": ["mse", "psnr"]},
        ),
        (
            {"anomaly.model.output": "linear", "train.loss": "bce", "studies.grids.output": ["sigmoid"]},
            "the anomaly models train with loss 'bce'",
            {"anomaly.model.output": "sigmoid"},
        ),
        (NATURAL, "natural model n trains with loss 'bce'", {"natural.models.n.loss": "mse"}),
    ],
    ids=["bce with the output study", "linear with the loss study", "anomaly", "natural"],
)
def test_bce_without_a_sigmoid_is_refused_for_every_model_the_params_train(changes: dict, message: str, fix: dict):
    """Each of these passed check_params and failed in its own stage, after the stages before it rewrote outputs."""
    with pytest.raises(ParamError, match=message):
        validate(with_values(changes))
    validate(with_values({**changes, **fix}))  # the change the message asks for is enough


def test_the_probe_needs_two_classes_and_says_so():
    """data.subset=1 left one class, and scikit-learn stopped the probe stage with a traceback."""
    x = np.zeros((4, 3))
    with pytest.raises(DaeError, match=r"probe: the training images hold 1 class; a classifier needs 2 or more"):
        probe_error(x, np.zeros(4, dtype=int), x, np.zeros(4, dtype=int))
