"""The independent cosmic-ray validation generator, ``benchmarks/_independent_cosmics.py``."""

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

pytest.importorskip("galsim")
pytest.importorskip("scipy", minversion="1.15")  # scipy.stats.landau

# The generator lives with the benchmarks, outside the package: import it from there. Appended, not
# prepended, so that the benchmark scripts' module names (masks, lenses, ...) shadow nothing.
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.append(str(BENCHMARKS))

from _independent_cosmics import ADC_MAX, FAMILIES, draw_sensor, make_exposure, make_family  # noqa: E402
from _independent_cr_physics import rasterise, straight_tracks  # noqa: E402
from _independent_footprints import held_out_footprints  # noqa: E402

SHAPE = (128, 128)
ARRAYS = ("image_adu", "clean_adu", "cr_electrons", "cr_mask", "ignore_mask", "star_core_mask", "defect_mask",
          "saturated_mask", "noise_sigma_electrons")


@pytest.fixture(scope="module")
def exposures():
    return {name: make_exposure(name, SHAPE, 3) for name in FAMILIES}


def test_same_seed_same_arrays_and_other_seeds_differ():
    first, again = make_family("thick_ground", 2, 96, 11), make_family("thick_ground", 2, 96, 11)
    for a, b in zip(first, again):
        for name in ARRAYS:
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert (a.gain, a.seed, a.profile) == (b.gain, b.seed, b.profile)
    assert [e.seed for e in first] == [11, 12]
    assert not np.array_equal(first[0].image_adu, first[1].image_adu)


def test_exposures_carry_the_simulated_exposure_attributes(exposures):
    for name, e in exposures.items():
        assert e.profile == name and e.split == "independent"
        assert e.image_adu.dtype == e.clean_adu.dtype == np.float32
        for attribute in ARRAYS:
            assert getattr(e, attribute).shape == SHAPE
        for attribute in ("gain", "readnoise", "bias", "exptime", "sky_electrons", "fwhm"):
            assert np.isfinite(getattr(e, attribute))
        assert 0.5 <= e.gain <= 5 and 2 <= e.readnoise <= 10


def test_truth_is_charge_above_two_sigma_off_defects(exposures):
    for e in exposures.values():
        above = e.cr_electrons >= 2.0 * e.noise_sigma_electrons
        np.testing.assert_array_equal(e.cr_mask, above & ~e.defect_mask)
        np.testing.assert_array_equal(e.ignore_mask, ((e.cr_electrons > 0) & ~above) | e.defect_mask)
        assert not (e.cr_mask & e.ignore_mask).any()
        assert (e.saturated_mask <= e.defect_mask).all()
    assert sum(e.cr_mask.sum() for e in exposures.values()) > 0


def test_image_minus_clean_is_the_cosmic_ray_charge_where_unsaturated(exposures):
    checked = 0
    for e in exposures.values():
        clean_electrons = e.noise_sigma_electrons.astype(np.float64) ** 2 - e.readnoise ** 2
        unsaturated = (~e.saturated_mask & (e.image_adu < ADC_MAX)
                       & (clean_electrons + e.cr_electrons < 0.999 * e.full_well))
        difference = (e.image_adu.astype(np.float64) - e.clean_adu) * e.gain
        np.testing.assert_allclose(difference[unsaturated], e.cr_electrons[unsaturated],
                                   atol=1e-6 * ADC_MAX * e.gain, rtol=1e-5)
        checked += np.sum(unsaturated & (e.cr_electrons > 0))
    assert checked > 100


def _track(family, seed, incidence_deg=80.0):
    """One muon through a sensor of ``family``, along +x: (charge map, sensor)."""
    rng = np.random.default_rng(seed)
    sensor = draw_sensor(FAMILIES[family], rng)
    (x, y, z, q), _ = straight_tracks(np.array([150.0]), np.array([40.0]), np.array([np.radians(incidence_deg)]),
                                      np.array([0.0]), sensor, rng)
    return rasterise((80, 300), x, y, z, q, sensor), sensor


def test_thick_ccd_tracks_are_long_and_wider_than_thin_ccd_tracks():
    for seed in range(3):
        thick, thick_sensor = _track("thick_ground", seed)
        thin, _ = _track("thin_ground", seed)
        assert 6.0 < thick_sensor.sigma_um(thick_sensor.thickness_um) < 9.0  # ~7-8 um at the back
        assert np.sum(thick.sum(0) > 100) > 60  # an 80 degree muon crosses 250 um: ~90 px
        rows = np.arange(thick.shape[0])[:, None]

        def widest(charge):  # charge-weighted rms across the track, widest column
            column = charge.sum(0)
            used = column > 0.2 * column.max()
            mean = (charge * rows).sum(0)[used] / column[used]
            return np.sqrt(((rows - mean) ** 2 * charge[:, used]).sum(0) / column[used]).max()

        assert widest(thick) > 1.3 * widest(thin)
        # Pixels above 20 e- (2 sigma of a dark sky) across the diffuse end: 3-4 px.
        assert 3 <= (thick > 20).sum(0).max() <= 5


def test_thick_ground_exposures_have_tracks_longer_than_30_px():
    longest = 0
    for e in make_family("thick_ground", 2, 384, 1):
        labels, _ = ndimage.label(e.cr_mask, structure=np.ones((3, 3)))
        for rows, cols in ndimage.find_objects(labels):
            longest = max(longest, rows.stop - rows.start, cols.stop - cols.start)
    assert longest > 30


def test_dense_space_covers_at_least_one_percent_of_pixels():
    for e in make_family("dense_space", 2, 192, 0):
        assert 0.01 <= e.cr_mask.mean() <= 0.08
        assert e.fwhm <= 2.0


def test_footprints_only_from_the_held_out_split():
    ids, stamps = held_out_footprints()
    assert len(ids) == len(stamps) == 177
    assert all(fp_id % 5 == 0 for fp_id in ids)
    e = make_exposure("real_footprints", (256, 256), 5)
    assert e.footprint_ids and all(fp_id % 5 == 0 for fp_id in e.footprint_ids)
    injected = sum(stamps[ids.index(fp_id)].sum() for fp_id in e.footprint_ids)
    # Charge reaching the image: the injected stamps', less what falls off the edges or into saturation.
    assert 0.5 * injected < e.cr_electrons.sum() <= injected * (1 + 1e-5)


def test_psf_width_is_measured_when_the_peak_lies_off_the_centre():
    # Strongly aberrated optical PSFs peak away from the profile's centre, where GalSim's own FWHM reads 0;
    # the scene must still get a PSF of the width it asked for, not one dilated by 1 / 0.
    galsim = pytest.importorskip("galsim")
    from _independent_ccd_scene import _fwhm_of

    offset = galsim.Gaussian(fwhm=2.0).shift(3.0, 0.0)
    assert _fwhm_of(offset, 2.0) == pytest.approx(2.0, rel=0.05)
    assert _fwhm_of(galsim.Gaussian(fwhm=2.0), 2.0) == pytest.approx(2.0, rel=0.02)
    # Nearer the centre GalSim reads a fraction of the width instead (0.42 px here), which dilated
    # rubin_like exposure 110's PSF about 14 times too wide: every star became a flat, sharp-edged square.
    near = galsim.Gaussian(fwhm=2.0).shift(0.8, 0.0)
    assert _fwhm_of(near, 2.0) == pytest.approx(2.0, rel=0.05)


def test_bright_galaxy_stamps_reach_below_the_noise():
    # A stamp sized by radius alone cut a bright galaxy's wings ~90 e- above the sky in a sharp edge.
    galsim = pytest.importorskip("galsim")
    from _independent_ccd_scene import GALAXY_EDGE_SIGMA, galaxy_stamp

    galaxy = galsim.Convolve([galsim.Exponential(half_light_radius=3.0, flux=1e7), galsim.Gaussian(fwhm=2.0)])
    stamp = galaxy_stamp(galaxy, 21, (0.0, 0.0), sky_sigma=10.0)
    assert stamp.shape[0] > 2 * 21 + 1
    edge = max(stamp[[0, -1], :].max(), stamp[:, [0, -1]].max())
    assert edge < GALAXY_EDGE_SIGMA * 10.0
    faint = galaxy_stamp(galaxy.withFlux(10.0), 21, (0.0, 0.0), sky_sigma=10.0)
    assert faint.shape == (43, 43)


def _median_ellipticity(e):
    """Median |ellipticity| of Gaussian-weighted (3 px) second moments of the clean stars' light."""
    light = (e.clean_adu - e.bias).astype(float)
    light -= np.median(light)
    labels, _ = ndimage.label(e.star_core_mask)
    y, x = np.mgrid[-6:7, -6:7]
    window = np.exp(-(x ** 2 + y ** 2) / 18.0)
    shapes = []
    for rows, cols in ndimage.find_objects(labels):
        cy, cx = (rows.start + rows.stop) // 2, (cols.start + cols.stop) // 2
        stamp = light[cy - 6:cy + 7, cx - 6:cx + 7]
        if stamp.shape != window.shape or e.saturated_mask[cy - 6:cy + 7, cx - 6:cx + 7].any():
            continue
        w = window * stamp
        xx, yy, xy = (w * x * x).sum(), (w * y * y).sum(), (w * x * y).sum()
        shapes.append(np.hypot(xx - yy, 2 * xy) / (xx + yy))
    return np.median(shapes), len(shapes)


def test_psf_shear_elongates_the_stars_and_keeps_the_hits():
    plain = make_exposure("rubin_like", (256, 256), 3)
    sheared = make_exposure("rubin_like", (256, 256), 3, psf_shear=0.4)
    (before, n_before), (after, n_after) = _median_ellipticity(plain), _median_ellipticity(sheared)
    assert min(n_before, n_after) >= 10
    assert after > before + 0.2
    hits, sheared_hits = plain.cr_electrons > 0, sheared.cr_electrons > 0
    assert (hits == sheared_hits).mean() > 0.999 and hits.any()
    assert not np.array_equal(plain.clean_adu, sheared.clean_adu)
    with pytest.raises(ValueError, match="psf_shear"):
        make_exposure("rubin_like", (64, 64), 3, psf_shear=1.0)
