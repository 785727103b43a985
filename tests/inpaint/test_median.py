import numpy as np
import pytest

from crclean.inpaint import inpaint, masked_median


def test_fill_never_uses_flagged_or_non_finite_pixels():
    rng = np.random.default_rng(0)
    image = rng.normal(100.0, 1.0, (64, 64))
    mask = np.zeros(image.shape, bool)
    mask[30, 20:40] = True
    image[mask] = 1e6
    image[29, 25] = np.nan
    image[31, 26] = np.inf
    out = masked_median(image, mask)
    assert np.abs(out[mask] - 100.0).max() < 3.0
    assert np.isnan(out[29, 25]) and np.isinf(out[31, 26])  # unflagged pixels untouched


def test_large_hole_grows_window_until_filled():
    image = np.full((200, 200), 7.0)
    mask = np.zeros(image.shape, bool)
    mask[50:150, 50:150] = True
    image[mask] = -1e9
    out = masked_median(image, mask)
    np.testing.assert_array_equal(out[mask], 7.0)


def test_input_is_not_modified_and_unmasked_pixels_unchanged():
    rng = np.random.default_rng(1)
    image = rng.normal(size=(40, 50)).astype(np.float32)
    mask = rng.random(image.shape) < 0.05
    before = image.copy()
    out = masked_median(image, mask)
    np.testing.assert_array_equal(image, before)
    np.testing.assert_array_equal(out[~mask], image[~mask])
    assert out.dtype == np.float32


def test_all_pixels_flagged_falls_back_to_zero_without_warnings():
    out = masked_median(np.ones((20, 20)), np.ones((20, 20), bool))
    assert np.all(out == 0.0)


def test_unknown_method_is_named():
    with pytest.raises(ValueError, match="unknown inpainting method 'blur'; choose one of: median"):
        inpaint("blur", np.zeros((4, 4)), np.zeros((4, 4), bool))
