import dataclasses
import json
import struct

import numpy as np
import pytest
import torch

from dae import load_model
from dae.errors import DaeError
from dae.models import (
    ARCHITECTURES,
    Decoder,
    DenoisingAutoencoder,
    Encoder,
    ModelConfig,
    build_model,
    model_extra,
    save_model,
)
from dae.params import ARCHS

PARAMS = {"arch": "conv", "channels": [8, 16], "hidden": [32], "latent": 8, "activation": "relu", "dropout": 0.1}


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("arch", ["conv", "mlp"])
def test_output_shape_and_range_for_each_dataset_shape(shape, arch):
    model = build_model({**PARAMS, "arch": arch}, shape).eval()
    assert isinstance(model.encoder, Encoder) and isinstance(model.decoder, Decoder)
    x = torch.rand(4, *shape)
    z = model.encoder(x)
    assert z.shape == (4, PARAMS["latent"])
    out = model(x)
    assert out.shape == x.shape
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_spatial_bottleneck_with_batchnorm_and_extra_blocks(shape, tmp_path):
    options = {"bottleneck": "spatial", "norm": "batch", "blocks": 1, "latent": 4}
    model = build_model({**PARAMS, **options}, shape).eval()
    x = torch.rand(3, *shape)
    low = (shape[1] + 3) // 4  # two stride-2 levels
    assert model.encoder(x).shape == (3, 4, low, low)  # a 4-channel map: the latent code is 4 x low x low
    assert model(x).shape == x.shape
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    convs = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 2 * 2 + 1  # (stride-2 + one block) per level, then the latent convolution
    path = tmp_path / "bn.safetensors"
    save_model(model, path)  # BatchNorm holds 0-dim buffers (num_batches_tracked)
    assert torch.equal(load_model(path)(x), model(x))


def test_files_from_before_the_conv_options_still_load(tmp_path):
    model = build_model(PARAMS, (1, 8, 8)).eval()
    path = tmp_path / "old.safetensors"
    save_model(model, path)
    assert model.config["bottleneck"] == "dense" and model.config["blocks"] == 0
    old_config = {k: v for k, v in model.config.items() if k not in ("bottleneck", "norm", "blocks")}
    assert DenoisingAutoencoder(old_config).config == old_config
    x = torch.rand(2, 1, 8, 8)
    assert torch.equal(load_model(path)(x), model(x))


def test_three_conv_levels_on_odd_sizes():
    # 28 -> 14 -> 7 -> 4 and back up must land on 28 again, not 32.
    model = build_model({**PARAMS, "channels": [4, 8, 8]}, (1, 28, 28))
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 1, 28, 28)


def test_too_many_levels_for_the_image_is_a_clear_error():
    with pytest.raises(DaeError, match="use at most 3 entries in model.channels"):
        build_model({**PARAMS, "channels": [4, 4, 4, 4]}, (1, 8, 8))


def test_save_load_roundtrip(tmp_path):
    torch.manual_seed(0)
    model = build_model(PARAMS, (1, 28, 28)).eval()
    path = tmp_path / "m.safetensors"
    save_model(model, path, {"setting": {"type": "gaussian", "level": 0.3}})
    loaded = load_model(path)
    assert isinstance(loaded, DenoisingAutoencoder) and not loaded.training
    x = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert model_extra(path)["setting"]["level"] == 0.3


def test_saving_twice_gives_identical_bytes(tmp_path):
    model = build_model(PARAMS, (1, 8, 8))
    save_model(model, tmp_path / "a.safetensors", {"x": 1, "y": 2})
    save_model(model, tmp_path / "b.safetensors", {"x": 1, "y": 2})
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()


def test_truncated_file_is_refused(tmp_path):
    path = tmp_path / "m.safetensors"
    save_model(build_model(PARAMS, (1, 8, 8)), path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DaeError, match="not a readable safetensors"):
        load_model(path)


def test_config_that_does_not_match_the_weights_is_refused(tmp_path):
    path = tmp_path / "m.safetensors"
    save_model(build_model(PARAMS, (1, 8, 8)), path)
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = json.loads(header["__metadata__"]["dae"])
    meta["config"]["latent"] = 9
    header["__metadata__"]["dae"] = json.dumps(meta)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n :])
    with pytest.raises(DaeError, match="config does not match the stored tensors"):
        load_model(path)


def test_extra_is_read_from_model_files_only(tmp_path):
    from dae.io import save_arrays
    from dae.models import model_extra

    save_arrays(tmp_path / "pairs.safetensors", {"x": np.zeros((2, 2), np.float32)})  # safetensors, not a model
    with pytest.raises(DaeError, match=r"pairs.safetensors: not a dae-model/\d+ file \(its header holds no `extra`"):
        model_extra(tmp_path / "pairs.safetensors")


def test_missing_file(tmp_path):
    with pytest.raises(DaeError, match="model file not found"):
        load_model("does/not/exist.safetensors")
    with pytest.raises(DaeError, match="is a folder; expected a .safetensors model file"):
        load_model(tmp_path)


def test_edited_weights_are_refused(tmp_path):
    path = tmp_path / "m.safetensors"
    save_model(build_model(PARAMS, (1, 8, 8)), path)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # one byte of the last tensor
    path.write_bytes(bytes(data))
    with pytest.raises(DaeError, match="weights do not match the checksum"):
        load_model(path)


def test_every_arch_the_params_accept_is_registered():
    assert tuple(ARCHITECTURES) == ARCHS


def test_weight_names_are_the_file_format():
    # Model files store weights under these names: a refactor that renames a module breaks every saved model.
    keys = list(build_model(PARAMS, (1, 8, 8)).state_dict())
    assert keys == [
        "encoder.net.0.weight",
        "encoder.net.0.bias",
        "encoder.net.2.weight",
        "encoder.net.2.bias",
        "encoder.net.6.weight",
        "encoder.net.6.bias",
        "decoder.net.0.weight",
        "decoder.net.0.bias",
        "decoder.net.4.weight",
        "decoder.net.4.bias",
        "decoder.net.6.weight",
        "decoder.net.6.bias",
    ]
    assert list(build_model({**PARAMS, "arch": "mlp"}, (1, 8, 8)).state_dict())[:2] == [
        "encoder.net.1.weight",
        "encoder.net.1.bias",
    ]


def test_the_config_is_one_frozen_record_and_the_header_json_keeps_lists():
    config = ModelConfig.from_params(PARAMS, (1, 8, 8))
    header = build_model(PARAMS, (1, 8, 8)).config
    assert header == config.to_dict() and ModelConfig.from_dict(header) == config
    assert header["channels"] == [8, 16] and header["shape"] == [1, 8, 8]
    assert header["bottleneck"] == "dense" and header["norm"] == "none" and header["blocks"] == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.latent = 3  # type: ignore[misc]
