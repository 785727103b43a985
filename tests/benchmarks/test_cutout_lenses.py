"""The out-of-family lens cutouts, ``benchmarks/_cutout_scenes.py``: seeded, labelled right, lensing right."""

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("galsim")

# The simulator lives with the benchmarks, outside the package (appended, so that it shadows nothing).
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.append(str(BENCHMARKS))

from _cutout_lensing import Deflector  # noqa: E402
from _cutout_scenes import LENS_CATEGORIES, NON_LENS_CATEGORIES, make_cutout, make_cutout_set  # noqa: E402
from _cutout_tiles import make_tile  # noqa: E402
from lens_cutouts import auroc  # noqa: E402


def test_a_cutout_is_reproduced_from_its_seed_and_index_alone():
    first, truth = make_cutout(3, 5, "quad", size=64)
    again, truth_again = make_cutout(3, 5, "quad", size=64)
    np.testing.assert_array_equal(first, again)
    assert truth == truth_again
    assert not np.array_equal(first, make_cutout(3, 6, "quad", size=64)[0])
    assert first.shape == (3, 64, 64) and first.dtype == np.float32


def test_every_category_is_labelled_as_drawn():
    images, truths = make_cutout_set(11, 1, size=64)
    assert [t.category for t in truths] == list(LENS_CATEGORIES + NON_LENS_CATEGORIES)
    assert [t.index for t in truths] == list(range(len(truths)))
    for truth in truths:
        assert truth.is_lens == (truth.category in LENS_CATEGORIES)
        assert (truth.theta_e > 0) == truth.is_lens and (truth.arc_snr > 0) == truth.is_lens
    by_category = {t.category: t for t in truths}
    assert 2 <= by_category["double"].n_images <= 3 and by_category["quad"].n_images >= 4
    assert by_category["compact"].theta_e < 0.9
    assert by_category["bright_source"].lens_minus_arcs_mag > 0  # the lens is fainter than its arcs
    with pytest.raises(ValueError, match="unknown category 'lens'"):
        make_cutout(11, 0, "lens")


def test_doubles_and_quads_have_as_many_images_as_labelled():
    # Counted on the noise-free lensed light; a draw with another count is redrawn, never relabelled.
    for category, (least, most) in (("double", (2, 3)), ("quad", (4, 5))):
        _, truths = make_cutout_set(5, 3, size=96, categories=(category,))
        assert all(least <= t.n_images <= most for t in truths)


def test_the_isothermal_ellipsoid_deflects_as_its_density_says():
    # Circular limit: every ray is bent by theta_E.
    circular = Deflector(1.3, q=1.0)
    alpha = circular.deflection(np.array([0.2, 2.0, -1.0]), np.array([0.5, -1.0, 0.1]))
    np.testing.assert_allclose(np.hypot(*alpha), 1.3, rtol=1e-6)
    # Elliptical: the divergence of the deflection is twice the convergence (Poisson's equation in 2-D).
    lens = Deflector(1.5, q=0.6, angle=0.7)
    step = 0.005
    x, y = np.meshgrid(np.arange(-2, 2, step), np.arange(-2, 2, step))
    alpha_x, alpha_y = lens.deflection(x, y)
    divergence = np.gradient(alpha_x, step, axis=1) + np.gradient(alpha_y, step, axis=0)
    away = np.hypot(x, y) > 0.3
    np.testing.assert_allclose(divergence[away], 2 * lens.convergence(x[away], y[away]), rtol=5e-3)
    # Shear adds (gamma1 x + gamma2 y, gamma2 x - gamma1 y).
    sheared = Deflector(1.3, q=1.0, gamma1=0.05, gamma2=-0.02)
    np.testing.assert_allclose(np.subtract(sheared.deflection(1.0, 2.0), circular.deflection(1.0, 2.0)),
                               [0.05 * 1.0 - 0.02 * 2.0, -0.02 * 1.0 - 0.05 * 2.0], atol=1e-12)


def test_tiles_are_seeded_and_a_lens_tile_boxes_its_one_lens():
    options = dict(lookalikes=2, field_galaxies=5, stars=2)
    tile = make_tile(8, 0, (256, 256), has_lens=True, **options)
    again = make_tile(8, 0, (256, 256), has_lens=True, **options)
    np.testing.assert_array_equal(tile["image"], again["image"])
    assert tile["image"].shape == (3, 256, 256) and len(tile["lenses"]) == len(tile["boxes"]) == 1
    (x0, y0, x1, y1), lens = tile["boxes"][0], tile["lenses"][0]
    assert x0 < lens["x"] + 0.5 < x1 and y0 < lens["y"] + 0.5 < y1
    # At least 0.5 arcsec about the centre (0.2 arcsec pixels), and within the lens's 96-pixel stamp.
    assert min(x1 - x0, y1 - y0) >= 5 and max(x1 - x0, y1 - y0) <= 96
    assert lens["category"] in LENS_CATEGORIES and lens["lens_to_arc"] >= 0
    assert all(o["kind"] in NON_LENS_CATEGORIES + ("field", "star") for o in tile["objects"])
    free = make_tile(8, 1, (256, 256), has_lens=False, bands=("r",), **options)
    assert free["image"].ndim == 2 and free["boxes"].shape == (0, 4) and not free["lenses"]


def test_auroc_counts_pairs_and_halves_ties():
    assert auroc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auroc([0.1], [0.9]) == 0.0
    assert auroc([0.5, 0.9], [0.5]) == 0.75
