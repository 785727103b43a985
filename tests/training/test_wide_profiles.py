"""Detectors drawn per exposure (wide_ground, wide_space) and hits started on sources."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import ndimage

from crclean.training import PROFILES, simulate_exposure
from crclean.training._cosmic_sim import SensorGeometry, simulate_cosmic_rays
from crclean.training._wide_profiles import EXTRAS, WIDE_PROFILES, draw_profile
from crclean.training.mask import build_pool
from crclean.training.mask._data import MIN_STAR_PLATEAU, ambiguous_plateaus


def _draws(name, n=300):
    rng = np.random.default_rng(5)
    return [draw_profile(name, rng) for _ in range(n)]


def test_the_same_generator_state_gives_the_same_detector():
    assert draw_profile("wide_ground", np.random.default_rng(3)) == draw_profile(
        "wide_ground", np.random.default_rng(3))
    assert draw_profile("wide_ground", np.random.default_rng(3)) != draw_profile(
        "wide_ground", np.random.default_rng(4))


def test_ground_detectors_span_thin_to_fully_depleted_sensors_and_all_seeing():
    draws = _draws("wide_ground")
    depletion = np.array([d.sensor.depletion_um for d in draws])
    fwhm = np.array([d.fwhm_range[0] for d in draws])
    sky = np.array([d.sky_range[0] for d in draws])
    assert depletion.min() < 20 and depletion.max() > 230 and np.mean(depletion > 150) > 0.2
    assert fwhm.min() < 1.4 and fwhm.max() > 5.5 and np.all((fwhm >= 1.2) & (fwhm <= 6.0))
    assert sky.min() < 10 and sky.max() > 5000
    # Lateral diffusion grows with the thickness: at least 2% of it.
    assert all(d.sensor.diffusion_um >= 0.02 * d.sensor.depletion_um for d in draws)
    assert {d.cos_power for d in draws} == {3.0}


def test_space_detectors_are_thin_sharp_and_dense():
    draws = _draws("wide_space")
    assert all(d.sensor.depletion_um <= 50 and d.fwhm_range[0] <= 2.2 for d in draws)
    assert {d.cos_power for d in draws} == {1.0} and min(d.heavy_fraction for d in draws) >= 0.1
    events_per_pixel = np.array([d.cr_rate * d.exptime * (d.sensor.pixel_pitch_um * 1e-4) ** 2 for d in draws])
    assert events_per_pixel.min() >= 500e-6 and events_per_pixel.max() > 5000e-6


def test_unknown_wide_profile_is_named():
    with pytest.raises(ValueError, match="wide_ground"):
        draw_profile("wide_moon", np.random.default_rng(0))
    with pytest.raises(ValueError, match="wide_space"):
        simulate_exposure((32, 32), seed=0, profile="wide_moon")


@pytest.mark.parametrize("name", WIDE_PROFILES)
def test_a_wide_exposure_is_reproducible_and_records_its_detector(name):
    one, two = (simulate_exposure((96, 96), seed=21, profile=name) for _ in range(2))
    np.testing.assert_array_equal(one.image_adu, two.image_adu)
    assert one.detector == two.detector and one.profile == name
    assert one.full_well == one.detector.full_well
    other = simulate_exposure((96, 96), seed=22, profile=name)
    assert other.detector != one.detector


def test_fully_depleted_sensors_make_long_tracks():
    # Among wide_ground exposures on a >= 200 um sensor, hits reach tens of pixels.
    longest = []
    for seed in range(200):
        exposure = simulate_exposure((64, 64), seed=seed, profile="wide_ground", cr_rate=0)
        if exposure.detector.sensor.depletion_um < 200:
            continue
        exposure = simulate_exposure((256, 256), seed=seed, profile="wide_ground")
        labels, _ = ndimage.label(exposure.cr_mask, np.ones((3, 3)))
        extent = [max(s[0].stop - s[0].start, s[1].stop - s[1].start) for s in ndimage.find_objects(labels)]
        longest.append(max(extent, default=0))
        if len(longest) == 4:
            break
    assert len(longest) == 4 and max(longest) >= 30


def test_dense_space_exposures_cover_percents_of_the_pixels():
    covered = [simulate_exposure((128, 128), seed=s, profile="wide_space").cr_mask.mean() for s in range(8)]
    assert np.median(covered) > 0.01 and max(covered) > 0.03


def test_hits_can_start_on_sources():
    rng_state = 7
    sources = (np.array([30.0, 90.0]), np.array([40.0, 70.0]))
    sensor = SensorGeometry(depletion_um=15.0)
    common = dict(sensor=sensor, mix=(0, 0, 1), n_events=40)
    on = simulate_cosmic_rays((128, 128), rng=np.random.default_rng(rng_state), anchors=sources,
                              anchor_fraction=1.0, **common)
    off = simulate_cosmic_rays((128, 128), rng=np.random.default_rng(rng_state), **common)
    near = np.zeros((128, 128), bool)
    near[35:46, 25:36] = near[65:76, 85:96] = True
    assert on[near].sum() > 0.95 * on.sum()
    assert off[near].sum() < 0.3 * off.sum()
    # No anchors: the random stream is untouched, so old exposures are unchanged.
    again = simulate_cosmic_rays((128, 128), rng=np.random.default_rng(rng_state), anchors=sources,
                                 anchor_fraction=0.0, **common)
    np.testing.assert_array_equal(again, off)


def test_fixed_profiles_do_not_start_hits_on_sources():
    assert all(p.cr_on_sources == 0 for p in PROFILES.values())
    anchored = dataclasses.replace(PROFILES["space"], cr_on_sources=1.0)
    plain = simulate_exposure((96, 96), seed=3, profile="space")
    moved = simulate_exposure((96, 96), seed=3, profile=anchored)
    np.testing.assert_array_equal(plain.clean_adu, moved.clean_adu)
    assert not np.array_equal(plain.cr_electrons, moved.cr_electrons)


def test_pools_of_wide_profiles_draw_their_own_cosmic_ray_density():
    kwargs = dict(size=64, profiles=["wide_space"], seed=40, split="validation")
    low = build_pool(2, cr_rate=(0.1, 0.2), **kwargs)
    high = build_pool(2, cr_rate=(5.0, 6.0), **kwargs)
    np.testing.assert_array_equal(low.inputs, high.inputs)
    fixed_low = build_pool(2, cr_rate=(0.1, 0.2), **{**kwargs, "profiles": ["space"]})
    fixed_high = build_pool(2, cr_rate=(5.0, 6.0), **{**kwargs, "profiles": ["space"]})
    assert fixed_high.target.sum() > fixed_low.target.sum()


def test_hard_cases_add_alpha_hits_and_aligned_tracks_to_the_v1_detector():
    plain = draw_profile("wide_ground", np.random.default_rng(9))
    hard = draw_profile("wide_ground", np.random.default_rng(9), hard_cases=True)
    assert dataclasses.replace(hard, aligned_tracks=0.0, alpha_spots=0.0) == plain
    assert 0 < hard.aligned_tracks <= 0.1 and 0 < hard.alpha_spots <= 0.1


def test_alpha_hits_saturate_and_their_bleed_is_a_cosmic_ray():
    alphas = dataclasses.replace(PROFILES["ground_thin"], cr_mix=(0, 0, 1), alpha_spots=1.0, cr_rate=0.3,
                                 bright_stars_per_mpix=0.0)
    exposure = simulate_exposure((128, 128), seed=4, profile=alphas)
    bled = (exposure.image_adu * exposure.gain >= 0.999 * alphas.full_well) & (exposure.cr_electrons > 0)
    assert bled.sum() > 20
    # Saturated by the hit, not by a star: truth, not a defect.
    assert exposure.cr_mask[bled].all() and not exposure.defect_mask[bled].any()
    # Bleeding runs along columns: some hit spans more rows than columns.
    labels, _ = ndimage.label(bled)
    assert any(s[0].stop - s[0].start > 2 * (s[1].stop - s[1].start) for s in ndimage.find_objects(labels))


def test_aligned_tracks_lie_along_rows_or_columns():
    sensor = SensorGeometry(depletion_um=150.0, diffusion_um=0.5)
    charge = simulate_cosmic_rays((400, 400), rng=np.random.default_rng(1), sensor=sensor, mix=(1, 0, 0),
                                  n_events=8, aligned_fraction=1.0, cos_power=0.0)
    labels, n = ndimage.label(charge > 50)
    shapes = [(s[0].stop - s[0].start, s[1].stop - s[1].start) for s in ndimage.find_objects(labels)]
    long = [(h, w) for h, w in shapes if max(h, w) >= 8]
    assert long and all(min(h, w) <= 3 for h, w in long)


def test_hot_pixels_can_be_left_out_of_the_loss():
    kwargs = dict(size=96, profiles=["wide_ground"], seed=44, split="validation")
    negative = build_pool(2, **kwargs)
    ignored = build_pool(2, hot_pixels="ignore", **kwargs)
    hot = np.stack([simulate_exposure((96, 96), seed=44 + i, profile="wide_ground", split="validation")
                    .hot_pixel_mask for i in range(2)])
    assert hot.any()
    assert np.all(negative.weight[hot] == 1) and np.all(ignored.weight[hot] == 0)
    np.testing.assert_array_equal(negative.weight[~hot], ignored.weight[~hot])
    with pytest.raises(ValueError, match="hot_pixels"):
        build_pool(1, hot_pixels="maybe", **kwargs)


def test_bad_columns_can_be_left_out_of_the_loss():
    # Seeds 52-56 of this profile draw bad columns (69, 6 and 20 pixels of them at seeds 52, 54 and 56).
    kwargs = dict(size=96, profiles=["wide_ground"], seed=52, split="validation")
    negative = build_pool(5, **kwargs)
    ignored = build_pool(5, bad_columns="ignore", **kwargs)
    exposures = [simulate_exposure((96, 96), seed=52 + i, profile="wide_ground", split="validation")
                 for i in range(5)]
    bad = np.stack([e.defect_mask & ~e.hot_pixel_mask & ~e.saturated_mask for e in exposures])
    assert bad.sum() >= 90
    assert np.all(ignored.weight[bad] == 0) and np.any(negative.weight[bad] > 0)
    np.testing.assert_array_equal(negative.weight[~bad], ignored.weight[~bad])
    np.testing.assert_array_equal(negative.target, ignored.target)  # no label moves, only the loss weights
    with pytest.raises(ValueError, match="bad_columns"):
        build_pool(1, bad_columns="maybe", **kwargs)


def test_trails_are_long_smooth_sources_not_cosmic_rays():
    with_trails = dataclasses.replace(PROFILES["ground_thin"], trails_per_mpix=60.0)
    plain = simulate_exposure((128, 128), seed=8, profile="ground_thin")
    trailed = simulate_exposure((128, 128), seed=8, profile=with_trails)
    extra = trailed.clean_adu - plain.clean_adu
    assert np.abs(extra).max() > 0  # a trail was drawn (60 per Mpx: ~1 here)
    np.testing.assert_array_equal(trailed.cr_electrons, plain.cr_electrons)
    np.testing.assert_array_equal(trailed.cr_mask & ~trailed.defect_mask, plain.cr_mask & ~plain.defect_mask)
    # Long: the band crosses the frame.
    labels, _ = ndimage.label(extra > 20 * np.median(plain.noise_sigma_electrons) / plain.gain)
    assert max(max(s[0].stop - s[0].start, s[1].stop - s[1].start) for s in ndimage.find_objects(labels)) > 100


def test_trails_are_drawn_after_the_rest_of_the_detector():
    hard = draw_profile("wide_space", np.random.default_rng(2), hard_cases=True)
    both = draw_profile("wide_space", np.random.default_rng(2), hard_cases=True, trails=True)
    assert dataclasses.replace(both, trails_per_mpix=0.0) == hard and 0 < both.trails_per_mpix <= 20


def test_extras_are_drawn_after_the_rest_of_the_detector_and_named_when_unknown():
    rng_state = 4
    hard = draw_profile("wide_ground", np.random.default_rng(rng_state), hard_cases=True)
    every = draw_profile("wide_ground", np.random.default_rng(rng_state), hard_cases=True, extras=EXTRAS)
    plain_fields = dict(sky_lines_per_mpix=0.0, cr_on_sources=hard.cr_on_sources, bright_anchors=False, heavy_ions=0.0, sharp_hits=0.0, whole_bad_columns=False,
                        core_hits=0.0, core_bleeds=0.0, alpha_spots=hard.alpha_spots, psf_axis_ratio=1.0,
                        psf_angle=0.0, grazing_tracks=0.0,
                        axis_edges_per_mpix=0.0, defect_hits=0.0, footprints_on_sources=0.0)
    assert dataclasses.replace(every, **plain_fields) == hard
    assert 0.05 <= every.defect_hits <= 0.15 and 0.1 <= every.footprints_on_sources <= 0.3
    # every extra includes more_source_hits, which doubles the shares of hits on sources and star cores
    assert every.bright_anchors and 0.2 <= every.cr_on_sources <= 0.6 and 0.05 <= every.alpha_spots <= 0.2
    assert 0.2 <= every.core_hits <= 0.8 and 0.2 <= every.core_bleeds <= 0.4
    with pytest.raises(ValueError, match="extras"):
        draw_profile("wide_ground", np.random.default_rng(0), extras=("comets",))


def test_sky_lines_are_bands_along_one_axis_and_not_cosmic_rays():
    lined = dataclasses.replace(PROFILES["ground_thin"], sky_lines_per_mpix=300.0)
    plain = simulate_exposure((128, 128), seed=8, profile="ground_thin")
    with_lines = simulate_exposure((128, 128), seed=8, profile=lined)
    extra = (with_lines.clean_adu - plain.clean_adu).astype(float)
    assert np.abs(extra).max() > 0
    np.testing.assert_array_equal(with_lines.cr_electrons, plain.cr_electrons)
    # Every line runs the whole frame along one axis: the added light is nearly
    # constant along that axis and varies across it.
    spread_along = min(np.std(extra, axis=0).mean(), np.std(extra, axis=1).mean())
    spread_across = max(np.std(extra, axis=0).mean(), np.std(extra, axis=1).mean())
    assert spread_along < 0.5 * spread_across


def test_source_hits_favour_bright_sources_and_cover_their_wings():
    x, y = np.array([32.0, 96.0]), np.array([64.0, 64.0])
    weights = np.sqrt(np.array([1.0, 100.0]))
    anchors = (x, y, weights / weights.sum(), 4.0)
    common = dict(sensor=SensorGeometry(depletion_um=15.0), mix=(0, 0, 1), n_events=200, anchor_fraction=1.0)
    charge = simulate_cosmic_rays((128, 128), rng=np.random.default_rng(3), anchors=anchors, **common)
    bright, faint = charge[:, 64:].sum(), charge[:, :64].sum()
    assert bright > 5 * faint  # ten times the weight: ~10x the hits
    yy, xx = np.nonzero(charge[:, 64:] > 0)
    radius = np.hypot(xx + 64 - 96, yy - 64)
    assert np.mean(radius > 3.0) > 0.3  # spread over the wings, not only the centre pixel


def test_heavy_ions_make_hits_tens_to_hundreds_of_times_brighter():
    common = dict(sensor=SensorGeometry(depletion_um=15.0), mix=(0.5, 0, 0.5), n_events=300)
    plain = simulate_cosmic_rays((128, 128), rng=np.random.default_rng(9), **common)
    ions = simulate_cosmic_rays((128, 128), rng=np.random.default_rng(9), ion_fraction=0.5, **common)
    assert ions.max() > 20 * plain.max()
    assert ions.sum() > 5 * plain.sum()
    # Off, nothing is drawn: the stream is untouched.
    again = simulate_cosmic_rays((128, 128), rng=np.random.default_rng(9), ion_fraction=0.0, **common)
    np.testing.assert_array_equal(again, plain)


def test_saturated_pixels_can_be_left_out_of_the_loss():
    # Sharp space PSFs and many bright stars: small saturated plateaus.
    crowded = dataclasses.replace(PROFILES["space"], bright_stars_per_mpix=300.0)
    kwargs = dict(size=128, profiles=[crowded], seed=45, split="validation", cr_rate=(1.5, 1.5))
    negative = build_pool(4, **kwargs)
    ignored = build_pool(4, saturated="ignore", **kwargs)
    exposures = [simulate_exposure((128, 128), seed=45 + i, profile=crowded, split="validation", cr_rate=1.5)
                 for i in range(4)]
    saturated = np.stack([e.saturated_mask & ~e.cr_mask for e in exposures])
    assert saturated.any()
    assert np.all(ignored.weight[saturated] == 0)
    assert np.all(negative.weight[saturated & ~np.stack([e.ignore_mask for e in exposures])] == 1)
    np.testing.assert_array_equal(negative.weight[~saturated], ignored.weight[~saturated])
    with pytest.raises(ValueError, match="saturated"):
        build_pool(1, saturated="maybe", **kwargs)


def test_only_saturated_stars_bleeds_stay_negatives():
    shape = (40, 40)
    saturated, bled, star = (np.zeros(shape, bool) for _ in range(3))
    saturated[5:20, 10] = saturated[11:14, 9:12] = True  # a star's core and its bleed
    bled[4, 10] = bled[20, 10] = True
    star[10:15, 8:13] = True
    saturated[30:33, 30] = True  # a hot pixel's short bleed, on empty sky
    bled[29, 30] = bled[33, 30] = True
    saturated[30:32, 5] = True  # an undersampled star: a saturated core of 2 px
    star[29:33, 4:7] = True
    exposure = SimpleNamespace(saturated_mask=saturated, bled_mask=bled, star_core_mask=star)
    ambiguous = ambiguous_plateaus(exposure)
    assert not ambiguous[:25].any()  # the star's bleed, ends included, teaches "not a cosmic ray"
    np.testing.assert_array_equal(ambiguous[25:], (saturated | bled)[25:])
    assert MIN_STAR_PLATEAU > 2


def test_star_bleeds_leave_hot_pixels_bleeds_out_of_the_loss():
    # Long exposures with many hot pixels: some saturate and bleed along their column.
    hot = dataclasses.replace(PROFILES["ground_thin"], hot_fraction=3e-3, bright_stars_per_mpix=200.0,
                              exptime=3000.0)
    kwargs = dict(size=128, profiles=[hot], seed=51, split="validation", cr_rate=(1.0, 1.0))
    pool = build_pool(3, saturated="star_bleeds", hot_pixels="ignore", **kwargs)
    exposures = [simulate_exposure((128, 128), seed=51 + i, profile=hot, split="validation", cr_rate=1.0)
                 for i in range(3)]
    ambiguous = np.stack([ambiguous_plateaus(e) & ~e.cr_mask for e in exposures])
    plateaus = np.stack([(e.saturated_mask | e.bled_mask) & ~e.cr_mask & ~e.ignore_mask & ~e.hot_pixel_mask
                         for e in exposures])
    bled = np.stack([e.bled_mask for e in exposures])
    assert (ambiguous & bled).any() and (plateaus & ~ambiguous).any()
    assert np.all(pool.weight[ambiguous] == 0)
    assert np.all(pool.weight[plateaus & ~ambiguous] == 1)


def test_sharp_hits_have_no_wings():
    common = dict(sensor=SensorGeometry(depletion_um=40.0, diffusion_um=6.0), mix=(0, 0, 1), n_events=60)
    plain = simulate_cosmic_rays((128, 128), rng=np.random.default_rng(11), **common)
    sharp = simulate_cosmic_rays((128, 128), rng=np.random.default_rng(11), sharp_fraction=1.0, **common)
    # The same charge, packed into fewer pixels.
    assert np.isclose(sharp.sum(), plain.sum(), rtol=0.02)
    assert (sharp > 1.0).sum() < 0.5 * (plain > 1.0).sum()
    again = simulate_cosmic_rays((128, 128), rng=np.random.default_rng(11), sharp_fraction=0.0, **common)
    np.testing.assert_array_equal(again, plain)


def test_whole_bad_columns_have_no_ends_inside_the_frame():
    from crclean.training._defects import bad_columns

    _, _, parts = bad_columns((64, 64), rng=np.random.default_rng(2), n_columns=6)
    _, _, whole = bad_columns((64, 64), rng=np.random.default_rng(2), n_columns=6, whole=True)
    assert np.array_equal(parts.any(axis=0), whole.any(axis=0))  # the same columns
    assert not parts[:, parts.any(axis=0)].all()  # some segments end inside the frame
    assert whole[:, whole.any(axis=0)].all()


def test_hits_on_star_cores_are_about_as_bright_as_the_star():
    from crclean.training._cosmic_sim import render_charge
    from crclean.training._hit_variants import hits_on_star_cores

    rng = np.random.default_rng(3)
    stars = (np.linspace(20, 495, 20), np.full(20, 30.0), np.geomspace(100.0, 1e4, 20))  # 25 px apart
    x, y, charge, sigma = hits_on_star_cores(rng, stars, 1.0, fwhm=3.0, max_sigma_px=0.8)
    image = render_charge((60, 520), x, y, charge, sigma)
    for sx, peak in zip(stars[0], stars[2]):
        near = image[20:41, int(sx) - 10:int(sx) + 11]
        assert 0.1 * peak < near.max() < 6 * peak  # drawn 0.2-5x, spread by diffusion
        hit = np.argwhere(near > 0.05 * near.max()) - 10
        assert np.abs(hit).max() <= 8  # on the core: within ~0.4 FWHM, plus a bar's half-length
    # A bleeding share carries an alpha particle's charge; drawn last, it leaves the rest as it was.
    bled = hits_on_star_cores(np.random.default_rng(3), stars, 1.0, fwhm=3.0, max_sigma_px=0.8, bleeding=1.0)
    np.testing.assert_array_equal(bled[0], x)
    assert render_charge((60, 520), *bled).max() > 1e5 and bled[2].sum() >= 20 * 3e5 * 0.999
    # Off: nothing drawn, the stream untouched.
    before = np.random.default_rng(3)
    assert all(a.size == 0 for a in hits_on_star_cores(before, stars, 0.0, fwhm=3.0, max_sigma_px=0.8))
    assert before.uniform() == np.random.default_rng(3).uniform()


def test_core_hits_add_truth_on_star_cores_only():
    common = dict(profile="wide_ground", hard_cases=True, extras=("source_hits",))
    for seed in range(36000000, 36000004):
        plain = simulate_exposure((128, 128), seed=seed, **common)
        hit = simulate_exposure((128, 128), seed=seed, **{**common, "extras": ("source_hits", "core_hits")})
        np.testing.assert_array_equal(plain.clean_adu, hit.clean_adu)
        added = (hit.cr_electrons - plain.cr_electrons) > 0
        if added.any():
            break
    assert added.any()
    near_core = ndimage.binary_dilation(hit.star_core_mask, iterations=6)
    assert np.all(near_core[added])
    assert (hit.cr_mask & hit.star_core_mask).sum() > (plain.cr_mask & plain.star_core_mask).sum()


def test_defect_anchors_share_hits_equally_between_bad_columns_and_saturated_stars():
    from crclean.training._hit_variants import defect_anchors

    bad, saturated = np.zeros((64, 64), bool), np.zeros((64, 64), bool)
    assert defect_anchors(bad, saturated) is None
    bad[:, 10] = True            # 64 pixels of a bad column
    saturated[30:34, 40] = True  # 4 pixels of a bleed
    x, y, weights, spread = defect_anchors(bad, saturated)
    on_column = x == 10
    assert np.isclose(weights[on_column].sum(), 0.5) and np.isclose(weights[~on_column].sum(), 0.5)
    assert set(zip(y[~on_column].astype(int), x[~on_column].astype(int))) == {(r, 40) for r in range(30, 34)}


def _exposures_aimed(base, field, fraction, cr_rate):
    """Three exposures of ``base`` with ``field`` (a share of hits aimed somewhere) set to ``fraction``;
    aiming moves hits only, so each clean scene is the one made without it."""
    for seed in range(3):
        exposure = simulate_exposure((256, 256), seed=seed, profile=dataclasses.replace(base, **{field: fraction}),
                                     cr_rate=cr_rate)
        if fraction:
            plain = simulate_exposure((256, 256), seed=seed, profile=base, cr_rate=cr_rate)
            np.testing.assert_array_equal(plain.clean_adu, exposure.clean_adu)
        yield exposure


def test_defect_hits_start_on_defects_and_leave_the_clean_exposure_alone():
    damaged = dataclasses.replace(PROFILES["ground_thin"], bad_columns_per_kcol=20.0)
    share = {}
    for fraction in (0.0, 1.0):
        touching = events = 0
        for exposure in _exposures_aimed(damaged, "defect_hits", fraction, cr_rate=1.0):
            labels, n = ndimage.label(exposure.cr_electrons > 0, np.ones((3, 3)))
            beside = ndimage.binary_dilation(exposure.defect_mask, iterations=2)
            touching += np.unique(labels[beside & (labels > 0)]).size
            events += n
        share[fraction] = touching / events
    # Without the extra hits meet defects by chance; the real LSST footprints are never aimed.
    assert share[0.0] < 0.2 and share[1.0] > 0.6


def _second_moments(image):
    """Axis ratio and major-axis angle (radians, 0-pi) of ``image``'s light from its second moments."""
    yy, xx = np.indices(image.shape)
    total = image.sum()
    cx, cy = (xx * image).sum() / total, (yy * image).sum() / total
    qxx, qyy = ((xx - cx) ** 2 * image).sum() / total, ((yy - cy) ** 2 * image).sum() / total
    qxy = ((xx - cx) * (yy - cy) * image).sum() / total
    eig = np.linalg.eigvalsh([[qxx, qxy], [qxy, qyy]])
    return np.sqrt(eig[0] / eig[1]), 0.5 * np.arctan2(2 * qxy, qxx - qyy) % np.pi


def test_long_psfs_reach_axis_ratio_0_3_with_the_same_draws():
    plain = [draw_profile("wide_ground", np.random.default_rng(seed), extras=("elongated_psfs",))
             for seed in range(200)]
    long = [draw_profile("wide_ground", np.random.default_rng(seed), extras=("elongated_psfs", "long_psfs"))
            for seed in range(200)]
    ratios = np.array([d.psf_axis_ratio for d in long])
    assert ratios.min() >= 0.3 and (ratios < 0.5).sum() >= 20
    # the same exposures are stretched, at the same angles, and nothing else is drawn otherwise
    assert [d.psf_axis_ratio < 1 for d in plain] == [d.psf_axis_ratio < 1 for d in long]
    assert [d.psf_angle for d in plain] == [d.psf_angle for d in long]
    assert [d.fwhm_range for d in plain] == [d.fwhm_range for d in long]


def test_more_source_hits_doubles_the_hits_on_sources_with_the_same_draws():
    extras = ("source_hits", "core_hits", "elongated_psfs", "long_psfs")
    plain = [draw_profile("wide_ground", np.random.default_rng(seed), extras=extras) for seed in range(100)]
    more = [draw_profile("wide_ground", np.random.default_rng(seed), extras=(*extras, "more_source_hits"))
            for seed in range(100)]
    np.testing.assert_allclose([d.cr_on_sources for d in more], [2 * d.cr_on_sources for d in plain])
    np.testing.assert_allclose([d.core_hits for d in more], [2 * d.core_hits for d in plain])
    assert max(d.core_hits for d in more) > 0.6 and max(d.cr_on_sources for d in more) > 0.5
    # nothing else about the exposures changes
    assert [d.psf_axis_ratio for d in plain] == [d.psf_axis_ratio for d in more]
    assert [d.fwhm_range for d in plain] == [d.fwhm_range for d in more]
    # without the extras it scales, it adds nothing
    bare = draw_profile("wide_ground", np.random.default_rng(3), extras=("more_source_hits",))
    assert bare.cr_on_sources == draw_profile("wide_ground", np.random.default_rng(3)).cr_on_sources
    assert bare.core_hits == 0.0


def test_more_ground_source_hits_doubles_the_hits_on_sources_on_ground_exposures_only():
    extras = ("source_hits", "core_hits", "elongated_psfs", "long_psfs")
    for name, factor in (("wide_ground", 2.0), ("wide_space", 1.0)):
        plain = [draw_profile(name, np.random.default_rng(seed), extras=extras) for seed in range(60)]
        more = [draw_profile(name, np.random.default_rng(seed), extras=(*extras, "more_ground_source_hits"))
                for seed in range(60)]
        np.testing.assert_allclose([d.cr_on_sources for d in more], [factor * d.cr_on_sources for d in plain])
        np.testing.assert_allclose([d.core_hits for d in more], [factor * d.core_hits for d in plain])
        assert [d.psf_axis_ratio for d in plain] == [d.psf_axis_ratio for d in more]
    # with more_source_hits too, space exposures take the doubled shares as before
    both = draw_profile("wide_space", np.random.default_rng(5), extras=(*extras, "more_source_hits",
                                                                        "more_ground_source_hits"))
    assert both.core_hits == 2 * draw_profile("wide_space", np.random.default_rng(5), extras=extras).core_hits


def test_elongated_psfs_stretch_every_star_the_same_way():
    draws = [draw_profile("wide_ground", np.random.default_rng(seed), extras=("elongated_psfs",))
             for seed in range(200)]
    ratios = np.array([d.psf_axis_ratio for d in draws])
    assert 0.45 < np.mean(ratios < 1) < 0.75 and ratios.min() >= 0.5
    # In an exposure only the sources change shape: hits, noise and defects are drawn as before.
    round_frame = simulate_exposure((96, 96), seed=2, profile="ground_thin")
    stretched_profile = dataclasses.replace(PROFILES["ground_thin"], psf_axis_ratio=0.55, psf_angle=1.0)
    stretched_frame = simulate_exposure((96, 96), seed=2, profile=stretched_profile)
    np.testing.assert_array_equal(stretched_frame.cr_electrons, round_frame.cr_electrons)
    assert np.abs(stretched_frame.clean_adu - round_frame.clean_adu).max() > 10 * PROFILES["ground_thin"].readnoise
    from crclean.training import _scene
    round_star = _scene.render_stars((41, 41), [20.0], [20.0], [1e5], _scene.moffat_profile(4.0), fwhm=4.0,
                                     oversample=3)
    stretched = _scene.render_stars((41, 41), [20.0], [20.0], [1e5],
                                    _scene.elongated(_scene.moffat_profile(4.0), 0.55, 1.0), fwhm=4.0, oversample=3)
    ratio, angle = _second_moments(stretched)
    assert ratio == pytest.approx(0.55, abs=0.06) and angle == pytest.approx(1.0, abs=0.05)
    assert _second_moments(round_star)[0] == pytest.approx(1.0, abs=0.01)
    # The same flux and about the same peak: the ellipse keeps the round PSF's area.
    assert stretched.sum() == pytest.approx(round_star.sum(), rel=1e-3)
    assert stretched.max() == pytest.approx(round_star.max(), rel=0.1)
    with pytest.raises(ValueError, match="axis_ratio"):
        _scene.elongated(_scene.moffat_profile(4.0), 0.0, 0.0)


def test_axis_psfs_stretch_stars_along_a_row_or_a_column_and_leave_the_other_draws_alone():
    extras = ("elongated_psfs", "many_grazing_tracks", "axis_edges")
    plain = [draw_profile("wide_ground", np.random.default_rng(seed), extras=extras) for seed in range(300)]
    along = [draw_profile("wide_ground", np.random.default_rng(seed), extras=extras + ("axis_psfs",))
             for seed in range(300)]
    changed = [a for p, a in zip(plain, along) if a != p]
    assert 0.2 < len(changed) / len(along) < 0.4
    assert {a.psf_angle for a in changed} == {0.0, np.pi / 2}
    assert all(0.4 <= a.psf_axis_ratio <= 0.8 for a in changed)
    # Apart from the PSF, every draw is the one made without the extra.
    for p, a in zip(plain, along):
        assert dataclasses.replace(a, psf_axis_ratio=p.psf_axis_ratio, psf_angle=p.psf_angle) == p
    from crclean.training import _scene
    star = _scene.render_stars((41, 41), [20.0], [20.0], [1e5],
                               _scene.elongated(_scene.moffat_profile(3.0), 0.5, np.pi / 2), fwhm=3.0, oversample=3)
    ratio, angle = _second_moments(star)
    assert ratio == pytest.approx(0.5, abs=0.06) and angle == pytest.approx(np.pi / 2, abs=0.05)


def test_ground_axis_features_leave_space_exposures_as_they_were_and_ground_ones_untouched():
    axis = ("many_grazing_tracks", "axis_edges", "axis_psfs")

    def draw(name, seed, extras):
        return draw_profile(name, np.random.default_rng(seed), extras=("elongated_psfs",) + extras)

    for seed in range(40):
        assert draw("wide_ground", seed, axis + ("ground_axis_features",)) == draw("wide_ground", seed, axis)
        assert draw("wide_space", seed, axis + ("ground_axis_features",)) == draw("wide_space", seed, ())
    assert any(draw_profile("wide_space", np.random.default_rng(seed), extras=axis).grazing_tracks > 0
               for seed in range(5))


def test_grazing_tracks_are_long_and_close_to_a_pixel_axis():
    sensor = SensorGeometry(depletion_um=20.0, diffusion_um=0.5)  # thin: without grazing, tracks are short
    kwargs = dict(rng=None, sensor=sensor, mix=(1, 0, 0), n_events=12, cos_power=3.0)
    plain = simulate_cosmic_rays((600, 600), **{**kwargs, "rng": np.random.default_rng(2)})
    grazing = simulate_cosmic_rays((600, 600), **{**kwargs, "rng": np.random.default_rng(2)}, grazing_fraction=1.0)
    labels, _ = ndimage.label(grazing > 30, structure=np.ones((3, 3)))
    spans = [(s[0].stop - s[0].start, s[1].stop - s[1].start) for s in ndimage.find_objects(labels)]
    long = [(h, w) for h, w in spans if max(h, w) >= 20]
    assert len(long) >= 6
    # within 8 degrees of an axis: across the axis at most tan(8 deg) of the length, plus the track's width
    assert all(min(h, w) <= 0.15 * max(h, w) + 4 for h, w in long)
    plain_labels, _ = ndimage.label(plain > 30, structure=np.ones((3, 3)))
    assert max(max(s[0].stop - s[0].start, s[1].stop - s[1].start)
               for s in ndimage.find_objects(plain_labels)) < 20


def test_grazing_tracks_leave_other_data_as_they_were():
    a = draw_profile("wide_ground", np.random.default_rng(11), extras=("sharp_hits",))
    b = draw_profile("wide_ground", np.random.default_rng(11), extras=("sharp_hits", "grazing_tracks"))
    assert dataclasses.replace(b, grazing_tracks=0.0) == a and 0.05 <= b.grazing_tracks <= 0.2
    many = draw_profile("wide_ground", np.random.default_rng(11), extras=("sharp_hits", "many_grazing_tracks"))
    assert dataclasses.replace(many, grazing_tracks=0.0) == a and 0.2 <= many.grazing_tracks <= 0.5


def test_axis_edges_are_sharp_steps_and_rectangles_in_the_scene_not_cosmic_rays():
    from crclean.training._scene import render_axis_edges

    edges = render_axis_edges((300, 300), rng=np.random.default_rng(3), n=6, sky_sigma=10.0)
    assert edges.min() >= 0 and edges.max() >= 20.0
    # Piecewise constant, changing only across a few whole rows or columns: edges as sharp as a pixel.
    rows_with_steps = np.count_nonzero(np.any(np.diff(edges, axis=0) != 0, axis=1))
    columns_with_steps = np.count_nonzero(np.any(np.diff(edges, axis=1) != 0, axis=0))
    assert 0 < rows_with_steps + columns_with_steps <= 4 * 6  # a rectangle has four edges, a step one
    profile = dataclasses.replace(PROFILES["ground_thin"], axis_edges_per_mpix=200.0)
    exposure = simulate_exposure((128, 128), seed=12, profile=profile)
    plain = simulate_exposure((128, 128), seed=12, profile="ground_thin")
    assert not np.array_equal(exposure.clean_adu, plain.clean_adu)
    assert not (exposure.cr_mask & (exposure.cr_electrons <= 0)).any()


def test_lumpy_ground_psfs_are_the_lumpy_draws_on_the_ground_and_none_in_space():
    for seed in range(40):
        ground, space = ([draw_profile(name, np.random.default_rng(seed), extras=(extra,))
                          for extra in ("lumpy_psfs", "lumpy_ground_psfs")] for name in ("wide_ground", "wide_space"))
        assert ground[1] == ground[0]
        assert space[1] == dataclasses.replace(space[0], psf_lumps=())
    assert any(draw_profile("wide_space", np.random.default_rng(seed), extras=("lumpy_psfs",)).psf_lumps
               for seed in range(40))  # so the space draws above had lumps to drop


def test_lumpy_psfs_give_stars_several_peaks_centred_where_a_smooth_star_is():
    from crclean.training import _scene
    from crclean.training._wide_profiles import lumpy_psf_lumps

    draws = [draw_profile("wide_ground", np.random.default_rng(seed), extras=("lumpy_psfs",)) for seed in range(200)]
    lumpy_share = np.mean([len(d.psf_lumps) > 0 for d in draws])
    assert 0.2 < lumpy_share < 0.4
    plain = draw_profile("wide_ground", np.random.default_rng(5))
    assert dataclasses.replace(draw_profile("wide_ground", np.random.default_rng(5), extras=("lumpy_psfs",)),
                               psf_lumps=()) == plain  # nothing else drawn differently
    for seed in range(20):
        fwhm = 1.0 + 0.25 * seed
        lumps = lumpy_psf_lumps(np.random.default_rng(seed), fwhm)
        assert 2 <= len(lumps) <= 3 and sum(w for _, _, w, _ in lumps) == pytest.approx(1.0)
        # No copy sharper than a 1.2 px PSF (a lump that sharp would look like a hit), none wider than the PSF.
        assert all(min(1.2, fwhm) - 1e-9 <= size * fwhm <= fwhm + 1e-9 for _, _, _, size in lumps)
    # Two copies 1.6 px apart: two peaks, the same flux, the centroid unmoved.
    profile = _scene.lumpy(_scene.moffat_profile(2.0), [(-0.8, 0.0, 0.5, 0.5), (0.8, 0.0, 0.5, 0.5)])
    star = _scene.render_stars((41, 41), [20.0], [20.0], [1e5], profile, fwhm=2.0, oversample=8)
    assert star.sum() == pytest.approx(1e5, rel=1e-3)
    ys, xs = np.mgrid[:41, :41]
    assert (star * xs).sum() / star.sum() == pytest.approx(20.0, abs=0.01)
    row = star[20]
    assert row[19] > row[20] < row[21]  # a dip between the two copies
    smooth = _scene.render_stars((41, 41), [20.0], [20.0], [1e5], _scene.moffat_profile(2.0), fwhm=2.0,
                                 oversample=8)
    assert smooth[20, 19] < smooth[20, 20] > smooth[20, 21]
    # In an exposure only the sources change: hits, noise and defects are drawn as before.
    base = PROFILES["ground_thin"]
    frames = [simulate_exposure((96, 96), seed=2, profile=dataclasses.replace(base, psf_lumps=lumps))
              for lumps in ((), ((-0.4, 0.0, 0.5, 0.6), (0.4, 0.0, 0.5, 0.6)))]
    np.testing.assert_array_equal(frames[1].cr_electrons, frames[0].cr_electrons)
    assert np.abs(frames[1].clean_adu - frames[0].clean_adu).max() > 10 * base.readnoise


def test_source_footprints_put_real_footprints_on_bright_sources_and_leave_the_other_draws_alone():
    extras = ("source_hits", "defect_hits", "axis_psfs")
    for seed in range(40):
        plain = draw_profile("wide_ground", np.random.default_rng(seed), extras=extras)
        aimed = draw_profile("wide_ground", np.random.default_rng(seed), extras=extras + ("source_footprints",))
        assert 0.1 <= aimed.footprints_on_sources <= 0.3
        assert dataclasses.replace(aimed, footprints_on_sources=0.0) == plain
    # Every hit a real footprint; bright galaxies and stars; all footprints aimed or none.
    on_sources = {}
    for share in (0.0, 1.0):
        inside = total = 0.0
        for exposure in _exposures_aimed(PROFILES["ground_thick"], "footprints_on_sources", share, cr_rate=0.5):
            source = exposure.clean_adu - np.median(exposure.clean_adu)
            bright = source > 20 * np.median(np.abs(source - np.median(source)))
            inside += exposure.cr_electrons[ndimage.binary_dilation(bright, iterations=2)].sum()
            total += exposure.cr_electrons.sum()
        on_sources[share] = inside / total
    assert on_sources[1.0] > max(0.1, 3 * on_sources[0.0])
