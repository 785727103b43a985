"""Masks grown into the faint pixels of the hits they found (`--grow-threshold`, hysteresis)."""

import numpy as np
import pytest

from crclean import Cleaner
from crclean.engine._hysteresis import grow_into
from crclean.training import PROFILES, simulate_exposure


def test_growth_follows_connected_faint_pixels_and_leaves_lone_ones():
    probability = np.zeros((12, 12), np.float32)
    probability[2, 2] = 0.9  # a flagged core
    probability[2, 3:6] = 0.3  # its faint wing, along a row
    probability[3, 6] = 0.3  # touching the wing only at a corner
    probability[9, 9] = 0.4  # doubtful, alone
    probability[5, 2] = np.nan  # no data
    mask = probability > 0.5
    before = mask.copy()
    grown = grow_into(mask, probability, 0.2)
    expected = np.zeros_like(mask)
    expected[2, 2:6] = expected[3, 6] = True
    np.testing.assert_array_equal(grown, expected)
    np.testing.assert_array_equal(mask, before)  # the caller's mask is left alone
    assert not grow_into(np.zeros_like(mask), probability, 0.2).any()  # nothing flagged, nothing grown


def _thick_exposure():
    return simulate_exposure((256, 256), seed=3, profile=PROFILES["ground_thick"], fwhm=3.0, cr_rate=10.0)


def test_a_grown_mask_holds_more_of_the_faint_wings_and_only_pixels_touching_the_flags():
    exposure = _thick_exposure()
    cleaner = Cleaner("crclean-ccd", inpaint=None, device="cpu", precision="float32")
    grown_cleaner = Cleaner("crclean-ccd", inpaint=None, device="cpu", precision="float32", grow_threshold=0.1)
    plain = cleaner.clean_array(exposure.image_adu, units="adu")
    grown = grown_cleaner.clean_array(exposure.image_adu, units="adu")
    np.testing.assert_array_equal(grown.probability, plain.probability)
    assert (grown.mask >= plain.mask).all() and grown.mask.sum() > plain.mask.sum()
    np.testing.assert_array_equal(grown.mask, grow_into(plain.mask, plain.probability, 0.1))
    # The wings: pixels whose cosmic-ray charge is 2-3 sigma of the local noise.
    ratio = exposure.cr_electrons / np.asarray(exposure.noise_sigma_electrons)
    wings = (ratio >= 2) & (ratio < 3) & ~exposure.defect_mask
    assert wings.sum() > 200
    assert grown.mask[wings].mean() > plain.mask[wings].mean() + 0.04  # measured: 0.72 -> 0.80


@pytest.mark.parametrize("grow_threshold", [0.5, 0.8, 0.0, -0.1, True, "0.1"])
def test_a_grow_threshold_must_lie_between_zero_and_the_threshold(grow_threshold):
    with pytest.raises(ValueError, match="grow_threshold must be between 0 and the threshold"):
        Cleaner("crclean-ccd", grow_threshold=grow_threshold)
    with pytest.raises(ValueError, match="grow_threshold"):
        Cleaner(grow_threshold=grow_threshold)  # auto checks it against each model it may choose
