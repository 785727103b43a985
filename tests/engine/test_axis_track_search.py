"""The search for long tracks along rows and columns that a mask network left (crclean.engine._axis_tracks)."""

import numpy as np
import pytest

from crclean.engine._axis_tracks import MIN_LENGTH, axis_track_pixels, find_axis_tracks
from crclean.training._cosmic_sim import render_charge

SKY, READNOISE = 1000.0, 6.0
SIGMA = np.sqrt(SKY + READNOISE**2)


def _track(shape, rng, start, length, degrees_from_columns, *, per_pixel=40 * SIGMA, even=False, diffusion=0.7):
    """Charge (e-) of a straight track from ``start`` (row, column); per pixel of length gamma-distributed about
    ``per_pixel`` (a spread of 70%, as a particle's energy loss straggles) or, with ``even``, constant."""
    angle = np.deg2rad(90.0 - degrees_from_columns)
    t = np.linspace(0, 1, 8 * length)
    x, y = start[1] + t * length * np.cos(angle), start[0] + t * length * np.sin(angle)
    charge = np.full(length + 1, per_pixel) if even else rng.gamma(2.0, per_pixel / 2.0, length + 1)
    return render_charge(shape, x, y, charge[(t * length).astype(int)] / 8, diffusion)


def _exposure(rng, shape, charge):
    return (rng.poisson(SKY + charge) + rng.normal(0, READNOISE, shape)).astype(np.float32)


def _recall(found, charge):
    bright = charge > 10 * SIGMA
    return (found & bright).sum() / bright.sum()


@pytest.mark.parametrize("diffusion", [0.5, 0.8, 1.1])
@pytest.mark.parametrize("degrees", [0.0, 1.0, 2.5])
def test_a_long_track_along_a_column_is_found_and_nothing_else(degrees, diffusion):
    # With no saturated star in the frame the track holds its highest pixels: that is no saturation level.
    rng = np.random.default_rng(1)
    shape = (300, 200)
    charge = _track(shape, rng, (60, 100), 150, degrees, diffusion=diffusion)
    found = axis_track_pixels(_exposure(rng, shape, charge), np.zeros(shape, bool))
    assert _recall(found, charge) > 0.95
    # Only the track and its wings: every added pixel lies within a few pixels of its charge.
    assert (found & ~_within(charge > 0.5 * SIGMA, 4)).sum() == 0


def _within(pixels, distance):
    """``pixels`` grown by ``distance`` (a box)."""
    padded = np.pad(pixels, distance)
    grown = np.zeros(pixels.shape, bool)
    for dy in range(2 * distance + 1):
        for dx in range(2 * distance + 1):
            grown |= padded[dy:dy + pixels.shape[0], dx:dx + pixels.shape[1]]
    return grown


def test_a_track_along_a_row_is_found():
    rng = np.random.default_rng(2)
    shape = (200, 300)
    charge = _track(shape, rng, (100, 50), 180, 90.0)
    found = axis_track_pixels(_exposure(rng, shape, charge), np.zeros(shape, bool))
    assert _recall(found, charge) > 0.95
    assert (found & ~_within(charge > 0.5 * SIGMA, 4)).sum() == 0


def test_noise_alone_adds_nothing():
    rng = np.random.default_rng(3)
    shape = (400, 400)
    assert not axis_track_pixels(_exposure(rng, shape, np.zeros(shape)), np.zeros(shape, bool)).any()


def test_tracks_shorter_than_the_least_length_are_left_to_the_network():
    rng = np.random.default_rng(4)
    shape = (200, 200)
    charge = _track(shape, rng, (80, 100), MIN_LENGTH - 6, 0.0)
    assert not axis_track_pixels(_exposure(rng, shape, charge), np.zeros(shape, bool)).any()


@pytest.mark.parametrize("rows", [slice(None), slice(120, None), slice(0, 121)], ids=["full", "to top", "to bottom"])
def test_column_defects_that_reach_an_edge_are_not_tracks(rows):
    # A hot or trapping pixel spoils its column from the defect to the readout edge; its level may vary.
    rng = np.random.default_rng(5)
    shape = (300, 200)
    image = _exposure(rng, shape, np.zeros(shape))
    image[rows, 90] += rng.gamma(2.0, 20 * SIGMA, 300)[rows]
    assert not axis_track_pixels(image, np.zeros(shape, bool)).any()


@pytest.mark.parametrize("level", [8.0, 30.0, 300.0])
def test_an_even_column_segment_inside_the_frame_is_not_a_track(level):
    rng = np.random.default_rng(6)
    shape = (300, 200)
    image = _exposure(rng, shape, np.zeros(shape))
    image[100:200, 90] += level * SIGMA
    assert not axis_track_pixels(image, np.zeros(shape, bool)).any()


def test_a_track_the_network_found_is_left_as_the_network_made_it():
    rng = np.random.default_rng(7)
    shape = (300, 200)
    charge = _track(shape, rng, (60, 100), 150, 0.0)
    mask = charge > 5 * SIGMA
    assert not axis_track_pixels(_exposure(rng, shape, charge), mask).any()
    # Half of it found is not enough to leave it: the rest comes in.
    half = mask.copy()
    half[:135] = False
    added = axis_track_pixels(_exposure(rng, shape, charge), half)
    assert _recall(added | half, charge) > 0.95
    assert not (added & half).any()


def _star(shape, centre, peak, fwhm):
    yy, xx = np.indices(shape)
    return peak * np.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / (2 * (fwhm / 2.355) ** 2))


def test_a_spectrums_trace_that_fades_inside_the_frame_is_not_a_track():
    # Long-slit data: a faint source's continuum along a row, its brightness changing smoothly with wavelength
    # and fading out before the detector's ends, where a track's would jump from pixel to pixel.
    rng = np.random.default_rng(16)
    shape = (200, 400)
    columns = np.arange(shape[1])
    brightness = 80 * SIGMA * np.exp(-0.5 * ((columns - 200) / 70.0) ** 2) * (1 + 0.3 * np.sin(columns / 15.0))
    rows = np.arange(shape[0])[:, None]
    trace = brightness[None, :] * np.exp(-0.5 * ((rows - 100) / 1.0) ** 2) / np.sqrt(2 * np.pi)
    assert not axis_track_pixels(_exposure(rng, shape, trace), np.zeros(shape, bool)).any()


@pytest.mark.parametrize("saturation", [None, 60000.0], ids=["level unknown", "SATURATE"])
def test_a_saturated_stars_bleed_trail_is_not_a_track(saturation):
    rng = np.random.default_rng(8)
    shape = (300, 200)
    image = _exposure(rng, shape, _star(shape, (150, 100), 2e5, 4.0))
    # The excess charge spills up and down the column, unevenly as it passes the trail's pixels.
    image[110:190, 99:102] += rng.uniform(2e4, 6e4, (80, 3))
    image = np.minimum(image, 60000.0)
    assert not axis_track_pixels(image, np.zeros(shape, bool), saturation=saturation).any()


@pytest.mark.parametrize("saturation", [None, 60000.0], ids=["level unknown", "SATURATE"])
def test_a_line_that_reaches_saturation_is_not_a_track(saturation):
    # Part of a bleed trail (its star outside the frame or the section searched): charge up to the full well,
    # which the frame's highest value stands for when the header gives no SATURATE.
    rng = np.random.default_rng(13)
    shape = (300, 200)
    image = _exposure(rng, shape, np.zeros(shape))
    image[110:190, 100] += rng.uniform(2e4, 8e4, 80)
    image = np.minimum(image, 60000.0)
    assert not axis_track_pixels(image, np.zeros(shape, bool), saturation=saturation).any()


@pytest.mark.parametrize(("sigmas", "spacing"), [((1.7, 1.7), 9), ((2.5, 1.4), 11)], ids=["round", "stretched"])
def test_stars_lined_up_along_a_column_are_not_a_track(sigmas, spacing):
    # Four stars one above the other (round, or stretched along the column by the PSF): a line of bright pixels
    # 30-40 px long, broken between the stars, whose light spreads across it as a star's does.
    rng = np.random.default_rng(17)
    shape = (200, 200)
    yy, xx = np.indices(shape)
    stars = sum(peak * SIGMA * np.exp(-0.5 * (((yy - 80 - i * spacing) / sigmas[0]) ** 2
                                              + ((xx - 100) / sigmas[1]) ** 2))
                for i, peak in enumerate((30, 9, 22, 14)))
    assert not axis_track_pixels(_exposure(rng, shape, stars), np.zeros(shape, bool)).any()


def test_a_line_from_a_bright_star_is_left_to_the_network():
    # A diffraction spike, or a track that starts on a star: the source's light is around the line's end.
    rng = np.random.default_rng(9)
    shape = (300, 200)
    charge = _track(shape, rng, (110, 100), 120, 0.0)
    image = _exposure(rng, shape, charge + _star(shape, (104, 100), 300 * SIGMA, 5.0))
    assert not axis_track_pixels(image, np.zeros(shape, bool)).any()


def test_known_defects_and_missing_pixels_are_never_added():
    rng = np.random.default_rng(10)
    shape = (300, 200)
    charge = _track(shape, rng, (60, 100), 150, 0.0)
    image = _exposure(rng, shape, charge)
    image[100:110, 95:106] = np.nan
    defects = np.zeros(shape, bool)
    defects[150:160, 95:106] = True
    found = axis_track_pixels(image, np.zeros(shape, bool), defects=defects)
    assert found.any()
    assert not found[100:110, 95:106].any() and not found[150:160, 95:106].any()


def test_the_networks_sky_maps_give_the_same_pixels():
    from crclean.engine import background_mesh

    rng = np.random.default_rng(11)
    shape = (300, 200)
    image = _exposure(rng, shape, _track(shape, rng, (60, 100), 150, 1.0))
    plain = axis_track_pixels(image, np.zeros(shape, bool))
    assert plain.any()
    assert np.array_equal(axis_track_pixels(image, np.zeros(shape, bool), sky=background_mesh(image)), plain)


def test_find_axis_tracks_adds_nothing_already_flagged():
    rng = np.random.default_rng(12)
    shape = (300, 200)
    z = (_exposure(rng, shape, _track(shape, rng, (60, 100), 150, 0.0)) - SKY) / SIGMA
    mask = np.zeros(shape, bool)
    mask[60:70, 95:105] = True  # a tenth of the track: not enough to leave it
    found = find_axis_tracks(z, mask)
    assert found.any() and not (found & mask).any()


class _Blind:
    """Stands in for a mask network that flags nothing, whatever the image."""

    sky = None

    def predict(self, data, **_):
        return np.zeros(np.shape(data), np.float32)


def test_a_cleaner_adds_the_tracks_its_network_left_unless_told_not_to(monkeypatch):
    from crclean import Cleaner

    rng = np.random.default_rng(14)
    shape = (300, 200)
    charge = _track(shape, rng, (60, 100), 150, 1.0)
    image = _exposure(rng, shape, charge)
    defects = np.zeros(shape, bool)
    defects[150:160, :] = True
    results = {}
    for search in (True, False):
        cleaner = Cleaner("crclean-ccd", inpaint=None, device="cpu", axis_tracks=search)
        monkeypatch.setattr(cleaner, "_get_masker", lambda: _Blind())
        results[search] = cleaner.clean_array(image, units="electron", defects=defects).mask
    expected = axis_track_pixels(image, np.zeros(shape, bool), defects=defects)
    np.testing.assert_array_equal(results[True], expected)
    assert _recall(results[True], charge) > 0.85 and not results[True][150:160].any()
    assert not results[False].any()


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_axis_tracks_must_be_true_or_false(value):
    from crclean import Cleaner

    with pytest.raises(ValueError, match="axis_tracks must be True or False"):
        Cleaner("crclean-ccd", axis_tracks=value)
    with pytest.raises(ValueError, match="axis_tracks must be True or False"):
        Cleaner(axis_tracks=value)  # auto checks it for each model it may choose


def test_cosmicray_crclean_records_whether_it_searched():
    from astropy.nddata import CCDData

    from crclean import cosmicray_crclean

    rng = np.random.default_rng(15)
    ccd = CCDData(_exposure(rng, (96, 96), np.zeros((96, 96))), unit="electron")
    assert cosmicray_crclean(ccd, model="crclean-ccd", inpaint=None).meta["CRAXTRK"] is True
    assert cosmicray_crclean(ccd, model="crclean-ccd", inpaint=None, axis_tracks=False).meta["CRAXTRK"] is False
