import numpy as np

from crclean.inpaint import INPAINTERS, inpaint
from crclean.inpaint._harmonic import harmonic_fill


def test_registered_as_harmonic():
    assert INPAINTERS["harmonic"] == ("crclean.inpaint._harmonic", "harmonic_fill")
    image = np.arange(100.0).reshape(10, 10)
    mask = np.zeros(image.shape, bool)
    mask[4:6, 2:8] = True
    np.testing.assert_array_equal(inpaint("harmonic", image, mask), harmonic_fill(image, mask))


def test_plane_is_reproduced_exactly_in_a_large_hole():
    yy, xx = np.mgrid[0:120, 0:140]
    plane = 50.0 + 0.4 * yy - 0.25 * xx
    mask = np.zeros(plane.shape, bool)
    mask[30:90, 40:110] = True
    image = plane.copy()
    image[mask] = 1e30
    np.testing.assert_allclose(harmonic_fill(image, mask)[mask], plane[mask], atol=1e-4)


def test_never_uses_flagged_or_non_finite_pixels():
    rng = np.random.default_rng(0)
    image = rng.normal(100.0, 1.0, (64, 64))
    mask = np.zeros(image.shape, bool)
    mask[30, 5:60] = True
    image[mask] = 1e30
    image[29, 25] = np.nan
    image[31, 26] = -np.inf
    out = harmonic_fill(image, mask)
    assert np.abs(out[mask] - 100.0).max() < 3.0
    assert np.isnan(out[29, 25]) and out[31, 26] == -np.inf


def test_unmasked_pixels_and_input_unchanged_dtype_kept():
    rng = np.random.default_rng(1)
    image = rng.normal(size=(50, 40)).astype(np.float32)
    mask = rng.random(image.shape) < 0.2
    before = image.copy()
    out = harmonic_fill(image, mask)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(image, before)
    np.testing.assert_array_equal(out[~mask], image[~mask])


def test_isolated_and_all_masked_regions_without_warnings():
    image = np.full((20, 20), 3.0)
    image[5:10, 5:10] = np.nan
    mask = np.zeros(image.shape, bool)
    mask[6:9, 6:9] = True  # walled in by NaN: no good pixel reaches it
    np.testing.assert_allclose(harmonic_fill(image, mask)[mask], 3.0)
    out = harmonic_fill(np.ones((6, 6)), np.ones((6, 6), bool))
    np.testing.assert_allclose(out, 0.0, atol=1e-12)
