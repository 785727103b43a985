"""Lens simulations are seeded and reproducible; boxes hold the lens; AP is right."""

import numpy as np
import pytest

from crclean.training.lenses import average_precision, build_bank, compose_scene, match_detections
from crclean.training.lenses._train import sample_window


@pytest.fixture(scope="module")
def bank():
    return build_bank(7, n_lenses=3, n_negatives=4, n_field=3, size=48)


def test_bank_is_reproducible(bank):
    again = build_bank(7, n_lenses=3, n_negatives=4, n_field=3, size=48)
    for name in ("lens", "arcs", "arc_mask", "theta_e", "negatives", "field"):
        assert np.array_equal(getattr(bank, name), getattr(again, name))
    assert list(bank.negative_kinds) == ["ring", "spiral", "pair", "edge_on"]
    assert np.all((bank.theta_e >= 0.5) & (bank.theta_e <= 3.0))
    assert np.allclose(bank.arcs.sum(axis=(1, 2)), 1.0, atol=1e-4)


def test_scenes_are_reproducible_and_boxes_hold_the_lens(bank):
    scenes = [compose_scene(np.random.default_rng(11), bank, (128, 160), n_lenses=2, n_negatives=2,
                            n_field=3, n_stars=2) for _ in range(2)]
    assert np.array_equal(scenes[0].image, scenes[1].image)
    assert np.array_equal(scenes[0].boxes, scenes[1].boxes)
    other = compose_scene(np.random.default_rng(12), bank, (128, 160), n_lenses=2, n_negatives=2, n_field=3, n_stars=2)
    assert not np.array_equal(other.image, scenes[0].image)
    scene = scenes[0]
    lenses = [o for o in scene.objects if o["kind"] == "lens"]
    assert len(scene.boxes) == len(lenses) == 2
    for (x0, y0, x1, y1), lens in zip(scene.boxes, lenses):
        assert 0 <= x0 < x1 <= 160 and 0 <= y0 < y1 <= 128
        assert x0 <= lens["x"] <= x1 and y0 <= lens["y"] <= y1


def test_training_windows_are_normalised(bank):
    image, boxes = sample_window(np.random.default_rng(0), bank, 64)
    assert image.shape == (64, 64) and image.dtype == np.float32
    assert 0.3 < float(np.median(np.abs(image))) < 0.6  # sky noise / (2 sigma) under asinh


def test_average_precision_hand_example():
    truth = np.array([[0, 0, 10, 10], [20, 20, 30, 30]])
    boxes = np.array([[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 31]])
    scores = np.array([0.9, 0.8, 0.7])
    hits = match_detections(boxes, scores, truth)
    assert hits.tolist() == [True, False, True]
    # precision 1 at recall 0.5, then 2/3 at recall 1: AP = 0.5 * 1 + 0.5 * 2/3
    assert average_precision(scores, hits, 2) == pytest.approx(0.5 + 1 / 3)


def test_scene_psf_and_noise_options(bank):
    def star_scene(**options):
        return compose_scene(np.random.default_rng(5), bank, (64, 64), n_lenses=0, n_negatives=0, n_field=0,
                             n_stars=1, seeing_range=(1.0, 1.0), **options)

    moffat, gaussian = star_scene(), star_scene(gaussian_psf_fraction=1.0)
    # A Gaussian has no wings: less light far from the star than a Moffat of the same FWHM.
    (star,) = moffat.objects
    yy, xx = np.mgrid[0:64, 0:64]
    far = np.hypot(xx - star["x"], yy - star["y"]) > 12
    assert np.abs(gaussian.image[far]).mean() < np.abs(moffat.image[far]).mean()
    # A lower gain (in sky-sigma units) means more source Poisson noise on the star.
    low, high = star_scene(gain_range=(2.0, 2.0)), star_scene(gain_range=(200.0, 200.0))
    near = np.hypot(xx - star["x"], yy - star["y"]) < 3
    assert np.std(low.image[near] - high.image[near]) > 1.0


def test_ellipticals_are_lens_galaxies_without_arcs(bank):
    scene = compose_scene(np.random.default_rng(3), bank, (96, 96), n_lenses=0, n_negatives=0, n_field=0, n_stars=0,
                          n_ellipticals=2)
    assert [o["kind"] for o in scene.objects] == ["elliptical", "elliptical"] and len(scene.boxes) == 0
    assert scene.image.max() > 20 * scene.sigma  # as bright as lens galaxies get, not a faint smudge


def test_saturation_clips_and_bleeds_along_columns():
    from crclean.training.lenses._scene import _saturate

    yy, xx = np.mgrid[0:64, 0:64]
    star = 1e5 * np.exp(-((xx - 30) ** 2 + (yy - 20) ** 2) / (2 * 2.0 ** 2))
    clipped = _saturate(star.copy(), 1000.0)
    assert clipped.max() == 1000.0
    flat = clipped == 1000.0
    # The excess charge runs up and down the columns: saturated runs are longer than wide,
    # and longer than the star's own saturated core.
    assert flat.sum(axis=0).max() > flat.sum(axis=1).max()
    assert flat.sum(axis=0).max() > (star >= 1000.0).sum(axis=0).max()


def _nucleus_fraction(stamp, pixel_scale=0.2):
    """Share of a stamp's flux within 0.3 arcsec of its centre."""
    axis = (np.arange(stamp.shape[0]) - stamp.shape[0] / 2 + 0.5) * pixel_scale
    return float(stamp[np.hypot(axis[None, :], axis[:, None]) < 0.3].sum() / stamp.sum())


def test_wide_negatives_add_rings_with_fainter_nuclei():
    from crclean.training.lenses._stamps import negative_stamp

    def rings(wide):
        rng = np.random.default_rng(21)
        return [negative_stamp(rng, "ring", size=64, pixel_scale=0.2, wide=wide) for _ in range(40)]

    narrow, wide = rings(False), rings(True)
    for stamp in wide + [negative_stamp(np.random.default_rng(2), "spiral", size=64, pixel_scale=0.2, wide=True)]:
        assert np.isfinite(stamp).all() and stamp.sum() == pytest.approx(1.0, abs=1e-4)
    # The wider family reaches ring-dominated galaxies the default one never draws.
    assert min(map(_nucleus_fraction, wide)) < 0.5 * min(map(_nucleus_fraction, narrow))


def test_wide_negatives_leave_the_default_bank_alone():
    default = build_bank(7, n_lenses=2, n_negatives=4, n_field=2, size=48)
    wide = build_bank(7, n_lenses=2, n_negatives=4, n_field=2, size=48, wide_negatives=True)
    assert np.array_equal(default.lens, wide.lens)
    assert list(default.negative_kinds) == list(wide.negative_kinds)
    assert not np.array_equal(default.negatives[0], wide.negatives[0])  # the ring


def test_early_type_rings_are_bulge_dominated_and_leave_other_banks_alone():
    from crclean.training.lenses._stamps import _early_type_ring, negative_stamp
    from crclean.training.lenses._profiles import grid

    x, y = grid(64, 0.2)
    rng = np.random.default_rng(5)
    early = [_early_type_ring(rng, x, y, rng.uniform(0.5, 1.0), rng.uniform(0, np.pi))[0] for _ in range(30)]
    rng = np.random.default_rng(5)
    wide = [negative_stamp(rng, "ring", size=64, pixel_scale=0.2, wide=True) for _ in range(30)]
    for stamp in early:
        assert np.isfinite(stamp).all() and stamp.sum() == pytest.approx(1.0, abs=1e-4)
    # A bright bulge holds the light: the centre is far brighter than in the ring-dominated families.
    assert np.median(list(map(_nucleus_fraction, early))) > 2 * np.median(list(map(_nucleus_fraction, wide)))
    plain = build_bank(7, n_lenses=2, n_negatives=8, n_field=2, size=48, wide_negatives=True)
    mixed = build_bank(7, n_lenses=2, n_negatives=8, n_field=2, size=48, wide_negatives=True, early_type_rings=True)
    assert np.array_equal(plain.lens, mixed.lens) and list(plain.negative_kinds) == list(mixed.negative_kinds)
    assert not np.array_equal(plain.negatives[0], mixed.negatives[0])  # the first ring


def _peaks(image):
    """Local maxima above 5% of the peak: one per lensed image of a smooth source, more with clumps."""
    from scipy.ndimage import maximum_filter

    return int(((image == maximum_filter(image, 3)) & (image > 0.05 * image.max())).sum())


def test_smooth_source_fraction_removes_the_clumps_and_leaves_the_default_alone():
    from crclean.training.lenses._stamps import lens_stamp

    def lenses(fraction):
        rng = np.random.default_rng(8)
        return [lens_stamp(rng, size=48, pixel_scale=0.2, smooth_fraction=fraction) for _ in range(60)]

    default, again, smooth = lenses(0.0), lenses(0.0), lenses(1.0)
    assert all(np.array_equal(a["arcs"], b["arcs"]) for a, b in zip(default, again))
    assert np.mean([_peaks(s["arcs"]) for s in smooth]) < np.mean([_peaks(s["arcs"]) for s in default]) - 1.0
    assert all(s["arc_mask"].any() and s["arcs"].sum() == pytest.approx(1.0, abs=1e-4) for s in smooth)
    with pytest.raises(ValueError, match="smooth_source_fraction must be within 0-1, got 1.5"):
        build_bank(7, n_lenses=1, n_negatives=1, n_field=1, size=48, smooth_source_fraction=1.5)


def test_clumpy_negatives_add_knots_and_leave_other_banks_alone():
    from crclean.training.lenses._profiles import grid
    from crclean.training.lenses._stamps import _ring_family, _spiral, _star_forming_ring

    x, y = grid(64, 0.2)
    rng = np.random.default_rng(6)
    rings = [_star_forming_ring(rng, x, y, rng.uniform(0.5, 1.0), rng.uniform(0, np.pi))[0] for _ in range(20)]
    assert all(np.isfinite(ring).all() and ring.min() >= 0 for ring in rings)
    # Knots are drawn after the arms: the same draws give the same spiral plus knots.
    plain = _spiral(np.random.default_rng(3), x, y, 0.8, 0.4, wide=True)[0]
    knotted = [_spiral(np.random.default_rng(seed), x, y, 0.8, 0.4, wide=True, clumpy=True)[0] for seed in (3, 3)]
    assert np.array_equal(knotted[0], knotted[1])
    assert np.all(knotted[0] >= plain - 1e-7) and _peaks(knotted[0]) > _peaks(plain)
    # With early-type rings as well, each ring generator draws about a third of the rings.
    rng = np.random.default_rng(1)
    families = [_ring_family(rng, True, True) for _ in range(3000)]
    assert {name: families.count(name) for name in set(families)} == pytest.approx(
        {"ring": 1000, "early_type": 1000, "star_forming": 1000}, abs=100)
    plain = build_bank(7, n_lenses=2, n_negatives=8, n_field=2, size=48, wide_negatives=True)
    clumpy = build_bank(7, n_lenses=2, n_negatives=8, n_field=2, size=48, wide_negatives=True, clumpy_negatives=True)
    assert np.array_equal(plain.lens, clumpy.lens) and list(plain.negative_kinds) == list(clumpy.negative_kinds)
    assert not np.array_equal(plain.negatives[1], clumpy.negatives[1])  # the first spiral


def test_wide_lenses_vary_the_mass_slope_and_leave_the_default_alone():
    from crclean.training.lenses._stamps import lens_stamp

    def first_lens(wide):
        return lens_stamp(np.random.default_rng(4), size=48, pixel_scale=0.2, wide=wide)

    default, again, wide = first_lens(False), first_lens(False), first_lens(True)
    assert np.array_equal(default["arcs"], again["arcs"])
    # theta_E is drawn before the slope, so it matches; the slope changes the arcs.
    assert wide["theta_e"] == default["theta_e"]
    assert not np.allclose(wide["arcs"], default["arcs"])
    assert wide["arc_mask"].any() and wide["arcs"].sum() == pytest.approx(1.0, abs=1e-4)
    bank = build_bank(7, n_lenses=2, n_negatives=1, n_field=1, size=48, wide_lenses=True)
    assert np.all((bank.theta_e >= 0.5) & (bank.theta_e <= 3.0)) and bank.arc_mask.any(axis=(1, 2)).all()
