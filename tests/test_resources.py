import pytest
import torch

from dae.errors import DaeError
from dae.models import build_model
from dae.resources import activation_bytes, available_memory, knob_to_lower, require, training_bytes

MODEL = {"arch": "conv", "channels": [8, 16], "hidden": [32], "latent": 8, "activation": "relu", "dropout": 0.0}


def test_available_memory_is_positive_and_capped_by_the_env(monkeypatch):
    assert available_memory() > 2**20
    monkeypatch.setenv("DAE_MEMORY_LIMIT_MB", "5")
    assert available_memory() == 5 * 2**20


def test_too_big_names_the_param_to_lower(monkeypatch):
    monkeypatch.setenv("DAE_MEMORY_LIMIT_MB", "10")
    require(2**20, "a small job", "data.subset")  # fits: no error
    with pytest.raises(DaeError, match=r"a big job needs about 100 MB of memory but 10 MB is free; lower data.subset"):
        require(100 * 2**20, "a big job", "data.subset")


def test_activation_estimate_counts_every_layer_output():
    model = build_model(MODEL, (1, 28, 28))
    got = activation_bytes(model, (1, 28, 28))
    # conv1 + relu: 8x14x14 each; conv2 + relu: 16x7x7 each; then the decoder mirrors it; at least this much:
    assert got >= 4 * (2 * 8 * 14 * 14 + 2 * 16 * 7 * 7)
    parts = training_bytes(model, 1000, (1, 28, 28), 64)
    assert parts["data"] == 2 * 4 * 1000 * 784
    assert parts["batch"] == 2 * 64 * got
    assert parts["weights"] == 4 * 4 * sum(p.numel() for p in model.parameters())
    # A batch larger than the training set is the training set (a full-batch run is not refused as terabytes).
    assert training_bytes(model, 1000, (1, 28, 28), 10**9)["batch"] == 2 * 1000 * got


def test_the_estimate_on_the_meta_device_equals_the_real_one_and_allocates_nothing():
    real = training_bytes(build_model(MODEL, (1, 28, 28)), 1000, (1, 28, 28), 64)
    with torch.device("meta"):
        plan = build_model(MODEL, (1, 28, 28))
    assert training_bytes(plan, 1000, (1, 28, 28), 64) == real
    with torch.device("meta"):  # 10^9 latent: 4 TB of weights, planned without allocating any of them
        huge = build_model({**MODEL, "latent": 10**9}, (1, 28, 28))
    parts = training_bytes(huge, 1000, (1, 28, 28), 64)
    assert parts["weights"] > 10**12
    assert knob_to_lower(parts, MODEL) == "model.latent or model.channels"
    assert knob_to_lower({"data": 9, "batch": 10, "weights": 1}, MODEL) == "train.batch_size"
    assert knob_to_lower({"data": 11, "batch": 10, "weights": 1}, MODEL) == "data.subset"


@pytest.mark.parametrize("value", ["abc", "-5", "0", "nan", "inf"])
def test_a_bad_memory_limit_is_refused_in_one_line(monkeypatch, value):
    monkeypatch.setenv("DAE_MEMORY_LIMIT_MB", value)
    with pytest.raises(
        DaeError, match=rf"^\$DAE_MEMORY_LIMIT_MB = '{value}' is not allowed; expected a number of MB > 0"
    ):
        available_memory()
