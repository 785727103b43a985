"""Seeded simulated CCD exposures with exact cosmic-ray truth, for training and scoring.

`simulate_exposure` builds a sky scene (stars, galaxies), samples photon and
read noise, adds detector defects (hot pixels, bad columns, saturation with
bleed trails) and cosmic rays, either real LSST footprints (`_footprints`) or
the physical simulation (`_cosmic_sim`), and returns the image with the
truth that deepCR-style mask models need (Zhang & Bloom 2020; Xu et al. 2021).

Truth mask
----------
A pixel is a cosmic ray (``cr_mask``) when its cosmic-ray charge is at least
``MASK_THRESHOLD_SIGMA = 2`` times the noise sigma of the clean pixel,
``sqrt(expected clean electrons + readnoise**2)``, and it is not a defect.
That takes in the diffusion wings of a hit, which bias photometry when left
unflagged. Pixels with some cosmic-ray charge below that, or on a defect,
form the ignore band (``ignore_mask``): scoring neither rewards nor punishes a
model there. A lone pixel with 2 sigma of charge cannot be told from noise;
wing pixels can, by their place beside a bright hit, which is what a mask
network learns. (Models trained before crclean 0.2 used 3 sigma.)

Profiles
--------
``ground_thin``, ``ground_thick`` and ``space`` are three fixed detectors;
``wide_ground`` and ``wide_space`` draw a new detector for every exposure
from ranges as wide as the instruments people use (`_wide_profiles`).

References
----------
.. [1] Zhang, K., & Bloom, J. S. 2020, "deepCR: Cosmic Ray Rejection with Deep
   Learning", ApJ, 889, 24.
.. [2] Xu, C., et al. 2021, "Cosmic-CoNN", arXiv:2106.14922.
.. [3] van Dokkum, P. G. 2001, "Cosmic-Ray Rejection by Laplacian Edge
   Detection", PASP, 113, 1420.
.. [4] Groom, D. 2004, "Cosmic rays and other nonsense in astronomical CCD
   imagers", Experimental Astronomy, 14, 45.
"""

from dataclasses import dataclass

import numpy as np

from crclean.training import _cosmic_sim, _defects, _footprints, _scene
from crclean.training._detector import DetectorProfile
from crclean.training._exposure_psf import detector_psf, exposure_psf_shape
from crclean.training._hit_variants import defect_anchors, hits_on_star_cores
from crclean.training._wide_profiles import WIDE_PROFILES, draw_profile

__all__ = ["MASK_THRESHOLD_SIGMA", "DetectorProfile", "PROFILES", "WIDE_PROFILES", "SimulatedExposure",
           "exposure_psf_shape", "simulate_exposure"]

MASK_THRESHOLD_SIGMA = 2.0


PROFILES = {
    # A thinned ground CCD of the 1990s-2000s: short tracks, few worms.
    "ground_thin": DetectorProfile(
        name="ground_thin", sensor=_cosmic_sim.THIN_SENSOR, gain=2.0, readnoise=5.0,
        full_well=1.0e5, exptime=600.0, sky_range=(300.0, 3000.0), fwhm_range=(2.0, 6.0)),
    # A deep-depletion CCD (LSST ITL-like, 10 um pixels): the real footprints.
    "ground_thick": DetectorProfile(
        name="ground_thick",
        sensor=_cosmic_sim.SensorGeometry(pixel_pitch_um=10.0, depletion_um=100.0,
                                          diffusion_um=5.0),
        gain=1.6, readnoise=6.0, full_well=1.0e5, exptime=600.0, sky_range=(500.0, 5000.0),
        fwhm_range=(2.5, 6.0), cr_rate=0.072, cr_mix=(0.5, 0.3, 0.2), footprint_fraction=1.0),
    # HST ACS/WFC-like: sharp undersampled PSF, many short tracks, protons.
    "space": DetectorProfile(
        name="space", sensor=_cosmic_sim.THIN_SENSOR, gain=2.0, readnoise=4.0,
        full_well=8.4e4, exptime=500.0, sky_range=(20.0, 200.0), fwhm_range=(1.0, 1.6),
        psf="space", stars_per_mpix=100.0, galaxies_per_mpix=400.0, bright_stars_per_mpix=0.5,
        cr_rate=1.5, cr_mix=(0.85, 0.05, 0.10), cos_power=1.0, heavy_fraction=0.3,
        footprint_fraction=0.2, footprint_zoom=10.0 / 15.0),
}


@dataclass(frozen=True, eq=False)
class SimulatedExposure:
    """A simulated exposure and its truth. Arrays have the exposure's shape.

    Attributes
    ----------
    image_adu : numpy.ndarray
        float32 image in ADU, cosmic rays included, ``bias`` added.
    clean_adu : numpy.ndarray
        float32 image in ADU with the same sky, sources, noise and defects but no
        cosmic rays, to score inpainting: ``(image_adu - clean_adu) * gain`` equals
        ``cr_electrons`` up to float32 rounding.
    cr_electrons : numpy.ndarray
        float32 cosmic-ray charge per pixel in electrons, as it reaches the image
        (after saturation; before read noise).
    cr_mask : numpy.ndarray
        bool truth: ``cr_electrons >= MASK_THRESHOLD_SIGMA * noise_sigma_electrons``
        and not a defect.
    ignore_mask : numpy.ndarray
        bool: cosmic-ray charge too faint for ``cr_mask``, or on a defect.
    star_core_mask : numpy.ndarray
        bool: within one FWHM (at least 1.5 px) of stars peaking above 5 sky sigma.
    defect_mask : numpy.ndarray
        bool: hot pixels, bad columns and saturated pixels (never cosmic rays).
    saturated_mask : numpy.ndarray
        bool: pixels of the clean exposure at the full well, bleed trails included.
    noise_sigma_electrons : numpy.ndarray
        float32 noise sigma of the clean pixel in electrons.
    gain, readnoise, bias, exptime, sky_electrons, fwhm, full_well : float
        e-/ADU, e-, ADU, s, mean sky per pixel in e-, PSF FWHM in px, e-.
    seed : int
        The seed that reproduces the exposure.
    profile : str
        Name of the detector profile.
    split : str
        Footprint split the real cosmic rays come from.
    detector : DetectorProfile
        The detector, as drawn for a ``wide_*`` profile.
    hot_pixel_mask : numpy.ndarray
        bool: the hot pixels (part of ``defect_mask``). A lone hot pixel looks
        like a one-pixel hit, so training may leave them out of the loss.
    bled_mask : numpy.ndarray
        bool: pixels of the clean exposure below the full well that took charge
        spilled from a saturated run (the tapered ends of bleed trails).
    """

    image_adu: np.ndarray
    clean_adu: np.ndarray
    cr_electrons: np.ndarray
    cr_mask: np.ndarray
    ignore_mask: np.ndarray
    star_core_mask: np.ndarray
    defect_mask: np.ndarray
    saturated_mask: np.ndarray
    noise_sigma_electrons: np.ndarray
    gain: float
    readnoise: float
    bias: float
    exptime: float
    sky_electrons: float
    fwhm: float
    seed: int
    profile: str
    split: str
    detector: DetectorProfile
    hot_pixel_mask: np.ndarray
    bled_mask: np.ndarray

    @property
    def full_well(self):
        return self.detector.full_well


def _check_profile(profile):
    if not isinstance(profile, DetectorProfile) and profile not in PROFILES and profile not in WIDE_PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES) + list(WIDE_PROFILES)} or a "
                         f"DetectorProfile, got {profile!r}")


def _resolve_profile(profile, rng, hard_cases, trails, extras):
    if isinstance(profile, DetectorProfile):
        return profile
    if profile in WIDE_PROFILES:
        return draw_profile(profile, rng, hard_cases=hard_cases, trails=trails, extras=extras)
    return PROFILES[profile]


def _power_law(rng, n, low, high, slope):
    """Fluxes with N(>F) proportional to F**-slope between low and high."""
    u = rng.uniform(size=n)
    return (low**-slope - u * (low**-slope - high**-slope)) ** (-1.0 / slope)


def _render_sky(shape, prof, rng, sky, fwhm):
    """Noise-free sky + sources (e-), the star-core mask, (x, y, flux) of every source, and
    (x, y, peak e-) of the stars peaking above 5 sky sigma."""
    ny, nx = shape
    mpix = ny * nx / 1e6
    yy, xx = np.mgrid[0:ny, 0:nx]
    gx, gy = rng.uniform(-0.03, 0.03, 2)  # a gentle sky gradient across the frame
    expected = sky * (1 + gx * (xx / nx - 0.5) + gy * (yy / ny - 0.5))
    profile, oversample, psf_radius = detector_psf(prof, fwhm)
    sky_sigma = np.sqrt(sky + prof.readnoise**2)
    faint = 10 * sky_sigma * fwhm
    n_stars, n_bright, n_gal = rng.poisson(
        [prof.stars_per_mpix * mpix, prof.bright_stars_per_mpix * mpix,
         prof.galaxies_per_mpix * mpix])
    flux = np.concatenate([
        _power_law(rng, n_stars, faint, prof.full_well * fwhm**2, 0.6),
        prof.full_well * fwhm**2 * 10 ** rng.uniform(0.5, 2.0, n_bright)])
    sx = rng.uniform(-0.5, nx - 0.5, flux.size)
    sy = rng.uniform(-0.5, ny - 0.5, flux.size)
    expected += _scene.render_stars(shape, sx, sy, flux, profile, fwhm=fwhm,
                                    oversample=oversample)
    galaxies = np.column_stack([
        rng.uniform(-0.5, nx - 0.5, n_gal), rng.uniform(-0.5, ny - 0.5, n_gal),
        _power_law(rng, n_gal, 2 * faint, 300 * faint, 0.8),
        10 ** rng.uniform(np.log10(0.8), np.log10(8.0), n_gal),
        rng.uniform(0.5, 4.0, n_gal), rng.uniform(0.0, 0.7, n_gal),
        rng.uniform(0.0, np.pi, n_gal)])
    kernel = _scene.psf_kernel(profile, psf_radius, 2)
    expected += _scene.render_galaxies(shape, galaxies, kernel, oversample=2)
    peak_fraction = _scene.render_stars((9, 9), [4.0], [4.0], [1.0], profile, fwhm=fwhm,
                                        oversample=oversample).max()
    core = np.zeros(shape, bool)
    radius = max(fwhm, 1.5)
    for x, y in zip(sx[flux * peak_fraction > 5 * sky_sigma],
                    sy[flux * peak_fraction > 5 * sky_sigma]):
        y0, y1 = max(int(y - radius), 0), min(int(y + radius) + 2, ny)
        x0, x1 = max(int(x - radius), 0), min(int(x + radius) + 2, nx)
        core[y0:y1, x0:x1] |= (yy[y0:y1, x0:x1] - y) ** 2 + (xx[y0:y1, x0:x1] - x) ** 2 <= radius**2
    if prof.trails_per_mpix > 0:
        expected += _scene.render_trails(shape, rng=rng, n=rng.poisson(prof.trails_per_mpix * mpix),
                                         fwhm=fwhm, sky_sigma=sky_sigma)
    if prof.sky_lines_per_mpix > 0:
        # The sky lines of a long-slit frame: all across one axis, the whole frame long.
        expected += _scene.render_trails(shape, rng=rng, n=rng.poisson(prof.sky_lines_per_mpix * mpix),
                                         fwhm=fwhm, sky_sigma=sky_sigma, axis=int(rng.integers(0, 2)))
    if prof.axis_edges_per_mpix > 0:
        expected += _scene.render_axis_edges(shape, rng=rng, n=rng.poisson(prof.axis_edges_per_mpix * mpix),
                                             sky_sigma=sky_sigma)
    sources = (np.concatenate([sx, galaxies[:, 0]]), np.concatenate([sy, galaxies[:, 1]]),
               np.concatenate([flux, galaxies[:, 2]]))
    visible = flux * peak_fraction > 5 * sky_sigma
    stars = (sx[visible], sy[visible], flux[visible] * peak_fraction)
    return expected, core, sources, stars


def _cosmic_rays(shape, prof, rng, exptime, cr_rate, split, sources, fwhm, stars, on_defects=None):
    """Cosmic-ray charge (e-) from the real footprints and the physical model; ``on_defects`` are the
    anchors (`defect_anchors`) of ``prof.defect_hits``."""
    anchors = sources[:2]
    # Hits are uniform on the sky, but most sources are faint: favouring
    # bright ones (weight sqrt(flux)) and spreading hits over their core
    # and wings puts enough hits on bright stars and nuclei to learn from.
    weights = np.sqrt(np.maximum(sources[2], 0.0))
    total = weights.sum()
    bright = (*anchors, weights / total, max(1.5, 0.7 * fwhm)) if total > 0 else None
    if prof.bright_anchors and bright is not None:
        anchors = bright
    area_cm2 = shape[0] * shape[1] * (prof.sensor.pixel_pitch_um * 1e-4) ** 2
    n_events = rng.poisson(cr_rate * area_cm2 * exptime)
    n_real = rng.binomial(n_events, prof.footprint_fraction)
    physics = dict(sensor=prof.sensor, mix=prof.cr_mix, cos_power=prof.cos_power,
                   heavy_fraction=prof.heavy_fraction, aligned_fraction=prof.aligned_tracks,
                   alpha_fraction=prof.alpha_spots, ion_fraction=prof.heavy_ions, sharp_fraction=prof.sharp_hits,
                   grazing_fraction=prof.grazing_tracks)
    n_on_defects = rng.binomial(n_events - n_real, prof.defect_hits) if on_defects is not None else 0
    charge = _cosmic_sim.simulate_cosmic_rays(
        shape, rng=rng, n_events=n_events - n_real - n_on_defects,
        anchors=anchors if prof.cr_on_sources > 0 else None, anchor_fraction=prof.cr_on_sources, **physics)
    if n_on_defects:
        charge = charge + _cosmic_sim.simulate_cosmic_rays(
            shape, rng=rng, n_events=n_on_defects, anchors=on_defects, anchor_fraction=1.0, **physics)
    if n_real:
        stamps = _footprints.load_footprints(split).stamps
        charge = _footprints.inject_footprints(charge, stamps, n_real, rng=rng, zoom=prof.footprint_zoom,
                                               anchors=bright, anchor_fraction=prof.footprints_on_sources)[0]
    if prof.core_hits > 0:
        # Stars well below the full well, so that the hit shows on the core
        # rather than lengthening a saturated star's bleed (a negative).
        unsaturated = stars[2] < 0.3 * prof.full_well
        max_sigma = prof.sensor.diffusion_um / prof.sensor.pixel_pitch_um
        charge = charge + _cosmic_sim.render_charge(shape, *hits_on_star_cores(
            rng, [a[unsaturated] for a in stars], prof.core_hits, fwhm=fwhm, max_sigma_px=max_sigma,
            bleeding=prof.core_bleeds))
    return charge


def simulate_exposure(shape, *, seed, profile="ground_thin", split="train", exptime=None,
                      cr_rate=None, sky_electrons=None, fwhm=None, bias=0.0, hard_cases=False, trails=False,
                      extras=()):
    """Simulate one CCD exposure with exact cosmic-ray truth.

    The same ``seed`` always gives identical arrays. Independent random streams
    are spawned from the seed for the scene, the noise, the defects and the
    cosmic rays, so changing ``cr_rate`` leaves the sky and its noise unchanged.

    Parameters
    ----------
    shape : tuple of int
        Image shape ``(ny, nx)``, each at least 8.
    seed : int
        Non-negative seed.
    profile : str or DetectorProfile, optional
        Detector and scene. ``ground_thick`` uses the real LSST footprints,
        ``ground_thin`` the physical model, ``space`` mostly the physical model
        with 20% footprints for morphological variety; ``wide_ground`` and
        ``wide_space`` draw a detector from the seed (`_wide_profiles`), and
        their own cosmic-ray density unless ``cr_rate`` is given.
    split : {"train", "validation"}, optional
        Footprint split; use ``"validation"`` for held-out evaluation data.
    exptime, cr_rate, sky_electrons, fwhm : float, optional
        Override the profile: exposure time (s), cosmic-ray rate (/cm^2/s),
        mean sky per pixel (e-) and PSF FWHM (px); by default the sky and FWHM
        are drawn from the profile's ranges.
    bias : float, optional
        Constant added in ADU; 0 gives a bias-subtracted (calibrated) frame.
    hard_cases : bool, optional
        For ``wide_*`` profiles: also draw alpha hits that saturate and bleed,
        and tracks along pixel rows and columns (crclean-ccd-v2's data).
    trails : bool, optional
        For ``wide_*`` profiles: also draw satellite trails and other long,
        smooth lines (`_scene.render_trails`) as sources.
    extras : sequence of str, optional
        For ``wide_*`` profiles: further cases from
        `crclean.training._wide_profiles.EXTRAS`.

    Returns
    -------
    SimulatedExposure
        The image in ADU and its truth.
    """
    _check_profile(profile)
    if (len(shape) != 2 or any(not isinstance(n, (int, np.integer)) or n < 8 for n in shape)):
        raise ValueError(f"shape must be two ints >= 8, got {shape!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if split not in ("train", "validation"):
        raise ValueError(f"split must be 'train' or 'validation', got {split!r}")
    for name, value in (("exptime", exptime), ("cr_rate", cr_rate),
                        ("sky_electrons", sky_electrons), ("fwhm", fwhm)):
        if value is not None and not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    if fwhm is not None and fwhm < 0.5:
        raise ValueError(f"fwhm must be >= 0.5 px, got {fwhm!r}")
    shape = (int(shape[0]), int(shape[1]))
    # The first four streams are those of crclean 0.1 (spawn keys 0-3), so the
    # fixed profiles give the same exposures as before; the fifth draws a detector.
    scene_rng, noise_rng, defect_rng, cr_rng, detector_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(5))
    prof = _resolve_profile(profile, detector_rng, hard_cases, trails, tuple(extras))
    exptime = prof.exptime if exptime is None else float(exptime)
    sky = float(scene_rng.uniform(*prof.sky_range) if sky_electrons is None else sky_electrons)
    fwhm = float(scene_rng.uniform(*prof.fwhm_range) if fwhm is None else fwhm)

    expected, star_core, sources, stars = _render_sky(shape, prof, scene_rng, sky, fwhm)
    hot_charge, hot_mask = _defects.add_hot_pixels(
        shape, rng=defect_rng, fraction=prof.hot_fraction, exptime=exptime)
    expected += hot_charge
    n_bad = defect_rng.poisson(prof.bad_columns_per_kcol * shape[1] / 1000.0)
    # Drawn before the cosmic rays (defect_rng is their own stream, so this moves no draw) for `defect_hits`.
    bad_scale, bad_offset, bad_mask = _defects.bad_columns(shape, rng=defect_rng, n_columns=n_bad,
                                                           whole=prof.whole_bad_columns)
    on_defects = None
    if prof.defect_hits > 0:
        # Where the noise-free exposure saturates and bleeds: close enough to the noisy one's to aim hits at.
        filled = _defects.bleed_saturation(expected * bad_scale + bad_offset, prof.full_well)[1]
        on_defects = defect_anchors(bad_mask, filled)
    cr_charge = _cosmic_rays(shape, prof, cr_rng, exptime,
                             prof.cr_rate if cr_rate is None else float(cr_rate), split, sources, fwhm, stars,
                             on_defects)

    photons = noise_rng.poisson(expected).astype(float)
    read = noise_rng.normal(0.0, prof.readnoise, shape)
    # Both versions share the photons, defects and read noise; each saturates
    # and bleeds on its own, so the difference is exactly the visible CR charge.
    undamaged_e = photons * bad_scale + bad_offset
    clean_e, saturated = _defects.bleed_saturation(undamaged_e, prof.full_well)
    image_e = _defects.bleed_saturation((photons + cr_charge) * bad_scale + bad_offset,
                                        prof.full_well)[0]
    cr_electrons = (image_e - clean_e).astype(np.float32)

    def to_adu(electrons):
        return np.minimum((electrons + read) / prof.gain, prof.adc_max - bias) + bias

    sigma = np.sqrt(expected + prof.readnoise**2).astype(np.float32)
    defects = hot_mask | bad_mask | saturated
    cr_mask = (cr_electrons >= MASK_THRESHOLD_SIGMA * sigma) & (cr_electrons > 0) & ~defects
    return SimulatedExposure(
        image_adu=to_adu(image_e).astype(np.float32),
        clean_adu=to_adu(clean_e).astype(np.float32),
        cr_electrons=cr_electrons,
        cr_mask=cr_mask,
        ignore_mask=(cr_electrons > 0) & ~cr_mask,
        star_core_mask=star_core,
        defect_mask=defects,
        saturated_mask=saturated,
        noise_sigma_electrons=sigma,
        gain=prof.gain, readnoise=prof.readnoise, bias=float(bias), exptime=exptime,
        sky_electrons=sky, fwhm=fwhm, seed=int(seed), profile=prof.name, split=split, detector=prof,
        hot_pixel_mask=hot_mask,
        bled_mask=(clean_e > undamaged_e) & ~saturated,
    )
