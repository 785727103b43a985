"""Masks grown into the faint pixels of the hits they found (`--grow-threshold`, hysteresis)."""

import numpy as np
import pytest

from crclean import Cleaner
from crclean.engine import background_mesh
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


def _hit_beside_a_star_and_a_bleed():
    """A flagged hit whose faint wing runs into a star's core on one side and up a saturated bleed on the other."""
    y, x = np.mgrid[:48, :48]
    image = 100.0 + np.random.default_rng(5).normal(0.0, 5.0, (48, 48))
    image += 3000.0 * np.exp(-((y - 24) ** 2 + (x - 30) ** 2) / (2 * 1.3 ** 2))  # FWHM 3 px
    image[4:21, 20] = 60000.0  # a bleed trail, 1 px wide, saturated
    image[24, 20:23] += [400.0, 30.0, 15.0]  # the hit and its wing towards the star
    probability = np.zeros(image.shape, np.float32)
    probability[24, 20] = 0.9
    probability[24, 21:33] = 0.3  # the network's middling doubt over wing and star alike
    probability[4:24, 20] = 0.3
    return image, probability


def test_growth_stays_off_a_stars_light_and_saturated_pixels():
    image, probability = _hit_beside_a_star_and_a_bleed()
    mask = probability > 0.5
    blind = grow_into(mask, probability, 0.2)
    assert blind[24, 30] and blind[4, 20]  # without the image, the star's core and the bleed come in
    guarded = grow_into(mask, probability, 0.2, image=image, saturation=60000.0)
    assert guarded[24, 21:23].all() and guarded[21:24, 20].all()  # the wing, on sky, still grows
    assert not guarded[24, 27:33].any()  # the star's core does not
    assert not guarded[4:21, 20].any()  # nor the saturated bleed (too narrow for a median to see)
    assert grow_into(mask, probability, 0.2, image=image)[4, 20]  # with no saturation level it is not barred
    # The network's sky maps, when given, are the ones measured here; a sky far above these pixels bars nothing.
    sky = background_mesh(image)
    np.testing.assert_array_equal(grow_into(mask, probability, 0.2, image=image, saturation=60000.0, sky=sky),
                                  guarded)
    high = (sky[0] + 1e6, sky[1])
    assert grow_into(mask, probability, 0.2, image=image, sky=high)[24, 30]
    # No data is never a source of doubt: NaN pixels in the image leave the guard working.
    image[40:, :] = np.nan
    np.testing.assert_array_equal(grow_into(mask, probability, 0.2, image=image, saturation=60000.0), guarded)


def test_growth_on_sky_at_the_frame_corners_is_not_barred():
    """The guard's windows mirror the frame at its edges: a wing in a corner, on sky, grows as without it."""
    image = 100.0 + np.random.default_rng(6).normal(0.0, 5.0, (20, 30))
    probability = np.zeros(image.shape, np.float32)
    for y, x in ((0, 0), (19, 29)):
        image[y, x] += 500.0
        probability[y, x] = 0.9
    probability[0, 1:3] = probability[18, 28] = 0.3  # wings along the edge and inward
    mask = probability > 0.5
    guarded = grow_into(mask, probability, 0.2, image=image)
    np.testing.assert_array_equal(guarded, grow_into(mask, probability, 0.2))
    assert guarded[0, :3].all() and guarded[18, 28]


def test_a_cleaner_guards_growth_with_its_image_and_saturation_level(monkeypatch):
    image, probability = _hit_beside_a_star_and_a_bleed()

    class Doubtful:  # stands in for the network: the probabilities above, whatever the image
        def predict(self, data, **_):
            return probability.copy()

    cleaner = Cleaner("crclean-ccd", inpaint=None, device="cpu", grow_threshold=0.2)
    monkeypatch.setattr(cleaner, "_get_masker", lambda: Doubtful())
    result = cleaner.clean_array(image, units="adu", saturation=60000.0)
    expected = grow_into(probability > 0.5, probability, 0.2, image=image, saturation=60000.0)
    np.testing.assert_array_equal(result.mask, expected)
    assert not result.mask[4:21, 20].any() and not result.mask[24, 27:33].any()


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
    np.testing.assert_array_equal(grown.mask, grow_into(plain.mask, plain.probability, 0.1,
                                                        image=exposure.image_adu))
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
