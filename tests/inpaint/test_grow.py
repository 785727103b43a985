import re

import numpy as np
import pytest

from crclean.inpaint import INPAINTERS, inpaint, masked_median
from crclean.inpaint._grow import grow_fill


def _noisy(shape, seed, level=100.0, sigma=1.0, dtype=np.float64):
    return np.random.default_rng(seed).normal(level, sigma, shape).astype(dtype)


def test_registered_as_grow():
    assert INPAINTERS["grow"] == ("crclean.inpaint._grow", "grow_fill")
    image, mask = _noisy((30, 30), 0), np.zeros((30, 30), bool)
    mask[10, 5:20] = True
    np.testing.assert_array_equal(inpaint("grow", image, mask), grow_fill(image, mask))


@pytest.mark.parametrize("statistic", ["median", "mean"])
def test_fill_never_uses_flagged_or_non_finite_pixels(statistic):
    image = _noisy((64, 64), 1)
    mask = np.zeros(image.shape, bool)
    mask[30, 10:50] = True
    mask[40:44, 40:44] = True
    image[mask] = 1e30
    image[29, 25] = np.nan
    image[31, 26] = np.inf
    image[41, 39] = -np.inf
    out = grow_fill(image, mask, statistic=statistic)
    assert np.all(np.isfinite(out[mask]))
    assert np.abs(out[mask] - 100.0).max() < 3.0
    assert np.isnan(out[29, 25]) and out[31, 26] == np.inf and out[41, 39] == -np.inf


def test_long_track_and_large_hole_filled_completely():
    image = np.full((300, 300), 7.0)
    mask = np.zeros(image.shape, bool)
    mask[20, 5:295] = True                 # a long, thin track
    mask[np.arange(40, 140), np.arange(40, 140)] = True  # a diagonal one
    mask[150:280, 100:260] = True          # a hole far wider than the box
    image[mask] = -1e9
    out = grow_fill(image, mask)
    np.testing.assert_allclose(out[mask], 7.0)


def test_plane_inside_a_hole_is_closer_than_the_masked_median():
    yy, xx = np.mgrid[0:120, 0:140]
    plane = 50.0 + 0.4 * yy - 0.25 * xx
    mask = np.zeros(plane.shape, bool)
    mask[50:62, 30:110] = True  # 12 px wide, 80 px long
    image = plane.copy()
    image[mask] = 1e9
    grown = grow_fill(image, mask)
    median = masked_median(image, mask)
    error_grow = np.sqrt(np.mean((grown - plane)[mask] ** 2))
    error_median = np.sqrt(np.mean((median - plane)[mask] ** 2))
    assert error_grow < 0.9 * error_median
    assert error_grow < 0.3 * 4.8  # the plane drops 4.8 across the hole


def test_unmasked_pixels_and_input_unchanged_dtype_kept():
    image = _noisy((80, 70), 2, dtype=np.float32)
    image[3, 3] = np.nan
    mask = np.random.default_rng(3).random(image.shape) < 0.1
    mask[3, 3] = False
    before, mask_before = image.copy(), mask.copy()
    out = grow_fill(image, mask)
    assert out.dtype == np.float32 and out is not image
    np.testing.assert_array_equal(image, before)
    np.testing.assert_array_equal(mask, mask_before)
    np.testing.assert_array_equal(out[~mask], image[~mask])
    assert grow_fill(image.astype(np.float64), mask).dtype == np.float64
    assert grow_fill(np.ones((8, 8), np.int16), mask[:8, :8]).dtype == np.float32


def test_result_does_not_depend_on_pixel_order():
    image = _noisy((40, 40), 4)
    mask = np.zeros(image.shape, bool)
    mask[10:25, 12:20] = True
    out = grow_fill(image, mask)
    flipped = grow_fill(image[::-1, ::-1], mask[::-1, ::-1])[::-1, ::-1]
    np.testing.assert_allclose(out, flipped, rtol=0, atol=1e-12)


def test_smoothing_only_touches_filled_pixels_and_reduces_noise():
    image = _noisy((200, 200), 5, sigma=5.0)
    mask = np.zeros(image.shape, bool)
    mask[::6, :] = True
    mask[1::6, :] = True
    rough = grow_fill(image, mask, smooth=False)
    smooth = grow_fill(image, mask)
    np.testing.assert_array_equal(smooth[~mask], rough[~mask])
    assert np.std(smooth[mask]) < np.std(rough[mask])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_all_pixels_flagged_gives_zero_without_warnings(dtype):
    out = grow_fill(np.ones((20, 20), dtype), np.ones((20, 20), bool))
    assert out.dtype == dtype and np.all(out == 0.0)


def test_hole_walled_in_by_non_finite_pixels_gets_the_good_median():
    image = np.full((20, 20), 3.0)
    image[5:10, 5:10] = np.nan
    mask = np.zeros(image.shape, bool)
    mask[6:9, 6:9] = True
    out = grow_fill(image, mask)
    np.testing.assert_array_equal(out[mask], 3.0)
    assert np.isnan(out[5, 5])


def test_nothing_flagged_returns_a_copy():
    image = _noisy((10, 10), 6)
    out = grow_fill(image, np.zeros(image.shape, bool))
    np.testing.assert_array_equal(out, image)
    assert out is not image


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"size": 4}, "size must be an odd integer >= 3, got 4"),
    ({"size": 1}, "size must be an odd integer >= 3, got 1"),
    ({"statistic": "mode"}, "statistic must be one of ('median', 'mean'), got 'mode'"),
])
def test_bad_options_are_named(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        grow_fill(np.zeros((4, 4)), np.zeros((4, 4), bool), **kwargs)


def test_shape_mismatch_is_named():
    with pytest.raises(ValueError, match=r"image and mask must be 2-D of one shape, got \(4, 4\) and \(4, 5\)"):
        grow_fill(np.zeros((4, 4)), np.zeros((4, 5), bool))



def test_unusable_pixels_beside_a_hole_are_no_source_and_keep_their_values():
    image = np.full((20, 20), 100.0)
    mask = np.zeros(image.shape, bool)
    mask[9:11, 9:11] = True
    image[mask] = 5000.0
    image[9:11, 11] = 60000.0  # a saturated column beside the hit
    unusable = np.zeros(image.shape, bool)
    unusable[:, 11] = True
    unusable[9, 9] = True  # a flagged pixel is filled all the same
    filled = inpaint("grow", image, mask, unusable=unusable)
    np.testing.assert_allclose(filled[mask], 100.0)
    np.testing.assert_array_equal(filled[:, 11], image[:, 11])
    assert not np.shares_memory(filled, image) and image[9, 11] == 60000.0
