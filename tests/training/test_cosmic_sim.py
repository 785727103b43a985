"""Physical cosmic-ray simulation."""

import numpy as np
import pytest
from scipy import ndimage

from crclean.training._cosmic_sim import (
    THICK_SENSOR,
    THIN_SENSOR,
    SensorGeometry,
    render_charge,
    sample_zenith,
    simulate_cosmic_rays,
    track_length_px,
)


def test_track_length_is_depth_tan_theta_over_pitch():
    assert track_length_px(15.0, np.pi / 4, 15.0) == pytest.approx(1.0)
    assert track_length_px(100.0, np.radians(60), 10.0) == pytest.approx(10 * np.sqrt(3))


def test_zenith_distribution_follows_cos_power():
    rng = np.random.default_rng(0)
    ground = sample_zenith(20000, rng=rng, cos_power=3.0)
    space = sample_zenith(20000, rng=rng, cos_power=1.0)
    # E[cos] = (p + 1) / (p + 2) for density cos^p sin.
    assert np.cos(ground).mean() == pytest.approx(0.8, abs=0.01)
    assert np.cos(space).mean() == pytest.approx(2 / 3, abs=0.01)
    assert ground.min() >= 0 and ground.max() < np.pi / 2


def test_render_conserves_charge_inside_the_image():
    x = np.array([10.3, 20.0, 15.5])
    y = np.array([12.7, 8.0, 30.1])
    q = np.array([1000.0, 50.0, 7.0])
    out = render_charge((40, 40), x, y, q, np.array([0.01, 0.8, 2.0]))
    assert out.sum() == pytest.approx(q.sum())
    # A tiny sigma puts the whole packet in its own pixel.
    assert out[13, 10] == pytest.approx(1000.0, rel=1e-6)


def _tracks_only(sensor, seed):
    return simulate_cosmic_rays((256, 256), rng=np.random.default_rng(seed), sensor=sensor,
                                mix=(1, 0, 0), n_events=200, cos_power=1.0)


def test_tracks_are_longer_in_thicker_sensors():
    # Same seed: same angles and positions, only the depletion depth differs.
    thin = _tracks_only(THIN_SENSOR, 4)
    thick = _tracks_only(SensorGeometry(pixel_pitch_um=15.0, depletion_um=100.0,
                                        diffusion_um=3.0), 4)
    threshold = 100.0
    assert (thick > threshold).sum() > 3 * (thin > threshold).sum()
    # Deposited charge scales with the path in silicon.
    assert thick.sum() > 4 * thin.sum()


def test_mip_charge_is_about_80_electrons_per_micron():
    # Vertical-ish tracks through 100 um: most probable total ~ 8000 e-.
    rng = np.random.default_rng(2)
    totals = [simulate_cosmic_rays((64, 64), rng=rng, sensor=THICK_SENSOR, mix=(1, 0, 0),
                                   n_events=1, cos_power=200.0).sum() for _ in range(60)]
    assert 7000 < np.median(totals) < 11000


def test_rate_sets_the_number_of_events():
    rng = np.random.default_rng(0)
    # 1024^2 15 um pixels = 2.36 cm^2; 2 /cm^2/s * 100 s = ~470 spots.
    out = simulate_cosmic_rays((1024, 1024), rng=rng, rate_per_cm2_s=2.0, exptime=100.0,
                               mix=(0, 0, 1))
    n_spots = ndimage.label(out > 50)[1]
    assert 380 < n_spots < 520


def test_same_seed_same_charge_other_seed_other_charge():
    a = simulate_cosmic_rays((128, 128), rng=np.random.default_rng(9), exptime=300.0)
    b = simulate_cosmic_rays((128, 128), rng=np.random.default_rng(9), exptime=300.0)
    c = simulate_cosmic_rays((128, 128), rng=np.random.default_rng(10), exptime=300.0)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.min() >= 0


def test_bad_parameters_are_named():
    rng = np.random.default_rng()
    with pytest.raises(ValueError, match="mix must be"):
        simulate_cosmic_rays((8, 8), rng=rng, mix=(1, 1))
    with pytest.raises(ValueError, match="depletion_um must be a positive number"):
        SensorGeometry(depletion_um=0)
    with pytest.raises(ValueError, match="cos_power must be > -1"):
        sample_zenith(3, rng=rng, cos_power=-2)
