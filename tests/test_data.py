import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from dae.data import NoisyPairs
from dae.errors import DaeError

CLEAN = np.random.default_rng(0).integers(0, 256, size=(20, 1, 8, 8), dtype=np.uint8)
SETTING = {"type": "gaussian", "level": 0.3}


def test_each_item_has_its_own_seeded_noise_whatever_the_order():
    pairs = NoisyPairs(CLEAN, SETTING, seed=5)
    later = pairs[7][0]
    first_pass = [pairs[i][0] for i in range(len(pairs))]
    assert torch.equal(first_pass[7], later)  # the same item, read in another order
    assert not torch.equal(first_pass[7], first_pass[8])
    assert not torch.equal(NoisyPairs(CLEAN, SETTING, seed=6)[7][0], later)


def test_set_epoch_redraws_the_noise_and_the_clean_target_stays():
    pairs = NoisyPairs(CLEAN, SETTING, seed=0)
    noisy0, clean0 = pairs[3]
    pairs.set_epoch(1)
    noisy1, clean1 = pairs[3]
    assert not torch.equal(noisy0, noisy1)
    assert torch.equal(clean0, clean1) and torch.equal(clean0, torch.from_numpy(CLEAN[3] / np.float32(255)))
    assert noisy1.min() >= 0 and noisy1.max() <= 1  # clipped, as the corrupt stage does


def test_a_loader_with_workers_gives_the_same_batches_as_one_without():
    pairs = NoisyPairs(CLEAN, {"type": "masking", "level": 0.5}, seed=1)
    kwargs = {"batch_size": 8, "shuffle": True}
    one = [b[0] for b in DataLoader(pairs, generator=torch.Generator().manual_seed(0), **kwargs)]
    two = [b[0] for b in DataLoader(pairs, generator=torch.Generator().manual_seed(0), num_workers=2, **kwargs)]
    assert all(torch.equal(a, b) for a, b in zip(one, two, strict=True))


def test_precomputed_pairs_and_bad_arguments():
    noisy = np.random.default_rng(1).random(CLEAN.shape, dtype=np.float32)
    x, y = NoisyPairs(CLEAN, noisy=noisy)[2]
    assert torch.equal(x, torch.from_numpy(noisy[2]))
    with pytest.raises(ValueError, match="exactly one of"):
        NoisyPairs(CLEAN)
    with pytest.raises(ValueError, match="do not match"):
        NoisyPairs(CLEAN, noisy=noisy[:3])


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"type": "gaussian", "level": [0.3, 0.1]}, r"level = \[0.3, 0.1\] is not allowed; expected \[low, high\]"),
        ({"type": "gaussian", "level": [-0.2, 0.1]}, "gaussian level = -0.2 is not allowed"),
        ({"type": "speckle", "level": 0.1}, "noise: type = 'speckle' is not allowed"),
        ({"type": "gaussian", "level": [0.1]}, "is not allowed; expected {type, level}, level a number or"),
        ({"type": ["gaussian"], "level": 0.1}, r"noise: type = \['gaussian'\] is not allowed"),
        ({"type": "gaussian", "level": [0.1, 0.2, 0.3]}, "expected {type, level}"),
        ({"type": "gaussian", "level": "0.3"}, "expected {type, level}"),
        ({"type": "gaussian"}, "expected {type, level}"),
    ],
)
def test_a_bad_setting_is_refused_when_the_dataset_is_made(setting, message):
    """Not at its first item, in a DataLoader worker, after the model and the loader are built."""
    with pytest.raises(DaeError, match=message):
        NoisyPairs(CLEAN, setting)


def test_a_range_of_numpy_numbers_is_a_setting():
    pairs = NoisyPairs(CLEAN, {"type": "gaussian", "level": (np.float32(0.0), 0.2)}, seed=1)
    assert len(pairs) == 20 and pairs[3][0].shape == (1, 8, 8)
