"""Wider lens, source and PSF families: what they draw, and that they leave earlier banks and scenes alone."""

import numpy as np
import pytest

from crclean.training.lenses import build_bank, compose_scene
from crclean.training.lenses._lens_families import draw_source_family, lens_light, source_light
from crclean.training.lenses._profiles import grid
from crclean.training.lenses._psf_families import kolmogorov_kernel, stretched
from crclean.training.lenses._scene import gaussian_kernel, moffat_kernel
from crclean.training.lenses._stamps import lens_stamp


def _moments(image):
    """Axis ratio and position angle (radians, from +x towards +y) from second moments about the centre."""
    ny, nx = image.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    total = image.sum()
    cx, cy = (image * xx).sum() / total, (image * yy).sum() / total
    dx, dy = xx - cx, yy - cy
    ixx, iyy, ixy = ((image * dx * dx).sum(), (image * dy * dy).sum(), (image * dx * dy).sum())
    low, high = np.linalg.eigvalsh([[ixx, ixy], [ixy, iyy]])
    return float(np.sqrt(low / high)), float(0.5 * np.arctan2(2 * ixy, ixx - iyy))


def _profile(kernel):
    """The profile along +x from the centre, in units of the peak, one value per pixel offset."""
    centre = kernel.shape[0] // 2
    return kernel[centre, centre:] / kernel[centre, centre]


def test_kolmogorov_kernel_has_the_asked_fwhm_and_wings_between_gaussian_and_moffat():
    fwhm = 8.0
    kolmogorov = kolmogorov_kernel(fwhm)
    assert kolmogorov.sum() == pytest.approx(1.0) and kolmogorov.min() >= 0
    profile = _profile(kolmogorov)
    assert np.interp(fwhm / 2, np.arange(profile.size), profile) == pytest.approx(0.5, abs=0.02)

    def wing(kernel):
        axis = np.arange(kernel.shape[0]) - kernel.shape[0] // 2
        return kernel[np.hypot(*np.meshgrid(axis, axis)) > 1.5 * fwhm].sum()

    size = kolmogorov.shape[0]
    assert wing(gaussian_kernel(fwhm, size=size)) < wing(kolmogorov) < wing(moffat_kernel(fwhm, 2.5, size=size))


@pytest.mark.parametrize("axis_ratio, angle", [(0.8, 0.3), (0.6, 1.2), (1.0, 0.0)])
def test_stretched_kernel_has_the_asked_axis_ratio_and_angle(axis_ratio, angle):
    kernel = stretched(gaussian_kernel(7.0, size=41), axis_ratio, angle)
    assert kernel.sum() == pytest.approx(1.0) and kernel.min() >= 0
    measured_ratio, measured_angle = _moments(kernel)
    assert measured_ratio == pytest.approx(axis_ratio, abs=0.03)
    if axis_ratio < 1:
        assert measured_angle == pytest.approx(angle, abs=0.05)
    with pytest.raises(ValueError, match="axis_ratio must be within"):
        stretched(kernel, 0.0, 0.0)


def test_source_families_are_drawn_by_their_shares_and_look_their_part():
    rng = np.random.default_rng(2)
    families = [draw_source_family(rng) for _ in range(4000)]
    shares = {name: families.count(name) / 4000 for name in ("irregular", "elongated", "disk")}
    assert shares == pytest.approx({"irregular": 0.35, "elongated": 0.15, "disk": 0.50}, abs=0.03)

    x, y = grid(96, 0.05)  # the source plane itself, finely sampled and wide enough to hold each source
    elongated = [source_light(np.random.default_rng(s), "elongated", x, y, (0.0, 0.0), 0.2) for s in range(10)]
    assert max(_moments(image)[0] for image in elongated) < 0.45
    from scipy.ndimage import maximum_filter

    def blobs(image):
        return int(((image == maximum_filter(image, 5)) & (image > 0.05 * image.max())).sum())

    irregular = [source_light(np.random.default_rng(s), "irregular", x, y, (0.0, 0.0), 0.3) for s in range(20)]
    assert np.mean([blobs(image) for image in irregular]) >= 2.0
    with pytest.raises(ValueError, match="unknown source family"):
        source_light(rng, "spiral", x, y, (0.0, 0.0), 0.2)


def test_lens_light_draws_the_first_banks_sersic_unless_varied():
    from crclean.training.lenses._profiles import normalised, sersic

    x, y = grid(64, 0.2)
    plain = lens_light(np.random.default_rng(3), x, y, theta_e=1.5, q=0.8, phi=0.3, centre=(0.0, 0.0), varied=False)
    rng = np.random.default_rng(3)
    expected = normalised(sersic(x, y, r_eff=1.5 * rng.uniform(0.4, 1.2), n=rng.uniform(2.5, 5.0), q=0.8, phi=0.3))
    assert np.array_equal(plain, expected)

    def drawn(seed, varied):
        return lens_light(np.random.default_rng(seed), x, y, theta_e=1.5, q=0.8, phi=0.3, centre=(0.0, 0.0),
                          varied=varied)

    varied = [drawn(seed, True) for seed in range(200)]
    assert all(image.sum() == pytest.approx(1.0, abs=1e-4) and image.min() >= 0 for image in varied)
    # Bulge-plus-disk and disky galaxies are 55% of the draws; the rest are Sersic profiles of the first family.
    changed = np.mean([not np.allclose(image, drawn(seed, False)) for seed, image in enumerate(varied)])
    assert changed > 0.5


def test_varied_lenses_keep_theta_e_and_a_box_and_leave_the_default_alone():
    def lenses(varied):
        rng = np.random.default_rng(9)
        return [lens_stamp(rng, size=48, pixel_scale=0.2, wide=True, varied=varied) for _ in range(12)]

    default, again, varied = lenses(False), lenses(False), lenses(True)
    assert all(np.array_equal(a["arcs"], b["arcs"]) and np.array_equal(a["lens"], b["lens"])
               for a, b in zip(default, again))
    # theta_E is the first draw, so the first lens keeps it; the families change what follows.
    assert varied[0]["theta_e"] == default[0]["theta_e"]
    assert any(not np.allclose(a["arcs"], b["arcs"]) for a, b in zip(default, varied))
    assert all(s["arc_mask"].any() and s["arcs"].sum() == pytest.approx(1.0, abs=1e-4) for s in varied)
    plain = build_bank(7, n_lenses=2, n_negatives=4, n_field=2, size=48)
    same = build_bank(7, n_lenses=2, n_negatives=4, n_field=2, size=48, varied_lenses=False)
    assert np.array_equal(plain.arcs, same.arcs) and np.array_equal(plain.negatives, same.negatives)


def test_psf_families_change_star_shapes_only_when_asked():
    from crclean.training.lenses._scene import _observe

    point = np.zeros((64, 64))
    point[32, 32] = 1e9  # so bright that the noise cannot round or stretch it

    def seen(seed, **options):
        return _observe(np.random.default_rng(seed), point, 0.2, 1.0, sigma=1.0, sky_level=0.0,
                        psf_beta_range=(2.5, 4.5), gaussian_psf_fraction=0.25, gain_range=(20.0, 20.0),
                        saturation_fraction=0.0, **options)[0]

    assert all(np.array_equal(seen(s), seen(s, psf_families=False)) for s in range(3))
    round_ratios = [_moments(seen(s)[16:49, 16:49])[0] for s in range(10)]
    assert min(round_ratios) > 0.98
    ratios = np.array([_moments(seen(s, psf_families=True)[16:49, 16:49])[0] for s in range(60)])
    # Half the PSFs are stretched to axis ratios of 0.8-1 (uniform): about a fifth come out below 0.9.
    assert 0.1 < np.mean(ratios < 0.9) < 0.4 and np.mean(ratios > 0.98) > 0.4 and ratios.min() > 0.77


def test_config_takes_the_new_options_and_refuses_bad_values():
    from crclean.training.lenses import load_lens_config

    config = load_lens_config({"bank": {"varied_lenses": True}, "scene": {"psf_families": True}})
    assert config["bank"]["varied_lenses"] is True and config["scene"]["psf_families"] is True
    with pytest.raises(ValueError, match="psf_families must be true or false, got 'yes'"):
        load_lens_config({"scene": {"psf_families": "yes"}})


def test_chance_alignments_are_unlensed_lenses_and_only_in_banks_that_ask():
    from crclean.training.lenses._stamps import negative_stamp

    rng = np.random.default_rng(4)
    stamps = [negative_stamp(rng, "alignment", size=64, pixel_scale=0.2, with_young=True, varied=True)
              for _ in range(20)]
    radius = np.hypot(*np.meshgrid(np.arange(64) - 31.5, np.arange(64) - 31.5)) * 0.2
    for image, young in stamps:
        assert image.sum() == pytest.approx(1.0, abs=1e-4) and np.all(young <= image) and young.sum() > 0
        # The background galaxies sit beside the galaxy (0.35-3.9 arcsec out), not on its centre.
        assert (young * radius).sum() / young.sum() > 0.3
    assert len({round(float(image.max()), 6) for image, _ in stamps}) == 20  # each drawn anew
    plain = build_bank(7, n_lenses=2, n_negatives=8, n_field=2, size=48)
    mixed = build_bank(7, n_lenses=2, n_negatives=10, n_field=2, size=48, unlensed_negatives=True)
    assert list(plain.negative_kinds) == ["ring", "spiral", "pair", "edge_on"] * 2
    assert list(mixed.negative_kinds) == ["ring", "spiral", "pair", "edge_on", "alignment"] * 2
    assert np.array_equal(plain.lens, mixed.lens) and np.array_equal(plain.negatives[:4], mixed.negatives[:4])
    with pytest.raises(ValueError, match="kind must be one of"):
        negative_stamp(rng, "bar", size=48, pixel_scale=0.2)
