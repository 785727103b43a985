"""Mask networks told the PSF's coma and trefoil (issue 28): the measure, its training data and its run time."""

import dataclasses

import numpy as np
import pytest
import torch

from crclean.engine import NetworkMasker
from crclean.engine._psf_shape import PSFShape, adaptive_moments, measure_psf_shape, network_inputs, third_moments
from crclean.models._unet import UNet
from crclean.training import PROFILES, simulate_exposure
from crclean.training.mask._data import SamplePool, build_pool, turned_psf_inputs
from crclean.training.simulate import exposure_psf_shape
from crclean.weights import get_model


def _blob(size, sigma, axis_ratio=1.0, angle=0.0, shift=(0.0, 0.0)):
    yy, xx = np.indices((size, size), dtype=float) - size // 2
    xx, yy = xx - shift[0], yy - shift[1]
    major, minor = xx * np.cos(angle) + yy * np.sin(angle), -xx * np.sin(angle) + yy * np.cos(angle)
    return np.exp(-0.5 * (major**2 + minor**2 / axis_ratio**2) / sigma**2)


def _skew(stamp):
    return np.array(third_moments(stamp, adaptive_moments(stamp)))


def _lumpy_star(size=41):
    # A star with a fainter lump up and to the right of its core: neither point- nor mirror-symmetric.
    return (_blob(size, 2.0) + 0.35 * _blob(size, 2.0, shift=(2.5, 1.2))).astype(np.float32)


def test_symmetric_stars_have_no_coma_or_trefoil_and_lumpy_ones_do():
    for stamp in (_blob(21, 1.0), _blob(21, 2.5, axis_ratio=0.5, angle=0.7)):
        np.testing.assert_allclose(_skew(stamp), 0.0, atol=1e-6)
    lumpy = _lumpy_star(21)
    skew = _skew(lumpy)
    assert np.abs(skew).max() > 0.02  # the adaptive weight damps a lump 2.8 px out; still 1000 x a Gaussian's
    assert skew[0] > 0.02  # coma points towards the lump (+x)
    np.testing.assert_allclose(_skew(40.0 * lumpy), skew, rtol=1e-6)  # brightness does not count
    # A lump on the other side turns the coma round.
    assert _skew(lumpy[:, ::-1])[0] == pytest.approx(-skew[0], rel=1e-6)


def test_the_psf_skew_turns_and_flips_with_each_crop():
    size = 41
    image = _lumpy_star(size)
    told = network_inputs(PSFShape(fwhm=5.0, axis_ratio=1.0, angle=0.0, n_stars=1, skew=tuple(_skew(image))),
                          with_skew=True)
    zeros = np.zeros((1, size, size), np.uint8)
    pool = SamplePool(inputs=image[None], target=zeros, weight=zeros, star_cores=zeros.astype(bool),
                      psf=np.array([told], np.float32))
    crops, _, _, psf = pool.batch(np.random.default_rng(3), 32, size)
    for crop, row in zip(crops, psf):
        np.testing.assert_allclose(10.0 * _skew(crop), row[2:], atol=1e-4)
    assert len({tuple(np.round(row, 3)) for row in psf}) == 8  # four turns, each flipped or not


def test_turning_keeps_the_size_columns_and_moves_the_spin_pairs():
    row = np.array([[0.3, 0.1, 0.5, 1.0, 0.2, -0.4, 0.7, 0.6]], np.float32)
    half_turn = turned_psf_inputs(row, [2], [False])[0]
    # Spin 2 and the size are unchanged by half a turn; spin 1 and spin 3 change sign.
    np.testing.assert_allclose(half_turn, [0.3, 0.1, 0.5, 1.0, -0.2, 0.4, -0.7, -0.6], atol=1e-6)
    np.testing.assert_allclose(turned_psf_inputs(row, [4], [False]), row, atol=1e-6)


def test_training_and_run_time_measure_the_same_lumpy_psf():
    lumps = ((-0.25, -0.1, 0.6, 0.7), (0.4, 0.15, 0.4, 0.6))
    for psf_lumps, lumpy in ((lumps, True), ((), False)):
        profile = dataclasses.replace(PROFILES["ground_thin"], stars_per_mpix=1500.0, psf_lumps=psf_lumps)
        frame = simulate_exposure((512, 512), seed=4, profile=profile, fwhm=3.0, cr_rate=0.0)
        trained, measured = exposure_psf_shape(frame), measure_psf_shape(frame.image_adu)
        assert measured is not None and measured.n_stars >= 20
        if lumpy:
            assert np.abs(trained.skew).max() > 0.03
            np.testing.assert_allclose(measured.skew, trained.skew, atol=0.01)
        else:
            np.testing.assert_allclose(trained.skew, 0.0, atol=0.01)
            np.testing.assert_allclose(measured.skew, 0.0, atol=0.01)


def test_what_a_network_is_told_of_the_psf_skew():
    shape = PSFShape(fwhm=3.0, axis_ratio=1.0, angle=0.0, n_stars=20, skew=(0.01, -0.02, 0.03, 0.1))
    np.testing.assert_allclose(network_inputs(shape, with_skew=True), (0, 0, 0.1, -0.2, 0.3, 1.0), atol=1e-12)
    np.testing.assert_allclose(network_inputs(shape, with_size=True, with_skew=True),
                               (0, 0, 0, 1, 0.1, -0.2, 0.3, 1.0), atol=1e-12)
    assert network_inputs(None, with_skew=True) == (0.0,) * 6
    # Stars a pixel wide (or cosmic rays taken for them) say nothing of the PSF's lumps; wild values are capped.
    sharp = dataclasses.replace(shape, fwhm=1.2, skew=(0.3, 0.3, 0.3, 0.3))
    np.testing.assert_allclose(network_inputs(sharp, with_skew=True)[2:], 0.0)
    wild = dataclasses.replace(shape, skew=(0.9, -0.7, 0.2, 0.0))
    np.testing.assert_allclose(network_inputs(wild, with_skew=True)[2:], (5.0, -5.0, 2.0, 0.0), atol=1e-12)


def test_pools_keep_the_psf_skew_of_lumpy_exposures():
    kwargs = dict(size=64, profiles=["wide_ground"], seed=49000000, extras=("lumpy_psfs",), psf=True)
    pool, plain = build_pool(12, psf_skew=True, **kwargs), build_pool(12, **kwargs)
    assert pool.psf.shape == (12, 6) and plain.psf.shape == (12, 2)
    np.testing.assert_array_equal(pool.inputs, plain.inputs)
    np.testing.assert_array_equal(pool.psf[:, :2], plain.psf)
    lumpy = np.abs(pool.psf[:, 2:]).max(axis=1) > 0.3
    assert 0 < lumpy.sum() < 12  # some exposures' stars are lumpy, the rest symmetric
    # Undersampled symmetric PSFs look a little lopsided at some pixel phases.
    assert np.abs(pool.psf[~lumpy, 2:]).max() < 0.2


def test_the_masker_tells_a_network_the_psf_skew():
    profile = dataclasses.replace(PROFILES["ground_thin"], stars_per_mpix=1500.0,
                                  psf_lumps=((-0.25, -0.1, 0.6, 0.7), (0.4, 0.15, 0.4, 0.6)))
    frame = simulate_exposure((512, 512), seed=4, profile=profile, fwhm=3.0, cr_rate=0.0)
    config = {"channels": [8, 16], "norm": "batch", "psf_inputs": True, "psf_skew": True}
    spec = dataclasses.replace(get_model("crclean-ccd"), config=config)
    masker = NetworkMasker(UNet(**config), spec, device=torch.device("cpu"), batch_size=4)
    masker.predict(frame.image_adu)
    told = masker.network.psf_shape.tolist()
    assert len(told) == 6
    np.testing.assert_allclose(told[2:], 10.0 * np.array(exposure_psf_shape(frame).skew), atol=0.1)
    assert np.abs(told[2:]).max() > 0.3
    masker.predict(np.random.default_rng(0).normal(100.0, 5.0, (256, 256)).astype(np.float32))
    assert masker.network.psf_shape.tolist() == [0.0] * 6  # no stars: told a round, symmetric PSF
