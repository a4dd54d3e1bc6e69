import numpy as np
import pytest

from dae.errors import DaeError
from dae.noise import corrupt, gaussian, masking, rng_for, salt_pepper, sampler


@pytest.fixture
def images():
    return np.random.default_rng(0).random((200, 1, 28, 28), dtype=np.float32)


def rng(seed=0):
    return np.random.Generator(np.random.PCG64(seed))


def test_gaussian_unclipped_has_the_requested_std(images):
    noise = gaussian(images, 0.3, rng(), clip=False) - images
    assert abs(noise.mean()) < 0.005
    assert noise.std() == pytest.approx(0.3, rel=0.01)


def test_gaussian_clipped_stays_in_range(images):
    noisy = gaussian(images, 0.5, rng(), clip=True)
    assert noisy.dtype == np.float32
    assert noisy.min() == 0.0 and noisy.max() == 1.0


def test_salt_pepper_fraction_and_ratio(images):
    noisy = salt_pepper(images, 0.3, rng(), salt_ratio=0.25)
    changed = noisy != images
    assert changed.mean() == pytest.approx(0.3, abs=0.01)
    salt = (noisy == 1.0).mean()
    pepper = (noisy == 0.0).mean()
    assert salt == pytest.approx(0.3 * 0.25, abs=0.005)
    assert pepper == pytest.approx(0.3 * 0.75, abs=0.005)


def test_masking_zeroes_the_requested_fraction(images):
    noisy = masking(images, 0.25, rng())
    assert (noisy == 0).mean() == pytest.approx(0.25, abs=0.01)
    kept = noisy != 0
    np.testing.assert_array_equal(noisy[kept], images[kept])


def test_same_seed_same_bytes_and_splits_differ(images):
    setting = {"type": "gaussian", "level": 0.2}
    a = corrupt(images, setting, rng_for(0, setting, "train"))
    b = corrupt(images, setting, rng_for(0, setting, "train"))
    c = corrupt(images, setting, rng_for(0, setting, "test"))
    d = corrupt(images, setting, rng_for(1, setting, "train"))
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, d)


def test_seed_follows_the_setting_content_not_its_name(images):
    # The main setting and the equal sweep entry draw the same noise, so their test pairs are the same.
    main = {"name": "main", "type": "masking", "level": 0.5}
    sweep = {"name": "masking-0.5", "type": "masking", "level": 0.5}
    a = corrupt(images, main, rng_for(0, main, "test"))
    b = corrupt(images, sweep, rng_for(0, sweep, "test"))
    np.testing.assert_array_equal(a, b)


def test_sampler_redraws_per_epoch_and_spreads_levels_across_the_range(images):
    ranges = [{"type": "masking", "low": 0.1, "high": 0.5}, {"type": "gaussian", "low": 0.2, "high": 0.2}]
    draw = sampler(images, ranges, seed=0, tag="blind")
    first = draw(1)
    assert np.array_equal(first, draw(1))  # seeded by (seed, tag, epoch)
    assert not np.array_equal(first, draw(2))
    assert not np.array_equal(first, sampler(images, ranges, seed=0, tag="other")(1))
    assert first.dtype == np.float32 and first.min() >= 0 and first.max() <= 1
    diff = (first != images).reshape(len(images), -1).mean(axis=1)
    masked = diff < 0.6  # gaussian noise moves nearly every pixel; masking at most half of them
    assert 60 < masked.sum() < 140  # each image picks one of the two ranges
    rates = diff[masked]
    assert rates.min() < 0.2 and rates.max() > 0.4  # rates spread across [0.1, 0.5], not one value
    assert np.allclose(images[masked][first[masked] != 0], first[masked][first[masked] != 0])


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"type": "gaussian", "level": -0.1}, "noise: gaussian level = -0.1 is not allowed; expected a level from 0"),
        ({"type": "gaussian", "level": float("nan")}, "noise: gaussian level = nan is not allowed"),
        ({"type": "masking", "level": 1.5}, "noise: masking level = 1.5 is not allowed; expected a level from 0 to 1"),
        ({"type": "salt_pepper", "level": np.array([0.1, 2.0])}, "noise: salt_pepper level = 2 is not allowed"),
        ({"type": "blur", "level": 1.0}, "noise: type = 'blur' is not allowed; expected gaussian, salt_pepper, mask"),
    ],
)
def test_a_level_or_type_outside_what_is_allowed_is_refused(images, setting, message):
    with pytest.raises(DaeError) as caught:
        corrupt(images[:2], setting, rng())
    assert str(caught.value).startswith(message)


def test_the_ends_of_each_allowed_range_are_levels():
    x = np.full((2, 1, 4, 4), 0.5, np.float32)
    assert np.array_equal(corrupt(x, {"type": "gaussian", "level": 0.0}, rng()), x)
    assert corrupt(x, {"type": "gaussian", "level": 1.0}, rng(), clip=False).std() > 0.5
    assert not corrupt(x, {"type": "masking", "level": 1.0}, rng()).any()
    assert set(np.unique(corrupt(x, {"type": "salt_pepper", "level": 1.0}, rng()))) <= {0.0, 1.0}
