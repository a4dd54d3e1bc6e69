"""`model.noise_map: estimate`: the noise estimate a model sees, the archs that take it, and growing a trained
model's input to it (fine-tuning)."""

import pytest
import torch
from test_natural import DNCNN, UNET

from dae.errors import DaeError
from dae.models import build_model, load_model, save_model, start_from
from dae.models.noise_map import estimate_sigma, with_noise_map


def smooth_image(size: int = 96) -> torch.Tensor:
    """Ramps and a soft blob in [0.2, 0.8]: content the estimator should not mistake for noise."""
    y, x = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    return (0.2 + 0.3 * x + 0.2 * y + 0.1 * torch.exp(-((x - 0.5) ** 2 + (y - 0.4) ** 2) * 20))[None, None]


@pytest.mark.parametrize("sigma", [5, 15, 25, 50])
def test_the_estimate_reads_gaussian_noise_of_each_image_and_channel(sigma):
    gen = torch.Generator().manual_seed(sigma)
    clean = smooth_image().expand(2, 3, -1, -1)
    scale = torch.tensor([1.0, 0.5, 0.0]).view(1, 3, 1, 1)  # channel 2 stays clean
    noisy = clean + sigma / 255 * scale * torch.randn(clean.shape, generator=gen)
    got = estimate_sigma(noisy) * 255
    assert got.shape == (2, 3, 1, 1)
    assert torch.allclose(got[:, 0], torch.tensor(float(sigma)), rtol=0.06)
    assert torch.allclose(got[:, 1], torch.tensor(sigma / 2), rtol=0.06)
    assert got[:, 2].max() < 0.1  # the filter is blind to the ramps, and the blob barely moves it


def test_the_estimate_is_float32_under_bf16_autocast():
    x = smooth_image() + 25 / 255 * torch.randn(1, 1, 96, 96, generator=torch.Generator().manual_seed(0))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = estimate_sigma(x)
    assert mixed.dtype == torch.float32 and torch.equal(mixed, estimate_sigma(x))


def test_the_map_is_one_more_constant_channel_per_channel_in_the_inputs_layout():
    x = torch.rand(2, 3, 16, 16).contiguous(memory_format=torch.channels_last)
    out = with_noise_map(x)
    assert out.shape == (2, 6, 16, 16) and out.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(out[:, :3], x) and torch.equal(out[:, 3:].amax((2, 3)), out[:, 3:].amin((2, 3)))


@pytest.mark.parametrize("params", [UNET, DNCNN])
def test_unet_and_dncnn_take_the_map_and_the_file_says_so(params, tmp_path):
    torch.manual_seed(0)
    model = build_model({**params, "noise_map": "estimate"}, (1, 32, 32)).eval()
    assert model.encoder.net[0][0].in_channels == 2 if params is UNET else model.encoder.net[0].in_channels == 2
    save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.config["noise_map"] == "estimate"
    x = torch.rand(1, 1, 24, 40)
    assert torch.equal(loaded(x), model(x))
    # A model without the map writes no noise_map key, so its file keeps the bytes it had before the option.
    assert "noise_map" not in build_model(params, (1, 32, 32)).config


def test_archs_that_cannot_take_the_map_refuse_it_in_one_line():
    conv = {**UNET, "arch": "conv", "channels": [8, 16], "blocks": 0, "output": "sigmoid", "noise_map": "estimate"}
    with pytest.raises(DaeError, match=r"noise_map = 'estimate' needs arch unet, dncnn; set model.noise_map: none"):
        build_model(conv, (1, 8, 8))


@pytest.mark.parametrize("params", [UNET, DNCNN])
def test_a_model_grown_to_take_the_map_starts_as_the_model_it_grew_from(params):
    torch.manual_seed(0)
    plain = build_model(params, (1, 32, 32)).eval()
    grown = build_model({**params, "noise_map": "estimate"}, (1, 32, 32)).eval()
    x = torch.rand(3, 1, 32, 32) + 0.1 * torch.randn(3, 1, 32, 32)
    assert not torch.allclose(grown(x), plain(x))
    start_from(grown, plain)
    assert torch.allclose(grown(x), plain(x), atol=1e-6)


def test_fine_tuning_refuses_a_model_of_other_layers():
    plain = build_model(UNET, (1, 32, 32))
    with pytest.raises(DaeError, match=r"a dncnn model of other layers; cannot fine-tune it as this unet"):
        start_from(plain, build_model(DNCNN, (1, 32, 32)))
    wider = build_model({**UNET, "channels": [8, 16, 64]}, (1, 32, 32))
    with pytest.raises(DaeError, match=r"layer encoder.net.2.0.weight is \(32, 16, 3, 3\) there and \(64, 16, 3, 3\)"):
        start_from(wider, plain)
    # Narrowing is not growing: a model with the map cannot start a model without it.
    with pytest.raises(DaeError, match=r"cannot fine-tune"):
        start_from(plain, build_model({**UNET, "noise_map": "estimate"}, (1, 32, 32)))
