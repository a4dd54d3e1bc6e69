import numpy as np
import pytest
import torch

from dae.anomaly import SCORES, auroc, mse, roc_points, score_all, window_max


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
