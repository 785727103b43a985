"""Mask networks told the frame's PSF shape (issue 28): the network, its training data and its run time."""

import dataclasses

import numpy as np
import pytest
import torch

from crclean.engine import NetworkMasker
from crclean.engine._psf_shape import adaptive_moments, ellipticity
from crclean.models._unet import UNet
from crclean.training import PROFILES, simulate_exposure
from crclean.training.mask._data import SamplePool, build_pool
from crclean.training.mask._loop import _load_init, load_config
from crclean.weights import get_model


def test_a_network_told_the_psf_starts_where_the_one_before_it_was(tmp_path):
    torch.manual_seed(0)
    before = UNet(channels=[8, 16], norm="batch").eval()
    torch.save(before.state_dict(), tmp_path / "before.pt")
    told = UNet(channels=[8, 16], norm="batch", psf_inputs=True)
    _load_init(told, tmp_path / "before.pt")
    told.eval()
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        np.testing.assert_allclose(told(x, psf_shape=torch.tensor([[0.4, -0.2], [0.0, 0.3]])), before(x),
                                   atol=1e-6)
        told.encoders[0][0].weight[:, 1:] = 0.1  # once trained, the shape changes the answer
        assert not torch.allclose(told(x, psf_shape=torch.tensor([[0.4, -0.2]] * 2)), told(x))
    assert "psf_shape" not in told.state_dict()  # it belongs to an image, not to the weights


def _blob(size, axis_ratio, angle):
    yy, xx = np.indices((size, size), dtype=float) - size // 2
    major, minor = xx * np.cos(angle) + yy * np.sin(angle), -xx * np.sin(angle) + yy * np.cos(angle)
    return np.exp(-0.5 * (major**2 / 9.0 + minor**2 / (9.0 * axis_ratio**2)))


def test_the_psf_shape_turns_and_flips_with_each_crop():
    size = 41
    image = _blob(size, 0.5, 0.6).astype(np.float32)
    shape = np.array(ellipticity(*adaptive_moments(image)), np.float32)
    zeros = np.zeros((1, size, size), np.uint8)
    pool = SamplePool(inputs=image[None], target=zeros, weight=zeros, star_cores=zeros.astype(bool), psf=shape[None])
    inputs, _, _, psf = pool.batch(np.random.default_rng(3), 32, size)
    for crop, told in zip(inputs, psf):
        np.testing.assert_allclose(ellipticity(*adaptive_moments(crop)), told, atol=1e-4)
    assert len({tuple(np.round(told, 3)) for told in psf}) == 4  # turns and flips give four shapes


def test_pools_keep_each_exposures_psf_shape():
    pool = build_pool(3, size=64, profiles=["wide_ground"], seed=5, extras=("elongated_psfs",), psf=True)
    plain = build_pool(3, size=64, profiles=["wide_ground"], seed=5, extras=("elongated_psfs",))
    assert pool.psf.shape == (3, 2) and plain.psf is None
    np.testing.assert_array_equal(pool.inputs, plain.inputs)
    assert np.abs(pool.psf).max() > 0.05  # seed 5 draws at least one elongated PSF


def test_the_masker_tells_the_network_the_images_psf():
    profile = dataclasses.replace(PROFILES["ground_thin"], psf_axis_ratio=0.55, psf_angle=1.0, stars_per_mpix=1500.0)
    frame = simulate_exposure((512, 512), seed=3, profile=profile, fwhm=3.0, cr_rate=0.0)
    spec = dataclasses.replace(get_model("crclean-ccd"), config={"channels": [8, 16], "norm": "batch",
                                                                 "psf_inputs": True})
    network = UNet(channels=[8, 16], norm="batch", psf_inputs=True)
    masker = NetworkMasker(network, spec, device=torch.device("cpu"), batch_size=4)
    masker.predict(frame.image_adu)
    e1, e2 = masker.network.psf_shape.tolist()
    q2 = 0.55**2
    e = (1 - q2) / (1 + q2)
    assert np.hypot(e1, e2) == pytest.approx(e, abs=0.06)
    assert 0.5 * np.arctan2(e2, e1) == pytest.approx(1.0, abs=0.1)
    masker.predict(np.random.default_rng(0).normal(100.0, 5.0, (256, 256)).astype(np.float32))
    assert masker.network.psf_shape.tolist() == [0.0, 0.0]  # no stars: told a round PSF


@pytest.mark.parametrize("more, told", [("psf_size", [0.5, 1.0]), ("psf_skew", [-0.3, 0.8, 0.2, -1.1])])
def test_a_network_told_more_of_the_psf_starts_where_the_one_told_its_shape_was(tmp_path, more, told):
    torch.manual_seed(1)
    shape_only = UNet(channels=[8, 16], norm="batch", psf_inputs=True).eval()
    torch.save(shape_only.state_dict(), tmp_path / "shape.pt")
    wider = UNet(channels=[8, 16], norm="batch", psf_inputs=True, **{more: True})
    assert wider.psf_planes == 2 + len(told) and wider.encoders[0][0].weight.shape[1] == 3 + len(told)
    _load_init(wider, tmp_path / "shape.pt")
    wider.eval()
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        np.testing.assert_allclose(wider(x, psf_shape=torch.tensor([[0.4, -0.2, *told]] * 2)),
                                   shape_only(x, psf_shape=torch.tensor([[0.4, -0.2]] * 2)), atol=1e-6)
    with pytest.raises(ValueError, match=f"{more} needs psf_inputs"):
        UNet(channels=[8, 16], **{more: True})
    with pytest.raises(ValueError, match=rf"\[model\] {more} needs psf_inputs"):
        load_config({"name": "x", "arch": "unet", "model": {more: True}})


def test_what_a_network_is_told_of_the_psf():
    from crclean.engine._psf_shape import PSFShape, network_inputs

    shape = PSFShape(fwhm=6.0, axis_ratio=0.6, angle=0.0, n_stars=20)
    e = (1 - 0.36) / (1 + 0.36)
    np.testing.assert_allclose(network_inputs(shape), (e, 0.0), atol=1e-12)
    np.testing.assert_allclose(network_inputs(shape, with_size=True), (e, 0.0, np.log(2.0), 1.0), atol=1e-12)
    assert network_inputs(None) == (0.0, 0.0) and network_inputs(None, with_size=True) == (0.0,) * 4


def test_pools_keep_the_psf_size_and_some_crops_are_told_nothing():
    pool = build_pool(4, size=64, profiles=["wide_ground"], seed=5, extras=("elongated_psfs",), psf=True,
                      psf_size=True)
    assert pool.psf.shape == (4, 4) and np.all(pool.psf[:, 3] == 1.0)
    assert len(set(np.round(pool.psf[:, 2], 4))) > 1  # exposures of different FWHM
    _, _, _, told = pool.batch(np.random.default_rng(0), 400, 32)
    unknown = np.all(told == 0.0, axis=1)
    assert 0.1 < unknown.mean() < 0.3
    # The size of every other crop is its exposure's, whichever way the crop was turned.
    assert np.all(told[~unknown, 3] == 1.0)
    assert set(np.round(told[~unknown, 2], 4)) <= set(np.round(pool.psf[:, 2], 4))


def test_the_masker_tells_a_network_the_psf_size():
    frame = simulate_exposure((512, 512), seed=3, profile=dataclasses.replace(
        PROFILES["ground_thin"], stars_per_mpix=1500.0), fwhm=4.0, cr_rate=0.0)
    spec = dataclasses.replace(get_model("crclean-ccd"), config={"channels": [8, 16], "norm": "batch",
                                                                 "psf_inputs": True, "psf_size": True})
    network = UNet(channels=[8, 16], norm="batch", psf_inputs=True, psf_size=True)
    masker = NetworkMasker(network, spec, device=torch.device("cpu"), batch_size=4)
    masker.predict(frame.image_adu)
    e1, e2, size, known = masker.network.psf_shape.tolist()
    assert known == 1.0 and 4.0 < 3.0 * np.exp(size) < 5.2  # the FWHM, pixels included
    masker.predict(np.random.default_rng(0).normal(100.0, 5.0, (256, 256)).astype(np.float32))
    assert masker.network.psf_shape.tolist() == [0.0] * 4
