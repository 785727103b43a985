"""Detectors drawn at random per exposure, as wide as the instruments people use.

The fixed profiles of `crclean.training.simulate` are three detectors. A model
trained on them learns those detectors' hits: on a 250 um fully depleted CCD
(DECam, HSC), where inclined muons leave straight tracks tens of pixels long
and 3-4 px wide, the first crclean models flagged only the sharpest knots.
`draw_profile` makes a new detector for every exposure instead:

* **sensor**: depleted thickness from ~10 um (HST ACS/WFC3, thinned CCDs)
  through 100 um (Rubin) to 250 um (DECam, HSC), pixels of 10-15 um, and a
  lateral diffusion (sigma for charge made at the far side) that grows with
  the thickness: 2-6% of it, at least 1-4 um;
* **hits**: from a few events per megapixel to several percent of all pixels
  covered (long space exposures), real LSST footprints for part of them,
  heavy ions in space, and some started on stars and galaxies so that hits
  overlap sources, saturated stars included;
* **scene**: PSF FWHM 1.2-6 px on the ground (Moffat, beta 2.2-5) and
  1.0-2.2 px in space (core and halo, or Moffat), sky from under 1 e- to
  1e4 e-, star and galaxy densities over two decades;
* **electronics**: gain 0.5-5 e-/ADU, read noise 2-10 e-, full wells
  4e4-2e5 e-, hot pixels and bad columns (negatives that a model must not flag).

References
----------
.. [1] Groom, D. 2004, Experimental Astronomy, 14, 45 (cosmic rays in CCDs).
.. [2] Holland, S. E., et al. 2003, IEEE Trans. Electron Devices, 50, 225
   (fully depleted 250-300 um CCDs and their lateral diffusion).
.. [3] Zhang, K., & Bloom, J. S. 2020, deepCR, ApJ, 889, 24 (HST rates).
"""

import dataclasses

import numpy as np

from crclean.training._cosmic_sim import SensorGeometry
from crclean.training._detector import DetectorProfile
from crclean.training._footprints import SOURCE_PIXEL_PITCH_UM

__all__ = ["EXTRAS", "WIDE_PROFILES", "draw_profile"]

#: Names `simulate_exposure` accepts for a detector drawn per exposure.
WIDE_PROFILES = ("wide_ground", "wide_space")

#: Further cases `draw_profile` can add (crclean-ccd-v4's data):
#: ``sky_lines``: in 30% of exposures, bands the whole frame long along one
#: pixel axis, PSF-wide to 3x wider (the sky lines of a long-slit frame), as
#: negatives; ``source_hits``: 10-30% of hits start on a source, bright ones
#: favoured, anywhere on its core and wings; ``alpha_bleeds``: 5-20% (ground) or
#: 2-10% (space) of spots are alpha hits that saturate and bleed;
#: ``heavy_ions``: 2-10% (ground) or 5-20% (space) of tracks and spots carry
#: Z^2 = 4-676 times a proton's charge, so that the brightest compact hits are
#: cosmic rays too; ``sharp_hits``: 10-30% of tracks and spots hardly diffuse
#: (width x 0-0.2), so bright bars and lone pixels without wings are cosmic
#: rays too (crclean's models gave ~0 to such hits above a few hundred sigma).
#: ``whole_bad_columns``: bad columns run the frame's full height, so no column
#: defect ends inside it (v6 missed the ends of bright bars along rows and columns).
#: ``core_hits``: 10-40% of the stars that peak above 5 sky sigma (and below 30%
#: of the full well) take a compact hit on their core, its brightest pixel
#: 0.2-5 times the star's peak (`crclean.training._hit_variants.hits_on_star_cores`);
#: ``core_bleeds``: with ``core_hits``, 20-40% of those hits carry an alpha
#: particle's charge and saturate and bleed (crclean-ccd-v9 and v10 took such
#: a bleed on a 20 sigma star for the star's own).
#: ``elongated_psfs``: in 60% of exposures every star is stretched the same way
#: (`crclean.training._scene.elongated`), minor over major axis 0.5-1 (guiding
#: errors, wind shake, astigmatism), the major axis at any angle; round PSFs only
#: had taught crclean-ccd-v12 to take a frame's elongated stars for tracks.
#: ``grazing_tracks``: 5-20% of tracks cross the sensor almost edge-on, 20-300 px
#: long within 8 degrees of a row or column (`crclean.training._cosmic_sim`);
#: crclean-ccd-v15 and v17 took such tracks for bad columns or bleeds;
#: ``many_grazing_tracks``: the same, for 20-50% of tracks (crclean-ccd-v19,
#: trained with 5-20%, still missed those within 2 degrees of an axis).
#: ``axis_edges``: in 30% of exposures, 15-60 per megapixel of amplifier steps
#: and sharp-edged rectangles (`crclean.training._scene.render_axis_edges`), as
#: negatives: crclean-ccd-v21, trained on grazing tracks, flagged such edges.
#: ``lumpy_psfs``: in 30% of exposures every star is the sum of 2-3 copies of the PSF, each 0.4-0.9 times
#: its size, offset 0.3-1 FWHM from the first (`lumpy_psf_lumps`; coma, trefoil, a jump while tracking):
#: crclean-ccd-v15 flagged the lumpy cores of stars of an aberrated optical PSF. No copy is narrower
#: than `MIN_LUMP_FWHM`. ``lumpy_ground_psfs``: the same on ground exposures only. A space telescope's PSF
#: is diffraction-limited and stable, with no seeing or tracking jumps to make lumps, and undersampled: a
#: lump at least 1.2 px wide on a 1.2-2 px PSF turns a star into a cluster of PSF-wide blobs, which is what
#: a cluster of hits on a star looks like (crclean-ccd-v25 and v26, trained with lumps on space exposures
#: too, found fewer hits than v15 on both space families).
#: ``defect_hits``: 5-15% of tracks and spots start on a defect, half of them on bad columns and half on the
#: pixels a saturated star fills (its core and bleed trail), so that hits touch, cross and end at defects.
#: In the data before, hits met defects only by chance, and crclean-ccd-v28 missed the > 10 sigma pixels of
#: tracks beside bleed trails and across bad columns on the independent thick-CCD exposures.
#: ``axis_psfs``: in 30% of exposures every star is stretched along a row or a column, minor over major axis
#: 0.4-0.8 (drawn after, and in place of, ``elongated_psfs``). Trained with bad columns left out of the loss,
#: crclean-ccd-v32 flagged the brightest pixels of small stars stretched along the rows: short bright bars
#: along an axis, which no negative of its data had looked like (a stretched star at exactly 0 or 90 degrees
#: was one draw in many under ``elongated_psfs``).
#: ``ground_axis_features``: ``grazing_tracks``/``many_grazing_tracks``, ``axis_edges`` and ``axis_psfs`` on
#: ground exposures only (space ones make the same draws and ignore them). Rounds v31-v35, trained on all
#: three everywhere, lost 0.010-0.014 of TPR at FPR 1e-4 on the independent dense space exposures.
#: ``source_footprints``: 10-30% of the real footprints are centred on a star or galaxy, bright ones favoured
#: and anywhere on their core and wings, as ``source_hits`` does for simulated hits. Real footprints were
#: placed uniformly, so the network saw few real tracks across bright sources; 137 of crclean-ccd-v28's 144
#: missed > 10 sigma pixels on the independent real-footprint exposures 640-655 lie on sources, most of them
#: real tracks crossing bright galaxies, flagged only where they leave the galaxy.
#: ``long_psfs``: with ``elongated_psfs``, minor over major axis 0.3-1 rather than 0.5-1. With stars sheared
#: to about 0.43, past that range, crclean-ccd-v28 flagged more star cores than deepCR ACS-WFC on Rubin-like
#: exposures (docs/benchmarks.md, "Stars at the frame's edge, and stars more elongated than training showed").
#: ``more_source_hits``: with ``source_hits`` and ``core_hits``, twice their shares (20-60% of hits start on a
#: source, 20-80% of the stars above 5 sky sigma take a core hit; the same draws otherwise). Trained on
#: ``long_psfs``, crclean-ccd-v41 learnt that long stars are not hits and then missed compact hits on
#: elongated galaxies and the part of a track that crosses a long star (experiments/masks/held-out-v42.md).
#: ``more_ground_source_hits``: ``more_source_hits`` on ground exposures only (space ones make the same draws at
#: the single shares). Round v42 raised > 10 sigma recall of hits on bright sources on every independent ground
#: family but flagged nearly twice as many undersampled star cores on crclean's own space exposures
#: (experiments/masks/held-out-v42.md).
MIN_LUMP_FWHM = 1.2
EXTRAS = ("sky_lines", "source_hits", "alpha_bleeds", "heavy_ions", "sharp_hits", "whole_bad_columns", "core_hits",
          "core_bleeds", "elongated_psfs", "grazing_tracks", "many_grazing_tracks", "axis_edges", "lumpy_psfs",
          "lumpy_ground_psfs", "defect_hits", "axis_psfs", "ground_axis_features",
          "source_footprints", "long_psfs", "more_source_hits", "more_ground_source_hits")


def lumpy_psf_lumps(rng, fwhm):
    """2-3 copies of a PSF of ``fwhm`` px for `crclean.training._scene.lumpy`: ``(dx, dy, share, size)``,
    offsets in FWHM.

    The copies' flux-weighted centre is the star's position, so a lumpy star is centred where a smooth one
    is. No copy is sharper than `MIN_LUMP_FWHM` px: the atmosphere (or the optics' diffraction) blurs an
    aberrated PSF's structure as much as its core, and a lump as sharp as a cosmic ray would teach the
    network that sharp charge on a star is the star's (v24, trained with lumps of 0.6 px, missed more hits
    on sources than v15).
    """
    n = int(rng.integers(2, 4))
    share = rng.dirichlet(np.full(n, 2.0))
    size = np.clip(rng.uniform(0.4, 0.9, n), MIN_LUMP_FWHM / fwhm, 1.0)
    angle = rng.uniform(0.0, 2 * np.pi, n)
    radius = rng.uniform(0.3, 1.0, n) * (np.arange(n) > 0)  # the first copy at the origin, the rest around it
    dx, dy = radius * np.cos(angle), radius * np.sin(angle)
    dx, dy = dx - np.sum(share * dx), dy - np.sum(share * dy)
    return tuple(zip(dx.tolist(), dy.tolist(), share.tolist(), size.tolist()))


def _log_uniform(rng, low, high):
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _sensor(rng, space):
    if space:
        depletion = rng.uniform(10.0, 50.0)
    elif rng.uniform() < 0.35:
        depletion = rng.uniform(10.0, 40.0)      # thinned ground CCDs
    else:
        depletion = rng.uniform(75.0, 250.0)     # deep-depletion and fully depleted
    pitch = float(rng.choice([10.0, 12.0, 13.5, 15.0]))
    diffusion = max(rng.uniform(1.0, 4.0), depletion * rng.uniform(0.02, 0.06))
    return SensorGeometry(pixel_pitch_um=pitch, depletion_um=depletion, diffusion_um=diffusion)


def _psf(rng, space):
    """FWHM (px), PSF family and Moffat beta."""
    if space:
        fwhm = rng.uniform(1.0, 2.2)
        family = "space" if rng.uniform() < 0.7 else "moffat"
    else:
        fwhm = _log_uniform(rng, 1.2, 6.0)
        family = "moffat"
    return fwhm, family, rng.uniform(2.2, 5.0)


def draw_profile(name, rng, *, hard_cases=False, trails=False, extras=()):
    """A detector drawn at random: one of `WIDE_PROFILES`.

    Parameters
    ----------
    name : {'wide_ground', 'wide_space'}
        Ground (muons from above, any sensor, any seeing) or space (isotropic
        protons and heavy ions, thin sensors, sharp PSFs, dense hits).
    rng : numpy.random.Generator
        Source of every draw; the same state gives the same detector.
    hard_cases : bool, optional
        Also make up to 10% (ground) or 5% (space) of spots alpha particles
        that saturate and bleed, and up to 10% of tracks run along a pixel
        row or column, so that neither is taken for a defect. Off: the
        detectors crclean-ccd-v1 was trained on.
    trails : bool, optional
        Also draw up to 20 satellite trails (long smooth lines, a quarter of
        them along a row or column) per megapixel, as negatives.
    extras : sequence of str, optional
        Any of `EXTRAS`.

    Returns
    -------
    DetectorProfile
        With one-value ``sky_range`` and ``fwhm_range``, and a ``cr_rate``
        that gives the drawn density of events per pixel.
    """
    if name not in WIDE_PROFILES:
        raise ValueError(f"name must be one of {WIDE_PROFILES}, got {name!r}")
    unknown = sorted(set(extras) - set(EXTRAS))
    if unknown:
        raise ValueError(f"extras must be among {EXTRAS}, got {unknown}")
    profile = _draw(name, rng)
    # Drawn after everything else, so the rest of the detector is v1's.
    if hard_cases:
        profile = dataclasses.replace(profile, aligned_tracks=rng.uniform(0.0, 0.1),
                                      alpha_spots=rng.uniform(0.0, 0.05 if name == "wide_space" else 0.1))
    if trails:
        profile = dataclasses.replace(profile, trails_per_mpix=rng.uniform(0.0, 20.0))
    return _with_extras(profile, name, rng, extras)


def _with_extras(profile, name, rng, extras):
    """``profile`` with the cases of `EXTRAS` named in ``extras`` (drawn last, in a fixed order)."""
    space = name == "wide_space"
    more_on_sources = 2.0 if "more_source_hits" in extras or (
        "more_ground_source_hits" in extras and not space) else 1.0  # scales the shares, not the draws
    if "sky_lines" in extras:
        # Per megapixel: 1-10 lines across a 256 px training exposure.
        density = rng.uniform(20.0, 150.0) if rng.uniform() < 0.3 else 0.0
        profile = dataclasses.replace(profile, sky_lines_per_mpix=density)
    if "source_hits" in extras:
        profile = dataclasses.replace(profile, cr_on_sources=more_on_sources * rng.uniform(0.1, 0.3),
                                      bright_anchors=True)
    if "alpha_bleeds" in extras:
        profile = dataclasses.replace(profile, alpha_spots=rng.uniform(0.02, 0.1) if space else rng.uniform(0.05, 0.2))
    if "heavy_ions" in extras:
        # On the ground the bright ones stand for alpha particles and nuclear
        # recoils; what matters is that hits this bright are in the data.
        profile = dataclasses.replace(profile, heavy_ions=rng.uniform(0.05, 0.2) if space else rng.uniform(0.02, 0.1))
    if "sharp_hits" in extras:
        profile = dataclasses.replace(profile, sharp_hits=rng.uniform(0.1, 0.3))
    if "whole_bad_columns" in extras:
        profile = dataclasses.replace(profile, whole_bad_columns=True)
    if "core_hits" in extras:
        profile = dataclasses.replace(profile, core_hits=more_on_sources * rng.uniform(0.1, 0.4))
    if "core_bleeds" in extras:
        profile = dataclasses.replace(profile, core_bleeds=rng.uniform(0.2, 0.4))
    if "elongated_psfs" in extras and rng.uniform() < 0.6:
        least_ratio = 0.3 if "long_psfs" in extras else 0.5  # the same draws either way
        profile = dataclasses.replace(profile, psf_axis_ratio=rng.uniform(least_ratio, 1.0),
                                      psf_angle=rng.uniform(0.0, np.pi))
    if ("lumpy_psfs" in extras or "lumpy_ground_psfs" in extras) and rng.uniform() < 0.3:
        lumps = lumpy_psf_lumps(rng, profile.fwhm_range[0])  # drawn for space too, so the draws stay v26's
        if "lumpy_psfs" in extras or not space:
            profile = dataclasses.replace(profile, psf_lumps=lumps)
    # With ground_axis_features, space exposures keep the draws below but not their effect.
    axis_features = not (space and "ground_axis_features" in extras)
    if "grazing_tracks" in extras or "many_grazing_tracks" in extras:
        low, high = (0.2, 0.5) if "many_grazing_tracks" in extras else (0.05, 0.2)
        share = rng.uniform(low, high)
        if axis_features:
            profile = dataclasses.replace(profile, grazing_tracks=share)
    if "axis_edges" in extras:
        # Per megapixel: 1-4 features on a 256 px training exposure, in 30% of them.
        density = rng.uniform(15.0, 60.0) if rng.uniform() < 0.3 else 0.0
        if axis_features:
            profile = dataclasses.replace(profile, axis_edges_per_mpix=density)
    if "defect_hits" in extras:
        profile = dataclasses.replace(profile, defect_hits=rng.uniform(0.05, 0.15))
    if "axis_psfs" in extras and rng.uniform() < 0.3:
        # Drawn last, so that every other extra keeps its draws with or without this one.
        ratio, angle = rng.uniform(0.4, 0.8), float(rng.integers(2)) * np.pi / 2
        if axis_features:
            profile = dataclasses.replace(profile, psf_axis_ratio=ratio, psf_angle=angle)
    if "source_footprints" in extras:
        # After every other draw, so that they stay what they were without it.
        profile = dataclasses.replace(profile, footprints_on_sources=rng.uniform(0.1, 0.3))
    return profile


def _draw(name, rng):
    """The detector of `draw_profile` without the hard cases."""
    space = name == "wide_space"
    sensor = _sensor(rng, space)
    fwhm, family, beta = _psf(rng, space)
    sky = _log_uniform(rng, 0.5, 300.0) if space else _log_uniform(rng, 5.0, 1.0e4)
    exptime = rng.uniform(300.0, 2400.0) if space else rng.uniform(30.0, 900.0)
    # Events per megapixel: ~100 in a 600 s ground exposure, ~2000 in a 500 s
    # HST one; raised on the ground so every crop holds some hits.
    events_per_mpix = _log_uniform(rng, 500.0, 1.0e4) if space else _log_uniform(rng, 50.0, 2000.0)
    pixel_cm2 = (sensor.pixel_pitch_um * 1e-4) ** 2
    base_mix = np.array((0.85, 0.05, 0.10) if space else (0.55, 0.25, 0.20))
    return DetectorProfile(
        name=name, sensor=sensor,
        gain=_log_uniform(rng, 0.5, 5.0), readnoise=rng.uniform(2.0, 10.0),
        full_well=_log_uniform(rng, 4.0e4, 2.0e5), exptime=exptime,
        sky_range=(sky, sky), fwhm_range=(fwhm, fwhm), psf=family, moffat_beta=beta,
        stars_per_mpix=_log_uniform(rng, 30.0, 3000.0),
        galaxies_per_mpix=_log_uniform(rng, 30.0, 1500.0),
        bright_stars_per_mpix=rng.uniform(0.0, 4.0),
        cr_rate=events_per_mpix * 1e-6 / (pixel_cm2 * exptime),
        cr_mix=tuple(rng.dirichlet(8.0 * base_mix)),
        cos_power=1.0 if space else 3.0,
        heavy_fraction=rng.uniform(0.1, 0.4) if space else rng.uniform(0.0, 0.05),
        footprint_fraction=rng.uniform(0.0, 0.2) if space else rng.uniform(0.0, 0.6),
        footprint_zoom=SOURCE_PIXEL_PITCH_UM / sensor.pixel_pitch_um,
        hot_fraction=_log_uniform(rng, 1e-5, 1e-3),
        bad_columns_per_kcol=rng.uniform(0.0, 3.0),
        cr_on_sources=rng.uniform(0.0, 0.15),
    )
