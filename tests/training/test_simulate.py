"""simulate_exposure: reproducibility, truth consistency, profiles."""

import dataclasses

import numpy as np
import pytest
from scipy import ndimage

from crclean.training import (
    MASK_THRESHOLD_SIGMA,
    PROFILES,
    SimulatedExposure,
    simulate_exposure,
)

ARRAYS = [f.name for f in dataclasses.fields(SimulatedExposure) if f.type is np.ndarray]


@pytest.fixture(scope="module", params=sorted(PROFILES))
def exposure(request):
    return simulate_exposure((150, 200), seed=11, profile=request.param, cr_rate=5.0)


def test_same_seed_gives_identical_arrays(exposure):
    again = simulate_exposure((150, 200), seed=11, profile=exposure.profile, cr_rate=5.0)
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(exposure, name), getattr(again, name), name)


def test_another_seed_gives_another_exposure(exposure):
    other = simulate_exposure((150, 200), seed=12, profile=exposure.profile, cr_rate=5.0)
    assert not np.array_equal(exposure.image_adu, other.image_adu)
    assert not np.array_equal(exposure.cr_mask, other.cr_mask)


def test_types_and_shapes(exposure):
    assert exposure.image_adu.dtype == exposure.clean_adu.dtype == np.float32
    assert exposure.cr_electrons.dtype == np.float32
    for name in ARRAYS:
        assert getattr(exposure, name).shape == (150, 200)
        if name.endswith("_mask"):
            assert getattr(exposure, name).dtype == bool


def test_truth_mask_is_the_charge_threshold(exposure):
    e = exposure
    expected = (e.cr_electrons > MASK_THRESHOLD_SIGMA * e.noise_sigma_electrons) & ~e.defect_mask
    np.testing.assert_array_equal(e.cr_mask, expected)
    np.testing.assert_array_equal(e.ignore_mask, (e.cr_electrons > 0) & ~e.cr_mask)
    assert e.cr_mask.sum() > 20
    assert not np.any(e.cr_mask & e.ignore_mask)


def test_defects_are_never_cosmic_rays(exposure):
    assert exposure.defect_mask.any()
    assert not np.any(exposure.cr_mask & exposure.defect_mask)
    assert np.all(exposure.defect_mask[exposure.saturated_mask])


def test_image_minus_clean_is_the_cosmic_ray_charge(exposure):
    e = exposure
    difference = (e.image_adu.astype(float) - e.clean_adu) * e.gain
    np.testing.assert_allclose(difference, e.cr_electrons, atol=0.02 * e.gain)


def test_no_cosmic_rays_without_a_rate():
    e = simulate_exposure((120, 130), seed=3, profile="ground_thin", cr_rate=0.0)
    assert not e.cr_mask.any() and not e.cr_electrons.any()
    np.testing.assert_array_equal(e.image_adu, e.clean_adu)


def test_cosmic_rays_do_not_change_the_sky_or_its_noise():
    few = simulate_exposure((120, 130), seed=3, profile="ground_thin", cr_rate=0.1)
    many = simulate_exposure((120, 130), seed=3, profile="ground_thin", cr_rate=20.0)
    np.testing.assert_array_equal(few.clean_adu, many.clean_adu)
    assert many.cr_mask.sum() > few.cr_mask.sum()


def test_validation_split_changes_only_the_cosmic_rays():
    train = simulate_exposure((128, 128), seed=5, profile="ground_thick", cr_rate=20.0)
    held_out = simulate_exposure((128, 128), seed=5, profile="ground_thick", cr_rate=20.0,
                                 split="validation")
    np.testing.assert_array_equal(train.clean_adu, held_out.clean_adu)
    assert not np.array_equal(train.cr_electrons, held_out.cr_electrons)
    assert held_out.split == "validation"


def test_sky_noise_and_units_follow_the_profile():
    e = simulate_exposure((200, 200), seed=8, profile="ground_thin", sky_electrons=1000.0,
                          fwhm=3.0, bias=500.0, cr_rate=0.0)
    sky_adu = np.median(e.clean_adu) - e.bias
    assert sky_adu * e.gain == pytest.approx(1000.0, rel=0.03)
    background = e.clean_adu[~e.star_core_mask & ~e.defect_mask] - e.bias
    mad_sigma = 1.4826 * np.median(np.abs(background - np.median(background)))
    assert mad_sigma * e.gain == pytest.approx(np.sqrt(1000 + e.readnoise**2), rel=0.1)
    assert (e.sky_electrons, e.fwhm) == (1000.0, 3.0)


def test_star_cores_are_bright():
    e = simulate_exposure((256, 256), seed=2, profile="ground_thin", cr_rate=0.0)
    labels, n_cores = ndimage.label(e.star_core_mask)
    assert n_cores > 5
    sky_sigma_adu = np.sqrt(e.sky_electrons + e.readnoise**2) / e.gain
    peaks = ndimage.maximum(e.clean_adu, labels, np.arange(1, n_cores + 1))
    assert np.all(peaks > np.median(e.clean_adu) + 4 * sky_sigma_adu)


def test_saturated_stars_bleed_along_columns():
    profile = dataclasses.replace(PROFILES["ground_thin"], bright_stars_per_mpix=200.0,
                                  hot_fraction=0.0)
    e = simulate_exposure((256, 256), seed=4, profile=profile, cr_rate=0.0)
    assert e.saturated_mask.any()
    rows, cols = np.nonzero(e.saturated_mask)
    # Bleed trails: saturated runs are taller than they are wide.
    assert np.ptp(rows) >= np.ptp(cols) or e.saturated_mask.sum(axis=0).max() > 3
    np.testing.assert_allclose(e.clean_adu[e.saturated_mask] * e.gain,
                               profile.full_well, rtol=0.01, atol=5 * e.readnoise)
    # The tapered ends: below the full well, each in a column next to a saturated run.
    assert e.bled_mask.any() and not (e.bled_mask & e.saturated_mask).any()
    assert np.all(e.clean_adu[e.bled_mask] * e.gain < profile.full_well + 5 * e.readnoise)
    next_to_run = np.roll(e.saturated_mask, 1, axis=0) | np.roll(e.saturated_mask, -1, axis=0)
    assert np.all(next_to_run[e.bled_mask])


@pytest.mark.parametrize("kwargs, message", [
    (dict(profile="kepler"), "profile must be one of"),
    (dict(shape=(4, 100)), "shape must be two ints >= 8"),
    (dict(seed=-1), "seed must be a non-negative int"),
    (dict(split="all"), "split must be 'train' or 'validation'"),
    (dict(cr_rate=-1.0), "cr_rate must be a non-negative number"),
    (dict(fwhm=0.1), "fwhm must be >= 0.5 px"),
])
def test_bad_arguments_are_rejected_before_work(kwargs, message):
    arguments = dict(shape=(32, 32), seed=0)
    arguments.update(kwargs)
    shape = arguments.pop("shape")
    with pytest.raises(ValueError, match=message):
        simulate_exposure(shape, **arguments)
