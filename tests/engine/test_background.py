import numpy as np
import pytest

from crclean.engine import background_mesh, noise_normalise
from crclean.tiling import Stitcher, pad_image, plan_tiles


def test_normalised_input_does_not_depend_on_gain_bias_or_units():
    rng = np.random.default_rng(0)
    electrons = rng.poisson(900.0, (300, 257)).astype(np.float32)
    electrons[100, 50:60] += 5000.0
    reference = noise_normalise(electrons)
    raw_adu = electrons / 3.7 + 1024.0  # another gain, plus a bias level
    np.testing.assert_allclose(noise_normalise(raw_adu), reference, atol=2e-4)


def test_sky_noise_maps_to_unit_scale_and_hits_stand_out():
    rng = np.random.default_rng(1)
    image = rng.normal(500.0, 10.0, (256, 256)).astype(np.float32)
    image[50, 50] += 500.0
    z = noise_normalise(image, k=1.0)
    sky = np.delete(z.ravel(), 50 * 256 + 50)
    assert abs(np.std(np.sinh(sky)) - 1.0) < 0.05
    assert z[50, 50] > np.arcsinh(40)


def test_background_follows_a_gradient():
    ramp = np.tile(np.linspace(0.0, 100.0, 512, dtype=np.float32), (128, 1))
    background, rms = background_mesh(ramp, box=64)
    assert np.abs(background - ramp)[:, 64:-64].max() < 1.0
    assert rms.min() > 0


@pytest.mark.parametrize("shape", [(16, 16), (20, 4096), (150, 200)])
def test_small_and_thin_images_and_constant_data(shape):
    assert noise_normalise(np.random.default_rng(2).normal(size=shape)).shape == shape
    assert np.all(noise_normalise(np.zeros(shape)) == 0)


def test_input_is_not_modified():
    image = np.random.default_rng(3).normal(size=(64, 64)).astype(np.float32)
    before = image.copy()
    noise_normalise(image)
    np.testing.assert_array_equal(image, before)
