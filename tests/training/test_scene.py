"""Scene rendering and detector defects."""

import numpy as np
import pytest

from crclean.training._defects import add_hot_pixels, bad_columns, bleed_saturation
from crclean.training._scene import (
    moffat_profile,
    psf_kernel,
    render_galaxies,
    render_stars,
    space_profile,
)


def test_star_keeps_its_flux_and_subpixel_centroid():
    image = render_stars((41, 41), [20.3], [19.8], [5e4], moffat_profile(3.0),
                         fwhm=3.0, oversample=3)
    assert image.sum() == pytest.approx(5e4, rel=1e-6)
    yy, xx = np.mgrid[0:41, 0:41]
    assert (image * xx).sum() / image.sum() == pytest.approx(20.3, abs=0.02)
    assert (image * yy).sum() / image.sum() == pytest.approx(19.8, abs=0.02)


def test_space_psf_is_sharper_than_ground_psf_and_has_wings():
    kwargs = dict(oversample=6)
    space = render_stars((31, 31), [15.0], [15.0], [1e5], space_profile(1.2), fwhm=1.2,
                         **kwargs) / 1e5
    ground = render_stars((31, 31), [15.0], [15.0], [1e5], moffat_profile(4.0), fwhm=4.0,
                          **kwargs) / 1e5
    assert space.max() > 3 * ground.max()
    # Undersampled core: well over a third of the flux in one pixel...
    assert space.max() > 0.35
    # ...but the halo keeps flux far out.
    assert space[15, 15 + 6] > 1e-5


def test_galaxy_keeps_its_flux():
    params = np.array([[30.0, 30.0, 1e4, 3.0, 1.5, 0.4, 0.7]])
    image = render_galaxies((61, 61), params, psf_kernel(moffat_profile(3.0), 6, 2),
                            oversample=2)
    assert image.sum() == pytest.approx(1e4, rel=1e-6)
    assert image.min() >= 0


def test_bleeding_conserves_charge_caps_pixels_and_runs_along_the_column():
    image = np.full((50, 7), 100.0)
    image[25, 3] = 1e6
    bled, saturated = bleed_saturation(image, 1e5)
    assert image[25, 3] == 1e6  # input untouched
    assert bled.sum() == pytest.approx(image.sum())
    assert bled.max() == 1e5
    # 9e5 e- of excess fill four pixels above and four below, plus a partial one each.
    assert saturated[:, 3].sum() == 9 and saturated.sum() == 9
    rows = np.flatnonzero(saturated[:, 3])
    assert np.all(np.diff(rows) == 1) and rows.min() < 25 < rows.max()
    np.testing.assert_array_equal(bled[:, [0, 1, 2, 4, 5, 6]], image[:, [0, 1, 2, 4, 5, 6]])


def test_hot_pixels_and_bad_columns_are_reported_in_their_masks():
    rng = np.random.default_rng(0)
    charge, hot = add_hot_pixels((200, 200), rng=rng, fraction=1e-3, exptime=100.0)
    assert 20 <= hot.sum() <= 70
    assert np.all(charge[hot] >= 20) and np.all(charge[~hot] == 0)
    scale, offset, mask = bad_columns((100, 80), rng=rng, n_columns=3)
    damaged = (scale != 1) | (offset != 0)
    np.testing.assert_array_equal(damaged, mask)
    assert 1 <= len(np.unique(np.nonzero(mask)[1])) <= 3
