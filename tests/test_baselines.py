import numpy as np
import pytest
import torch

from dae.baselines import apply, bm3d, grids, tune
from dae.metrics import psnr
from dae.noise import corrupt, rng_for


def digits(n=12):
    from sklearn.datasets import load_digits

    return (load_digits().images[:n] / 16).astype(np.float32)[:, None]


def mean_psnr(output, clean):
    return psnr(torch.from_numpy(output), torch.from_numpy(clean)).mean().item()


@pytest.mark.parametrize(
    "setting",
    [{"type": "gaussian", "level": 0.3}, {"type": "salt_pepper", "level": 0.2}, {"type": "masking", "level": 0.25}],
)
def test_every_method_keeps_shape_and_range(setting):
    clean = digits(3)
    noisy = corrupt(clean, setting, rng_for(0, setting, "test"))
    for name, (fn, grid) in grids(setting).items():
        out = apply(fn, noisy, grid[0])
        assert out.shape == clean.shape and out.dtype == np.float32, name
        assert out.min() >= 0 and out.max() <= 1, name


def test_bm3d_on_8x8_images_is_padded_and_denoises():
    # bm3d crashes on images smaller than its block search; the wrapper pads and crops back.
    clean = digits(4)
    setting = {"type": "gaussian", "level": 0.2}
    noisy = corrupt(clean, setting, rng_for(0, setting, "test"), clip=False)
    out = np.stack([bm3d(image, sigma=0.2) for image in noisy])
    assert out.shape == clean.shape
    assert mean_psnr(np.clip(out, 0, 1), clean) > mean_psnr(np.clip(noisy, 0, 1), clean)


def test_tuning_picks_the_knob_that_scores_best_on_val():
    clean = digits(20)
    setting = {"type": "salt_pepper", "level": 0.2}
    noisy = corrupt(clean, setting, rng_for(0, setting, "val"))
    fn, grid = grids(setting)["median"]
    chosen = tune(fn, grid, noisy, clean, mean_psnr)
    scores = {g["size"]: mean_psnr(apply(fn, noisy, g), clean) for g in grid}
    assert chosen["size"] == max(scores, key=scores.get)
    # and the median filter is the textbook answer to salt-and-pepper noise: it beats doing nothing
    assert scores[chosen["size"]] > mean_psnr(noisy, clean)


def test_bm3d_jitter_is_tolerated_only_for_bm3d_outputs():
    from pipeline.repro import not_bit_stable

    assert not_bit_stable("metrics/baselines/gaussian-0.1.json")
    assert not not_bit_stable("metrics/sweep/gaussian-0.1.json")
    assert not_bit_stable("plots/baselines_vs_noise.png")
    assert not not_bit_stable("metrics/eval.json")
    assert not not_bit_stable("data/models/main.safetensors")
