"""Natural-image pieces: image files, patches, the fully convolutional models and whole-image inference."""

import re

import numpy as np
import pytest
import tifffile
import torch
import yaml
from conftest import committed_text
from PIL import Image

from dae import denoise_image, load_model
from dae.data import NoisyPairs
from dae.errors import DaeError
from dae.images import image_folder, quantise, read_image, to_grey
from dae.models import build_model, save_model
from dae.natural import add_test_noise, score, split_names
from dae.params import ParamError, natural_models, validate
from dae.patches import downscaled, sample_patches

BASE = {"hidden": [16], "latent": 8, "activation": "relu", "dropout": 0.0, "bottleneck": "dense", "norm": "none"}
UNET = {**BASE, "arch": "unet", "channels": [8, 16, 32], "blocks": 1, "output": "linear"}
DNCNN = {**BASE, "arch": "dncnn", "channels": [8], "blocks": 3, "output": "linear"}
RNG = np.random.default_rng(0)


def write(path, array, mode=None):
    Image.fromarray(array, mode).save(path)
    return path


@pytest.mark.parametrize(
    ("name", "array", "shape", "bits"),
    [
        ("grey.png", RNG.integers(0, 256, (9, 7), dtype=np.uint8), (9, 7), 8),
        ("grey16.png", RNG.integers(0, 65536, (9, 7), dtype=np.uint16), (9, 7), 16),
        ("grey16.tif", RNG.integers(0, 65536, (9, 7), dtype=np.uint16), (9, 7), 16),
        ("rgb.png", RNG.integers(0, 256, (9, 7, 3), dtype=np.uint8), (9, 7, 3), 8),
        ("rgba.png", RNG.integers(0, 256, (9, 7, 4), dtype=np.uint8), (9, 7, 4), 8),
        # Read as dae-denoise reads them: Pillow alone cut 16-bit colour to 8 bit, and garbled planes.
        ("rgb16.tif", RNG.integers(0, 65536, (9, 7, 3), dtype=np.uint16), (9, 7, 3), 16),
        ("planes16.tif", RNG.integers(0, 65536, (9, 7, 3), dtype=np.uint16), (9, 7, 3), 16),
    ],
)
def test_image_files_read_exactly_at_their_bit_depth(tmp_path, name, array, shape, bits):
    if name.endswith(".tif") and array.ndim == 3:
        planes = name.startswith("planes")
        tifffile.imwrite(
            tmp_path / name,
            array.transpose(2, 0, 1) if planes else array,
            photometric="rgb",
            planarconfig="separate" if planes else "contig",
        )
        image, got_bits = read_image(tmp_path / name)
    else:
        image, got_bits = read_image(write(tmp_path / name, array))
    assert image.shape == shape and got_bits == bits and image.dtype == np.float32
    assert np.array_equal(quantise(image, bits), array)


def test_a_corrupt_file_is_one_line_naming_it(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(DaeError, match=r"broken.png: not a readable image") as info:
        read_image(bad)
    assert "\n" not in str(info.value)


def test_image_folder_reads_images_only_in_name_order_as_grey(tmp_path):
    write(tmp_path / "b.png", np.full((4, 5, 3), [255, 0, 0], dtype=np.uint8))
    write(tmp_path / "a.jpg", np.full((6, 6), 100, dtype=np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    images = image_folder(tmp_path)
    assert list(images) == ["a.jpg", "b.png"]
    assert images["b.png"].shape == (4, 5) and images["b.png"][0, 0] == pytest.approx(0.299, abs=1e-6)
    assert to_grey(np.ones((2, 2, 4), dtype=np.float32)).shape == (2, 2)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DaeError, match="no image files"):
        image_folder(tmp_path / "empty")
    (tmp_path / "._b.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")  # macOS's, on a FAT or SMB drive
    assert list(image_folder(tmp_path)) == ["a.jpg", "b.png"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: (d / "gone.png").symlink_to(d / "nowhere.png"), "gone.png: a broken link; allowed: image files"),
        (lambda d: tifffile.imwrite(d / "pages.tif", np.zeros((2, 8, 8), np.uint8)), "2 images in one file"),
        (lambda d: tifffile.imwrite(d / "w.tif", np.zeros((8, 8), np.uint16), photometric="miniswhite"), "white-is"),
        (lambda d: Image.fromarray(np.zeros((8, 8), np.float32), "F").save(d / "float.tif"), "image mode F; allowed"),
    ],
    ids=["a broken link", "a multi-page TIFF", "16-bit white-is-zero", "float samples"],
)
def test_a_folder_with_a_file_it_would_read_wrong_is_one_line(tmp_path, make, message):
    """Once these were read without a word: skipped, cut to the first page, a negative, near black."""
    write(tmp_path / "a.png", np.full((8, 8), 100, dtype=np.uint8))
    make(tmp_path)
    with pytest.raises(DaeError) as caught:
        image_folder(tmp_path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_patches_are_seeded_crops_under_the_square_symmetries():
    image = np.arange(12 * 10, dtype=np.float32).reshape(12, 10)
    patches = sample_patches([image], 4, 50, np.random.default_rng(3))
    again = sample_patches([image], 4, 50, np.random.default_rng(3))
    assert patches.shape == (50, 1, 4, 4) and np.array_equal(patches, again)
    crops = {
        np.rot90(t, k).tobytes()
        for y in range(9)
        for x in range(7)
        for t in (image[y : y + 4, x : x + 4], image[y : y + 4, x : x + 4][:, ::-1])
        for k in range(4)
    }
    assert all(p[0].tobytes() in crops for p in patches)
    assert len({p.tobytes() for p in patches}) > 40  # not one crop repeated
    with pytest.raises(ValueError, match="smaller than the patch size"):
        sample_patches([image], 11, 1, np.random.default_rng(0))


def test_colour_patches_crop_every_channel_alike_and_grey_draws_are_unchanged():
    grey = np.arange(12 * 10, dtype=np.float32).reshape(12, 10)
    colour = np.stack([grey, 1000 + grey, 2000 + grey], axis=2)
    patches = sample_patches([colour], 4, 50, np.random.default_rng(3))
    assert patches.shape == (50, 3, 4, 4)
    # the same seed gives the same crops and symmetries as on the grey image, channel by channel
    assert np.array_equal(
        patches - np.array([0, 1000, 2000])[:, None, None],
        np.repeat(sample_patches([grey], 4, 50, np.random.default_rng(3)), 3, axis=1),
    )


def test_downscaled_copies_follow_the_images_and_keep_their_content():
    y, x = np.mgrid[0:100, 0:80]
    ramp = (x / 79.0).astype(np.float32)  # a left-to-right ramp stays one when shrunk
    grey, colour = ramp, np.stack([ramp, 1 - ramp, np.full_like(ramp, 0.5)], axis=2)
    out = downscaled([grey, colour], [1, 0.9, 0.5], smallest=48)
    assert [o.shape for o in out] == [(100, 80), (100, 80, 3), (90, 72), (90, 72, 3)]  # 0.5 gives 50x40: too small
    assert out[0] is grey and out[1] is colour  # the originals come first, untouched
    assert all(o.dtype == np.float32 and o.min() >= 0 and o.max() <= 1 for o in out)
    assert np.abs(out[2] - np.linspace(0, 1, 72, dtype=np.float32)[None, :]).max() < 0.02
    assert np.array_equal(out[3][..., 0], out[2]) and np.abs(out[3][..., 2] - 0.5).max() < 1e-6
    # bicubic interpolation rings at a sharp edge (to -0.001 and 1.001 here); the copies are clamped into [0, 1]
    edge = (np.indices((60, 60))[1] >= 30).astype(np.float32)
    small = downscaled([edge], [0.9], 48)[1]
    assert small.min() == 0 and small.max() == 1 and 0 < small[0, 26] < 1
    assert len(downscaled([grey], [1], 48)) == 1


def test_natural_scales_are_factors_up_to_one():
    raw = yaml.safe_load(committed_text("params.yaml"))
    raw["natural"]["data"] = {"bsd": {"train": "train400", "test": "set12"}}
    raw["natural"]["models"] = {"m": {"data": "bsd", "arch": "unet", "sigma": "blind"}}
    assert natural_models(validate(raw)["natural"])["m"]["scales"] is None  # absent: the images as they are
    raw["natural"]["models"]["m"]["scales"] = [1, 0.9, 0.7]
    assert natural_models(validate(raw)["natural"])["m"]["scales"] == [1, 0.9, 0.7]
    factor = "expected a number > 0 and <= 1"
    listed = "expected a list of 1 to 8 different entries"
    cases = (([0], "[0]", factor), ([1, 1.2], "[1]", factor), ([1, 0.9, 0.9], "", listed), ([], "", listed))
    for bad, key, allowed in cases:
        raw["natural"]["models"]["m"]["scales"] = bad
        with pytest.raises(ParamError, match=rf"models.m.scales{re.escape(key)} = .* is not allowed; {allowed}"):
            validate(raw)


def test_a_level_range_draws_each_items_noise_level_from_it():
    clean = np.full((200, 1, 16, 16), 0.9, dtype=np.float32)
    pairs = NoisyPairs(clean, {"type": "gaussian", "level": [0.0, 0.2]}, seed=1, clip=False)
    stds = np.array([float((pairs[i][0] - pairs[i][1]).std()) for i in range(len(pairs))])
    assert stds.min() < 0.03 and stds.max() > 0.17 and stds.max() < 0.23  # spread over the whole range
    assert max(float(pairs[i][0].max()) for i in range(len(pairs))) > 1  # unclipped


@pytest.mark.parametrize(("params", "stride"), [(UNET, 4), (DNCNN, 1)])
def test_fully_convolutional_models_keep_any_size_and_start_near_identity(params, stride):
    model = build_model(params, (1, 32, 32)).eval()
    assert model.stride == stride
    x = torch.rand(2, 1, 20, 28)
    with torch.no_grad():
        assert model(x).shape == x.shape
        last = model.decoder.net[-1]
        last.weight.zero_(), last.bias.zero_()
        assert torch.equal(model(x), x)  # residual: a zero last layer passes the input through


def test_residual_models_refuse_a_sigmoid_output():
    for params in (UNET, DNCNN):
        with pytest.raises(DaeError, match="set model.output: linear"):
            build_model({**params, "output": "sigmoid"}, (1, 32, 32))


def test_denoise_image_tiles_blend_to_the_whole_image_result(tmp_path):
    torch.manual_seed(0)
    save_model(build_model(UNET, (1, 32, 32)), tmp_path / "m.safetensors")
    model = load_model(tmp_path / "m.safetensors")
    image = RNG.random((150, 203), dtype=np.float32)
    whole, tiled = denoise_image(model, image, tile=4096), denoise_image(model, image, tile=64, overlap=16)
    assert whole.shape == tiled.shape == image.shape
    assert 10 * np.log10(1 / np.mean((whole - tiled) ** 2)) > 45


def test_denoise_image_colour_alpha_and_fixed_size_models():
    torch.manual_seed(0)
    model = build_model(DNCNN, (1, 32, 32)).eval()
    rgba = RNG.random((40, 30, 4), dtype=np.float32)
    out = denoise_image(model, rgba)
    assert out.shape == rgba.shape and np.array_equal(out[..., 3], rgba[..., 3])
    assert np.allclose(out[..., 1], denoise_image(model, rgba[..., 1]), atol=1e-6)  # grey model: per channel
    dense = build_model({**BASE, "arch": "conv", "channels": [8, 16], "blocks": 0, "output": "sigmoid"}, (1, 8, 8))
    assert denoise_image(dense.eval(), RNG.random((21, 13), dtype=np.float32)).shape == (21, 13)
    colour = build_model({**DNCNN}, (3, 32, 32)).eval()
    with pytest.raises(DaeError, match="a 3-channel model cannot denoise a 1-channel image"):
        denoise_image(colour, RNG.random((8, 8, 2), dtype=np.float32))


@pytest.mark.parametrize(
    ("image", "kwargs", "message"),
    [
        (np.where(np.eye(9, 8) > 0, np.nan, 0.5).astype(np.float32), {}, "holds NaN or infinite values"),
        (np.full((9, 8), np.inf, np.float32), {}, "holds NaN or infinite values"),
        (RNG.random((9, 8), dtype=np.float32) * 255, {}, "expected floats on the [0, 1] scale (divide 8-bit"),
        (RNG.random((9, 8), dtype=np.float32), {"tile": 32, "overlap": -8}, "overlap = -8 is not allowed"),
        (np.zeros((9, 8, 0), np.float32), {}, "expected an HxW or HxWxC array, got shape (9, 8, 0)"),
        ([[0.5] * 8] * 9, {}, "expected a numpy array, got list"),
        (RNG.random((9, 8), dtype=np.float32), {"sigma": "25"}, "sigma = '25' is not allowed; expected None or a"),
        (RNG.random((9, 8), dtype=np.float32), {"sigma": -5}, "sigma = -5 is not allowed"),
        (RNG.random((9, 8), dtype=np.float32), {"sigma": np.inf}, "sigma = inf is not allowed"),
        (RNG.random((9, 8), dtype=np.float32), {"sigma": float("nan")}, "sigma = nan is not allowed"),
        (RNG.random((9, 8), dtype=np.float32), {"tile": 0}, "tile = 0 is not allowed; expected a whole number"),
        (RNG.random((9, 8), dtype=np.float32), {"tile": "512"}, "tile = '512' is not allowed"),
    ],
    ids=[
        "a NaN",
        "inf",
        "0-255 floats",
        "negative overlap",
        "no channels",
        "a list",
        "sigma text",
        "sigma < 0",
        "sigma inf",
        "sigma NaN",
        "tile 0",
        "tile text",
    ],
)
def test_denoise_image_refuses_what_would_come_back_wrong(image, kwargs, message):
    """A NaN spreads over its whole tile, 0-255 floats come back white, a negative overlap leaves NaN holes."""
    model = build_model(DNCNN, (1, 32, 32)).eval()
    with pytest.raises(DaeError) as caught:
        denoise_image(model, image, **kwargs)
    assert str(caught.value).startswith("denoise_image: ") and message in str(caught.value)
    for sigma in (55, 255):  # unclipped noise takes an image outside [0, 1]: not a refusal
        noisy = 0.5 + RNG.normal(0, sigma / 255, (64, 64)).astype(np.float32)
        assert noisy.min() < 0 < 1 < noisy.max() and denoise_image(model, noisy).shape == noisy.shape
    for sigma in (0, np.float32(25), 255, 378.1):  # any level >= 0 is one (the models ignore it): the same output
        assert np.array_equal(denoise_image(model, noisy, sigma=sigma), denoise_image(model, noisy))


@pytest.mark.parametrize(
    ("shape", "kwargs"),
    [((150, 203), {}), ((150, 203, 3), {"tile": 64}), ((150, 203, 3), {"tile": 64, "colour": "luma_chroma"}),
     ((70, 130, 4), {"tile": 64, "ensemble": 8}), ((21, 13), {"dense": True}),
     ((21, 13, 3), {"dense": True, "ensemble": 8})],
)  # fmt: skip
def test_model_passes_counts_the_calls_denoise_image_makes(shape: tuple, kwargs: dict):
    """dae-denoise's per-file progress bar counts on it."""
    from dae.inference import model_passes

    kwargs = dict(kwargs)
    dense = kwargs.pop("dense", False)
    conv = {**BASE, "arch": "conv", "channels": [8, 16], "blocks": 0, "output": "sigmoid"}
    model = (build_model(conv, (1, 8, 8)) if dense else build_model(UNET, (1, 32, 32))).eval()
    calls = []
    model.register_forward_hook(lambda *_: calls.append(1) and None)
    denoise_image(model, RNG.random(shape, dtype=np.float32), **kwargs)
    assert len(calls) == model_passes(model, shape, **kwargs) > 0


def test_luma_chroma_transforms_rgb_there_and_back_and_leaves_other_inputs_alone():
    torch.manual_seed(0)
    model = build_model(UNET, (1, 32, 32)).eval()
    with torch.no_grad():  # the residual U-Net with a zero last layer passes its input through
        model.decoder.net[-1].weight.zero_(), model.decoder.net[-1].bias.zero_()
    rgba = RNG.random((37, 50, 4), dtype=np.float32)
    out = denoise_image(model, rgba, colour="luma_chroma")
    assert np.allclose(out, rgba, atol=2e-6) and np.array_equal(out[..., 3], rgba[..., 3])
    trained = build_model(UNET, (1, 32, 32)).eval()
    rgb, grey = rgba[..., :3], rgba[..., 0]
    split = denoise_image(trained, rgb, colour="luma_chroma")
    assert split.shape == rgb.shape and not np.allclose(split, denoise_image(trained, rgb), atol=1e-3)
    assert np.array_equal(denoise_image(trained, grey, colour="luma_chroma"), denoise_image(trained, grey))
    with pytest.raises(DaeError, match=r"colour = 'yuv' is not allowed; expected one of channels, luma_chroma"):
        denoise_image(trained, rgb, colour="yuv")


def test_ensemble_averages_over_flips_and_turns_so_it_commutes_with_them():
    torch.manual_seed(0)
    model = build_model(UNET, (1, 32, 32)).eval()
    image = RNG.random((36, 52), dtype=np.float32)
    turned = np.ascontiguousarray(np.rot90(image))
    plain, x8 = denoise_image(model, image), denoise_image(model, image, ensemble=8)
    assert x8.shape == image.shape and not np.allclose(plain, x8, atol=1e-3)
    assert not np.allclose(np.rot90(plain), denoise_image(model, turned), atol=1e-3)  # one pass is not symmetric
    assert np.allclose(np.rot90(x8), denoise_image(model, turned, ensemble=8), atol=1e-6)  # the ensemble is
    rgb = RNG.random((20, 24, 3), dtype=np.float32)  # through tiles and the luminance and chroma planes too
    assert np.allclose(
        np.fliplr(denoise_image(model, rgb, tile=16, colour="luma_chroma", ensemble=8)),
        denoise_image(model, np.ascontiguousarray(np.fliplr(rgb)), tile=16, colour="luma_chroma", ensemble=8),
        atol=1e-6,
    )
    with pytest.raises(DaeError, match=r"ensemble = 4 is not allowed; expected 1 \(off\) or 8"):
        denoise_image(model, image, ensemble=4)


def test_test_noise_is_fixed_unclipped_and_scored_at_8_bit():
    clean = np.full((64, 64), 250 / 255, dtype=np.float32)
    noisy = add_test_noise(clean, 25, seed=0, name="a.png")
    assert np.array_equal(noisy, add_test_noise(clean, 25, seed=0, name="a.png"))
    assert not np.array_equal(noisy, add_test_noise(clean, 25, seed=0, name="b.png"))
    assert noisy.max() > 1 and abs(float((noisy - clean).std()) * 255 - 25) < 1
    assert score(clean + 0.4 / 255, clean)["psnr"] == 100  # rounds back to the clean 8-bit value
    assert score(clean + 0.6 / 255, clean)["psnr"] == pytest.approx(20 * np.log10(255), abs=1e-5)


def test_val_images_are_a_seeded_split():
    names = [f"{i:03d}.png" for i in range(30)]
    train, val = split_names(names, 5, seed=0)
    assert len(val) == 5 and sorted(train + val) == names and (train, val) == split_names(names, 5, seed=0)


def test_natural_models_must_name_known_data_and_archs():
    raw = yaml.safe_load(committed_text("params.yaml"))
    raw["natural"]["models"] = {"m": {"data": "bsd", "arch": "dncnn", "sigma": 25}}
    with pytest.raises(ParamError, match=r"natural.models.m.data = 'bsd' is not allowed"):
        validate(raw)
    raw["natural"]["data"] = {"bsd": {"train": "train400", "test": "set12"}}
    raw["natural"]["models"]["m"]["sigma"] = "loud"
    with pytest.raises(ParamError, match=r"natural.models.m.sigma = 'loud' is not allowed"):
        validate(raw)


def test_natural_finetune_entries_must_start_from_a_model_and_name_known_data():
    raw = yaml.safe_load(committed_text("params.yaml"))
    raw["natural"]["data"] = {"bsd": {"train": "train400", "test": "set12"}}
    raw["natural"]["models"] = {"b": {"data": "bsd", "arch": "dncnn", "sigma": "blind"}}
    raw["natural"]["finetune"] = {"t": {"from": "x", "data": "bsd", "sigma": 25, "epochs": 2}}
    with pytest.raises(ParamError, match=r"natural.finetune.t.from = 'x' is not allowed; expected one of: b"):
        validate(raw)
    raw["natural"]["finetune"]["t"] |= {"from": "b", "data": "own"}
    with pytest.raises(ParamError, match=r"natural.finetune.t.data = 'own' is not allowed; expected one of: bsd"):
        validate(raw)
    raw["natural"]["finetune"] = {"b": {"from": "b", "data": "bsd", "sigma": 25, "epochs": 2}}
    with pytest.raises(ParamError, match=r"natural.finetune.b is also a natural.models entry"):
        validate(raw)
    raw["natural"]["finetune"] = {"t": {"from": "b", "data": "bsd", "sigma": 25, "epochs": 2, "arch": "dncnn-nm"}}
    with pytest.raises(ParamError, match=r"natural.finetune.t.arch = 'dncnn-nm' is not allowed; expected one of: "):
        validate(raw)
    raw["natural"]["archs"]["dncnn-nm"] = {**raw["natural"]["archs"]["dncnn"], "noise_map": "estimate"}
    assert natural_models(validate(raw)["natural"])["t"]["arch"] == "dncnn-nm"  # grows b's input (tests/test_noise_map)
    raw["natural"]["finetune"] = {
        "t": {"from": "b", "data": "bsd", "sigma": 25, "epochs": 2, "lr": 0.001, "scales": [1, 0.8]}
    }
    assert natural_models(validate(raw)["natural"])["t"] == {
        "from": "b",
        "data": "bsd",
        "sigma": 25.0,
        "epochs": 2,
        "lr": 0.001,
        "loss": None,
        "arch": "dncnn",
        "scales": [1, 0.8],
    }


def test_the_shipped_blind_model_is_the_recorded_runs_and_denoises():
    import hashlib
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]

    def recorded(record: str) -> str:
        return json.loads((root / "docs/data" / record).read_text())["models"]["grey-blind"]["md5"]

    # configs/natural.yaml's grey-blind stage trains the shipped model. The fp32 blind model shipped before it is
    # trained by configs/natural-blind.yaml, and by the whole fp32 study too, byte for byte.
    shipped = root / "models/grey-blind.safetensors"
    assert hashlib.md5(shipped.read_bytes()).hexdigest() == recorded("natural.json")
    assert recorded("natural-blind.json") == recorded("natural-fp32.json") != recorded("natural.json")
    assert load_model(shipped).config["noise_map"] == "estimate"
    assert shipped.stat().st_size < 5_000_000
    model = load_model(shipped)
    assert model.config["shape"][0] == 1 and model.stride is not None
    # A smooth synthetic scene (not a test image): the blind model removes most of sigma 25 noise.
    y, x = np.mgrid[0:120, 0:150] / 40.0
    clean = (0.5 + 0.3 * np.sin(x) * np.cos(y) + 0.15 * (x > 2)).astype(np.float32)
    noisy = clean + np.random.default_rng(0).normal(0, 25 / 255, clean.shape).astype(np.float32)
    gain = score(denoise_image(model, noisy), clean)["psnr"] - score(noisy, clean)["psnr"]
    assert gain > 6, gain
    x8_gain = score(denoise_image(model, noisy, ensemble=8), clean)["psnr"] - score(noisy, clean)["psnr"]
    assert x8_gain > gain, (x8_gain, gain)  # the self-ensemble averages away some of the model's own error


def test_the_natural_example_picture_is_drawn_from_a_set12_folder_and_refuses_a_folder_without_it(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from skimage import data

    # Stand-ins for the two Set12 files the picture shows (Set12 itself is not needed): scikit-image's camera at
    # Monarch's size, 256 px, and its moon shrunk below the crop's side, which then shrinks to fit.
    (tmp_path / "set12").mkdir()
    stand_ins = {"05.png": data.camera()[::2, ::2], "09.png": data.moon()[::5, ::4]}
    for name, image in stand_ins.items():
        Image.fromarray(image).save(tmp_path / "set12" / name)
    tool = Path(__file__).resolve().parents[1] / "tools" / "natural_example.py"
    picture = tmp_path / "out" / "example.jpg"
    proc = subprocess.run(
        [sys.executable, tool, "--mirror", tmp_path, "--out", picture], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["05.png", "09.png"], lines
    for line, (name, image) in zip(lines, stand_ins.items(), strict=True):
        noisy, bm3d, shipped = (float(db) for db in re.findall(r"([0-9.]+) dB", line))
        clean = image.astype(np.float32) / 255
        assert noisy == round(score(add_test_noise(clean, 25, 0, name), clean)["psnr"], 2)  # the study's own draw
        assert bm3d > noisy + 3 and shipped > noisy + 3, line
    with Image.open(picture) as image:
        assert image.format == "JPEG" and image.size == (1040, 600)
    assert [p.name for p in picture.parent.iterdir()] == [picture.name]

    (tmp_path / "set12" / "09.png").unlink()
    proc = subprocess.run(
        [sys.executable, tool, "--mirror", tmp_path, "--out", tmp_path / "no.jpg"], capture_output=True, text=True
    )
    assert proc.returncode != 0 and not (tmp_path / "no.jpg").exists()
    assert proc.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'set12'} lacks 09.png; pass --mirror, the folder that holds set12/"
    ]


@pytest.mark.parametrize("record", ["natural.json", "natural-blind.json"])
def test_the_natural_tables_are_the_recorded_runs(record: str):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "tools/natural_tables.py", f"docs/data/{record}", "--check"]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    ("config", "record"),
    [
        ("natural.yaml", "natural.json"),
        ("natural-fp32.yaml", "natural-fp32.json"),
        ("natural-blind.yaml", "natural-blind.json"),
    ],
)
def test_each_natural_config_is_valid_and_is_what_its_record_ran(config: str, record: str):
    import json
    from pathlib import Path

    from pipeline.repro import natural_record_mismatch

    root = Path(__file__).resolve().parents[1]
    params = yaml.safe_load((root / "configs" / config).read_text())
    validate(params)
    assert natural_record_mismatch(json.loads((root / "docs/data" / record).read_text()), params) == []


@pytest.mark.parametrize("shape", [(1, 40), (5, 1), (1, 1), (1, 1, 3)])
def test_images_down_to_one_pixel_go_through_the_ensemble(shape: tuple):
    """A flipped axis of length 1 is a negative-stride view that torch refuses unless it is copied."""
    model = build_model(UNET, (1, 32, 32)).eval()
    assert denoise_image(model, RNG.random(shape, dtype=np.float32), ensemble=8).shape == shape


def test_small_tiles_still_move_by_most_of_a_tile_and_integer_images_are_refused():
    from dae.inference import model_passes

    model = build_model(UNET, (1, 32, 32)).eval()
    # 32-pixel tiles overlap by a quarter tile (8), not by the default 32, which would move them 1 pixel at a time
    # (169 ** 2 = 28,561 passes for this image instead of 8 ** 2).
    assert model_passes(model, (200, 200), tile=32) == 8**2
    with pytest.raises(DaeError, match=r"expected floats in \[0, 1\], got uint8 \(divide 8-bit images by 255\)"):
        denoise_image(model, np.zeros((8, 8), dtype=np.uint8))
