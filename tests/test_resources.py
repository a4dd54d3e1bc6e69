import pytest

from dae.errors import DaeError
from dae.models import build_model
from dae.resources import activation_bytes, available_memory, require, training_bytes

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
    data, batch = training_bytes(model, 1000, (1, 28, 28), 64)
    assert data == 2 * 4 * 1000 * 784
    assert batch > 64 * got
