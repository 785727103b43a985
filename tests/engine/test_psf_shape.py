"""The PSF's shape, measured on an image's stars (crclean.engine._psf_shape)."""

import dataclasses

import numpy as np
import pytest

from crclean.engine._psf_shape import measure_psf_shape
from crclean.training import PROFILES, simulate_exposure


def _frame(axis_ratio, angle, fwhm, *, seed=3, cr_rate=None, stars=1500.0):
    profile = dataclasses.replace(PROFILES["ground_thin"], psf_axis_ratio=axis_ratio, psf_angle=angle,
                                  stars_per_mpix=stars)
    return simulate_exposure((512, 512), seed=seed, profile=profile, fwhm=fwhm, cr_rate=cr_rate)


@pytest.mark.parametrize("axis_ratio, angle, fwhm", [(1.0, 0.0, 3.0), (0.55, 1.0, 3.0), (0.7, 2.5, 5.0)])
def test_the_shape_of_the_frames_stars_is_found(axis_ratio, angle, fwhm):
    shape = measure_psf_shape(_frame(axis_ratio, angle, fwhm).image_adu)
    assert shape is not None and shape.n_stars >= 10
    assert shape.axis_ratio == pytest.approx(axis_ratio, abs=0.05)
    if axis_ratio < 0.9:
        assert shape.angle == pytest.approx(angle, abs=0.1)
    # The matched Gaussian of a Moffat (beta 3) star is a little wider than its FWHM, pixel included.
    assert fwhm < shape.fwhm < 1.3 * fwhm


def test_cosmic_rays_do_not_change_the_shape():
    quiet, busy = _frame(0.6, 0.4, 3.5, cr_rate=0.0), _frame(0.6, 0.4, 3.5, cr_rate=3.0)
    assert busy.cr_mask.sum() > 10 * max(quiet.cr_mask.sum(), 1)
    calm, hit = measure_psf_shape(quiet.image_adu), measure_psf_shape(busy.image_adu)
    assert hit.axis_ratio == pytest.approx(calm.axis_ratio, abs=0.04)
    assert hit.angle == pytest.approx(calm.angle, abs=0.08)
    assert hit.fwhm == pytest.approx(calm.fwhm, rel=0.05)


def test_saturated_stars_are_left_out():
    rng = np.random.default_rng(1)
    image = rng.normal(100.0, 5.0, (200, 200))
    yy, xx = np.mgrid[0:200, 0:200]
    for y, x in [(40, 40), (40, 120), (120, 40), (120, 120), (160, 80), (80, 160)]:
        image += 5000.0 * np.exp(-0.5 * ((xx - x) ** 2 / 1.5**2 + (yy - y) ** 2 / 3.0**2))
    alone = measure_psf_shape(image)
    # A much brighter star clipped flat at the ADC limit: its flat top is not a PSF.
    image += 1e6 * np.exp(-0.5 * ((xx - 80) ** 2 + (yy - 80) ** 2) / 4.0**2)
    clipped = measure_psf_shape(np.minimum(image, 65535.0))
    # Without saturation the frame's brightest star is the top level and is passed over too.
    assert alone.n_stars == 5 and clipped.n_stars == 6
    assert clipped.fwhm == pytest.approx(alone.fwhm, rel=0.01)
    assert clipped.axis_ratio == pytest.approx(0.5, abs=0.03) and clipped.angle == pytest.approx(np.pi / 2, abs=0.05)


def test_without_enough_stars_the_shape_is_unknown():
    assert measure_psf_shape(_frame(1.0, 0.0, 3.0, stars=0.0).image_adu, min_stars=5) is None
    assert measure_psf_shape(np.zeros((16, 16), np.float32)) is None


def test_hot_pixels_and_saturated_stars_do_not_pass_for_stars():
    # Hundreds of hot pixels brighter than most stars, and saturated stars with bleed trails along columns.
    profile = dataclasses.replace(PROFILES["ground_thin"], psf_axis_ratio=0.7, psf_angle=0.3, stars_per_mpix=300.0,
                                  hot_fraction=2e-3, bright_stars_per_mpix=20.0)
    frame = simulate_exposure((1024, 1024), seed=1, profile=profile, fwhm=3.0)
    assert frame.hot_pixel_mask.sum() > 1000 and frame.saturated_mask.sum() > 100
    shape = measure_psf_shape(frame.image_adu)
    assert shape.axis_ratio == pytest.approx(0.7, abs=0.05) and shape.angle == pytest.approx(0.3, abs=0.1)
    assert 3.0 < shape.fwhm < 3.9


def test_things_more_elongated_than_any_psf_are_not_taken_for_stars():
    rng = np.random.default_rng(4)
    image = rng.normal(100.0, 5.0, (400, 400))
    yy, xx = np.mgrid[0:400, 0:400]
    for y, x in [(50, 50), (50, 350), (200, 60), (350, 50), (350, 350), (200, 340)]:
        image += 3000.0 * np.exp(-0.5 * ((xx - x) ** 2 + (yy - y) ** 2) / 1.7**2)
    # More short, smooth bars along columns than stars (a bleed's end, a hot column's stretch, a track).
    for y in range(40, 380, 34):
        for x in (120, 160, 200, 240, 280):
            image += 2000.0 * np.exp(-0.5 * ((xx - x) ** 2 / 0.8**2 + (yy - y) ** 2 / 4.0**2))
    shape = measure_psf_shape(image)
    assert shape.axis_ratio > 0.9 and 3.5 < shape.fwhm < 4.5  # the stars' (sigma 1.7 px), not the bars'


def test_stars_that_disagree_on_their_shape_give_a_round_psf():
    # Eight stars stretched 0.6:1, each its own way: no shape is the frame's, though their median is stretched.
    angles = np.random.default_rng(0).uniform(0.0, np.pi, 8)
    median = np.median(0.47 * np.array([np.cos(2 * angles), np.sin(2 * angles)]), axis=1)
    assert np.hypot(*median) > 0.2
    rng = np.random.default_rng(6)
    image = rng.normal(100.0, 5.0, (400, 400))
    yy, xx = np.mgrid[0:400, 0:400]
    for (y, x), angle in zip([(50, 50), (50, 200), (50, 350), (200, 50), (200, 200), (200, 350), (350, 50),
                              (350, 350)], angles):
        along = (xx - x) * np.cos(angle) + (yy - y) * np.sin(angle)
        across = (yy - y) * np.cos(angle) - (xx - x) * np.sin(angle)
        image += 3000.0 * np.exp(-0.5 * (along**2 / 2.5**2 + across**2 / 1.5**2))
    shape = measure_psf_shape(image)
    assert shape.n_stars >= 5 and shape.axis_ratio > 0.97
