import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from dae.errors import DaeError
from dae.metrics import mse, psnr, ssim, ssim_win_size, summarise


def pair(shape, seed=0):
    rng = np.random.default_rng(seed)
    clean = rng.random(shape)
    return clean, np.clip(clean + 0.15 * rng.standard_normal(shape), 0, 1)


@pytest.mark.parametrize("shape", [(3, 1, 28, 28), (3, 1, 8, 8), (2, 3, 32, 32), (2, 1, 9, 12)])
def test_ssim_matches_scikit_image(shape):
    clean, noisy = pair(shape)
    ours = ssim(torch.from_numpy(noisy), torch.from_numpy(clean)).numpy()
    win = ssim_win_size(*shape[-2:])
    ref = [
        structural_similarity(
            noisy[i],
            clean[i],
            data_range=1.0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            win_size=win,
            channel_axis=0,
        )
        for i in range(shape[0])
    ]
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12)


def test_psnr_matches_scikit_image():
    clean, noisy = pair((4, 1, 28, 28))
    ours = psnr(torch.from_numpy(noisy), torch.from_numpy(clean)).numpy()
    ref = [peak_signal_noise_ratio(clean[i], noisy[i], data_range=1.0) for i in range(4)]
    np.testing.assert_allclose(ours, ref, rtol=1e-9)


def test_perfect_reconstruction():
    clean, _ = pair((2, 1, 28, 28))
    x = torch.from_numpy(clean)
    assert psnr(x, x).tolist() == [100.0, 100.0]
    np.testing.assert_allclose(ssim(x, x).numpy(), 1.0)


def test_summarise_batches_agree_with_one_pass():
    clean, noisy = pair((10, 1, 8, 8))
    x, y = torch.from_numpy(noisy), torch.from_numpy(clean)
    whole = summarise(x, y, batch=10)
    batched = summarise(x, y, batch=3)
    for key in ("mse", "psnr", "ssim"):
        assert batched[key] == pytest.approx(whole[key], rel=1e-12)
    assert whole["psnr"] == pytest.approx(psnr(x, y).mean().item())


@pytest.mark.parametrize("metric", [mse, psnr, ssim])
def test_mismatched_shapes_are_refused_not_broadcast(metric):
    """(N, 1, H, W) against (N, H, W) would broadcast to N x N pairs and give a plausible mean."""
    clean, noisy = (torch.from_numpy(a) for a in pair((4, 1, 12, 12)))
    with pytest.raises(DaeError, match=r"shape \(4, 1, 12, 12\) and clean shape \(4, 12, 12\) differ; expected one"):
        metric(noisy, clean[:, 0])
    assert metric(noisy, clean).shape == (4,)
    with pytest.raises(DaeError, match=r"shape \(12, 12\) is not allowed; expected a batch axis"):
        ssim(noisy[0, 0], clean[0, 0])


def test_summarise_refuses_an_output_longer_than_the_clean_split():
    """Each batch of it would match its clean batch; the extra images would go unscored, unnoticed."""
    clean, noisy = (torch.from_numpy(a) for a in pair((6, 1, 12, 12)))
    with pytest.raises(DaeError, match=r"output shape \(12, 1, 12, 12\) and clean shape \(6, 1, 12, 12\) differ"):
        summarise(torch.cat([noisy, noisy]), clean, batch=6)
