"""An independent generator of CCD exposures with cosmic rays, for validation only.

crclean's models are trained on crclean's own simulator
(``crclean/training/simulate.py``). Scoring them only there rewards whatever
that simulator happens to do. This generator is separate code with other
physics and other morphology choices, and is never used for training:

* scenes drawn with GalSim (other PSF families, bulge + disk galaxies, a star
  luminosity function, bleed trails spilled asymmetrically): ``_independent_ccd_scene``;
* cosmic rays from Landau energy loss, explicit delta rays and Compton
  electrons, drift diffusion in a linear field plus a field-free layer,
  supersampled rasterisation, muons seen through a tilted telescope (and in
  bundles), x-rays, alphas, and in space protons with an energy spectrum and
  heavy ions with an LET power law: ``_independent_cr_physics``;
* real LSST cosmic-ray footprints from the held-out split only
  (``fp_id % 5 == 0``), read with our own reader: ``_independent_footprints``.

Families (`FAMILIES`; `make_family(name, n, size, seed)`):

``thin_ground``
    thinned CCD, 15 um pixels, 15-40 um depleted plus 0-5 um field-free, PSF FWHM 2-5 px;
``thick_ground``
    DECam/HSC-like fully depleted CCD, 15 um pixels, 200-250 um thick; diffusion
    sigma 6-8.5 um at the back, so tracks are 3-4 px wide and inclined muons tens to
    ~200 px long; FWHM 2.5-6 px;
``rubin_like``
    100 um thick, 10 um pixels, FWHM 2.5-5 px;
``dense_space``
    HST ACS/WFC3-like 10-15 um thin sensor, undersampled obscured-Airy PSF
    (FWHM 1.2-2 px), 400-2500 s in low orbit: hits cover 1-5% of all pixels and overlap;
``real_footprints``
    the held-out real LSST footprints injected into ground scenes (thin or thick).

Every family draws sky from near 0 (space) or tens (ground) to 1e4 e-, read
noise 2-10 e-, gains 0.5-5 e-/ADU and a bias level in half of the frames.
Event counts are Poisson draws of rate (per cm^2 per s) x sensor area x exposure
time. A share of the hits starts on stars and galaxies (saturated ones included).

Truth (the definition of crclean issue 28)
------------------------------------------
With ``sigma = sqrt(expected clean electrons + readnoise**2)`` the noise of
the clean pixel (``noise_sigma_electrons``) and ``cr_electrons`` the
cosmic-ray charge as it reaches the image (the noise-free image with hits
minus the one without, after saturation and bleeding):

* ``cr_mask`` = ``cr_electrons >= 2 * sigma`` and not a defect;
* ``ignore_mask`` = ``0 < cr_electrons < 2 * sigma``, or a defect;
* ``defect_mask`` = hot pixels, bad columns and saturated (bleed) pixels of
  the clean exposure (``saturated_mask``; full well or ADC limit).

Both images share one noise realisation: where neither saturates,
``(image_adu - clean_adu) * gain == cr_electrons`` up to float32 rounding.
The same ``(family, shape, seed)`` always gives identical arrays.
"""

import zlib
from dataclasses import dataclass

import galsim
import numpy as np

from _independent_ccd_scene import bleed, defects, make_psf, render_scene
from _independent_footprints import footprint_rate_per_px_s, inject_footprints
from _independent_cr_physics import (Sensor, alpha_tracks, electron_walks, isotropic_electrons, rasterise,
                                     straight_tracks, xray_spots)

TRUTH_SIGMA = 2.0
ADC_MAX = 65535.0


@dataclass
class IndependentExposure:
    """One exposure and its truth; the attribute names of crclean's ``SimulatedExposure``.

    ``image_adu``, ``clean_adu`` float32 ADU with ``bias`` added; ``cr_electrons``,
    ``noise_sigma_electrons`` float32 e-; masks bool (see the module docstring).
    ``footprint_ids`` lists the real footprints injected (``real_footprints``).
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
    full_well: float
    seed: int
    profile: str
    split: str = "independent"
    footprint_ids: tuple = ()


def _log_uniform(rng, low, high):
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


#: Parameter ranges per family: (low, high) drawn uniformly (``log`` ones log-uniformly) per exposure.
#: Rates are events per cm^2 per s; ``ground`` muons 0.012-0.02 (the sea-level flux) plus Compton
#: electrons from gamma rays of the dome and dewar, x-rays and alphas; ``space`` protons 1.5-3.
GROUND_SCENE = dict(sky_log=(20.0, 1e4), gain_log=(0.5, 5.0), readnoise=(2.0, 10.0), full_well=(6e4, 2e5),
                    stars_log=(100.0, 3000.0), galaxies_log=(50.0, 300.0), galaxy_size=(1.0, 3.0),
                    psfs=("kolmogorov", "moffat", "optical_atmosphere"), hot_fraction=(5e-5, 5e-4),
                    columns_per_kcol=(0.0, 3.0), on_sources=0.1)
GROUND_HITS = dict(muon_rate=(0.012, 0.02), compton_rate=(0.005, 0.05), xray_rate=(0.002, 0.01),
                   alpha_rate=(3e-5, 3e-4), telescope_zenith_deg=(0.0, 70.0), bundle_fraction=0.05)
FAMILIES = {
    "thin_ground": dict(kind="ground", pitch=15.0, depleted=(15.0, 40.0), field_free=(0.0, 5.0),
                        bias_volts=(4.0, 15.0), field_ratio=(0.1, 0.5), temperature=(150.0, 180.0),
                        fwhm=(2.0, 5.0), exptime=(60.0, 900.0), **GROUND_SCENE, **GROUND_HITS),
    "thick_ground": dict(kind="ground", pitch=15.0, depleted=(200.0, 250.0), field_free=(0.0, 2.0),
                         bias_volts=(25.0, 45.0), field_ratio=(0.2, 0.4), temperature=(170.0, 180.0),
                         fwhm=(2.5, 6.0), exptime=(60.0, 900.0), **GROUND_SCENE, **GROUND_HITS),
    "rubin_like": dict(kind="ground", pitch=10.0, depleted=(100.0, 100.0), field_free=(0.0, 0.0),
                       bias_volts=(20.0, 50.0), field_ratio=(0.2, 0.5), temperature=(168.0, 178.0),
                       fwhm=(2.5, 5.0), exptime=(60.0, 900.0), **GROUND_SCENE, **GROUND_HITS),
    "dense_space": dict(kind="space", pitch=15.0, depleted=(10.0, 15.0), field_free=(0.0, 5.0),
                        bias_volts=(3.0, 8.0), field_ratio=(0.2, 0.5), temperature=(185.0, 195.0),
                        fwhm=(1.2, 2.0), exptime=(800.0, 2200.0), sky_log=(1.0, 300.0), gain_log=(0.5, 5.0),
                        readnoise=(2.0, 6.0), full_well=(6e4, 1e5), stars_log=(50.0, 1000.0),
                        galaxies_log=(150.0, 800.0), galaxy_size=(0.5, 2.0), psfs=("airy_space",),
                        hot_fraction=(2e-4, 2e-3), columns_per_kcol=(0.0, 2.0), on_sources=0.05,
                        proton_rate=(1.5, 3.0), alpha_share=0.1, heavy_share=0.01, secondary_share=0.1,
                        xray_share=0.02),
    "real_footprints": dict(kind="footprints", scenes=("thin_ground", "thick_ground"), exptime=(300.0, 1200.0),
                            rate_boost=(1.0, 3.0), on_sources=0.1),
}


def _draw(rng, spec, key):
    low, high = spec[key] if key in spec else spec[key + "_log"]
    return _log_uniform(rng, low, high) if key + "_log" in spec else float(rng.uniform(low, high))


def draw_sensor(spec, rng):
    """A `Sensor` drawn from a family's ranges (``spec`` is an entry of `FAMILIES` with a ``pitch``)."""
    return Sensor(spec["pitch"], _draw(rng, spec, "depleted"), _draw(rng, spec, "field_free"),
                  _draw(rng, spec, "bias_volts"), _draw(rng, spec, "field_ratio"), _draw(rng, spec, "temperature"))


def _on_sources(x, y, sources, share, rng, shape):
    """Move a ``share`` of hit positions onto sources (brighter ones more often), within ~1 px."""
    x, y = np.array(x, dtype=np.float64), np.array(y, dtype=np.float64)
    if len(sources) == 0 or len(x) == 0:
        return x, y
    pick = rng.uniform(size=len(x)) < share
    weights = np.sqrt(sources[:, 2])
    chosen = rng.choice(len(sources), pick.sum(), p=weights / weights.sum())
    x[pick] = np.clip(sources[chosen, 0] + rng.normal(0, 0.7, pick.sum()), 0, shape[1] - 1)
    y[pick] = np.clip(sources[chosen, 1] + rng.normal(0, 0.7, pick.sum()), 0, shape[0] - 1)
    return x, y


def _ground_directions(n, rng, telescope_zenith):
    """Incidence and in-plane azimuth of muons on a detector whose normal points ``telescope_zenith`` from zenith.

    Sky directions follow the cos^2 (zenith) intensity of sea-level muons; the
    flux through the tilted plane weights them by ``|cos|`` of the angle to
    its normal (rejection sampling), so one exposure's tracks share a preferred direction.
    """
    normal = np.array([np.sin(telescope_zenith), 0.0, np.cos(telescope_zenith)])
    e1 = np.array([np.cos(telescope_zenith), 0.0, -np.sin(telescope_zenith)])
    e2 = np.array([0.0, 1.0, 0.0])
    out = np.zeros((0, 3))
    while len(out) < n:
        m = 2 * (n - len(out)) + 8
        cos_z = rng.uniform(size=m) ** (1 / 3)
        phi = rng.uniform(0, 2 * np.pi, m)
        sin_z = np.sqrt(1 - cos_z ** 2)
        d = np.stack([sin_z * np.cos(phi), sin_z * np.sin(phi), cos_z], 1)
        keep = rng.uniform(size=m) < np.abs(d @ normal)
        out = np.vstack([out, d[keep]])
    d = out[:n]
    incidence = np.arccos(np.clip(np.abs(d @ normal), 0, 1))
    azimuth = np.arctan2(d @ e2, d @ e1) + rng.uniform(0, 2 * np.pi)  # the camera's rotation on the sky
    return incidence, azimuth


def _ground_hits(shape, spec, sensor, rng, exptime, sources, max_length):
    area_cm2 = shape[0] * shape[1] * (sensor.pitch_um * 1e-4) ** 2
    counts = {k: rng.poisson(_draw(rng, spec, k) * area_cm2 * exptime)
              for k in ("muon_rate", "compton_rate", "xray_rate", "alpha_rate")}
    n_mu = counts["muon_rate"]
    incidence, azimuth = _ground_directions(n_mu, rng, np.radians(_draw(rng, spec, "telescope_zenith_deg")))
    x, y = _on_sources(rng.uniform(0, shape[1], n_mu), rng.uniform(0, shape[0], n_mu), sources,
                       spec["on_sources"], rng, shape)
    # Muon bundles from one air shower: 2-4 parallel tracks a few to ~100 px apart.
    lead = np.flatnonzero(rng.uniform(size=n_mu) < spec["bundle_fraction"])
    extra = rng.integers(1, 4, lead.size)
    parent = np.repeat(lead, extra)
    x = np.concatenate([x, x[parent] + rng.uniform(-100, 100, parent.size)])
    y = np.concatenate([y, y[parent] + rng.uniform(-100, 100, parent.size)])
    incidence, azimuth = np.concatenate([incidence, incidence[parent]]), np.concatenate([azimuth, azimuth[parent]])
    beta_gamma = np.exp(rng.uniform(np.log(10.0), np.log(1000.0), x.size))  # 1-100 GeV/c muons
    packets, seeds = straight_tracks(x, y, incidence, azimuth, sensor, rng, beta_gamma=beta_gamma,
                                     max_length_px=max_length)
    n_c = counts["compton_rate"]
    compton = isotropic_electrons(n_c, shape, sensor, rng, np.exp(rng.uniform(np.log(20.0), np.log(400.0), n_c)))
    walks = electron_walks(*[np.concatenate([a, b]) for a, b in zip(seeds, compton)], sensor, rng)
    parts = [packets, walks, xray_spots(counts["xray_rate"], shape, sensor, rng),
             alpha_tracks(counts["alpha_rate"], shape, sensor, rng)]
    return rasterise(shape, *[np.concatenate(p) for p in zip(*parts)], sensor)


def _space_hits(shape, spec, sensor, rng, exptime, sources, max_length):
    area_cm2 = shape[0] * shape[1] * (sensor.pitch_um * 1e-4) ** 2
    n = rng.poisson(_draw(rng, spec, "proton_rate") * area_cm2 * exptime)
    kind = rng.choice(4, n, p=[1 - spec["alpha_share"] - spec["heavy_share"] - spec["secondary_share"],
                               spec["alpha_share"], spec["heavy_share"], spec["secondary_share"]])
    tracks = kind < 3
    m = tracks.sum()
    # Isotropic flux through a plane: cos(incidence) = sqrt(U).
    incidence = np.arccos(np.sqrt(rng.uniform(size=m)))
    azimuth = rng.uniform(0, 2 * np.pi, m)
    x, y = _on_sources(rng.uniform(0, shape[1], m), rng.uniform(0, shape[0], m), sources, spec["on_sources"],
                       rng, shape)
    # Protons and alphas: kinetic energy per nucleon from dN/dE ~ E^-2 (30 MeV - 20 GeV), so slow
    # trapped protons lose several times the minimum-ionising charge.
    energy = 1.0 / (1 / 30.0 - rng.uniform(size=m) * (1 / 30.0 - 1 / 2e4))  # MeV/nucleon
    gamma = 1.0 + energy / 938.3
    beta_gamma = np.sqrt(gamma ** 2 - 1)
    charge_sq = np.where(kind[tracks] == 1, 4.0, 1.0)
    # Heavier ions: LET (in units of the minimum-ionising loss) from N(>L) ~ L^-1.5, 10-1000.
    heavy = kind[tracks] == 2
    charge_sq[heavy] = 10.0 * rng.uniform(size=heavy.sum()) ** (-1 / 1.5)
    charge_sq = np.minimum(charge_sq, 1000.0)
    beta_gamma[heavy] = 30.0
    packets, seeds = straight_tracks(x, y, incidence, azimuth, sensor, rng, charge_sq=charge_sq,
                                     beta_gamma=beta_gamma, max_length_px=max_length)
    n_sec = np.sum(kind == 3)
    secondary = isotropic_electrons(n_sec, shape, sensor, rng, np.exp(rng.uniform(np.log(15), np.log(300), n_sec)))
    walks = electron_walks(*[np.concatenate([a, b]) for a, b in zip(seeds, secondary)], sensor, rng)
    parts = [packets, walks, xray_spots(rng.poisson(spec["xray_share"] * n), shape, sensor, rng)]
    return rasterise(shape, *[np.concatenate(p) for p in zip(*parts)], sensor)


def _footprint_hits(shape, rng, exptime, boost, sources, share):
    n = rng.poisson(footprint_rate_per_px_s() * boost * exptime * shape[0] * shape[1])
    x, y = _on_sources(rng.uniform(0, shape[1], n), rng.uniform(0, shape[0], n), sources, share, rng, shape)
    return inject_footprints(shape, x, y, rng)


def make_exposure(family, shape, seed, psf_shear=0.0):
    """One exposure of ``family`` (a key of `FAMILIES`); the same arguments give identical arrays.

    Parameters
    ----------
    family : str
    shape : tuple of int
        ``(ny, nx)``, each at least 16.
    seed : int
        Non-negative.
    psf_shear : float, optional
        Shear the PSF by this much more (GalSim's reduced shear g, in a direction drawn per exposure; 0.4 makes
        a round star's axis ratio 0.43): stars elongated by guiding or optics. Only the PSF changes.

    Returns
    -------
    IndependentExposure
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {family!r}")
    if len(shape) != 2 or min(shape) < 16:
        raise ValueError(f"shape must be two sides of at least 16 px, got {shape!r}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed!r}")
    if not 0.0 <= psf_shear < 1.0:
        raise ValueError(f"psf_shear must lie in [0, 1), got {psf_shear!r}")
    # The family's name enters the seed so that families do not share scenes seed for seed.
    streams = np.random.SeedSequence([seed, zlib.crc32(family.encode())]).spawn(4)
    scene_rng, cr_rng, noise_rng, defect_rng = (np.random.default_rng(s) for s in streams)
    spec = FAMILIES[family]
    footprints = spec["kind"] == "footprints"
    scene_spec = FAMILIES[spec["scenes"][scene_rng.integers(len(spec["scenes"]))]] if footprints else spec
    sensor = draw_sensor(scene_spec, scene_rng)
    exptime = _draw(scene_rng, spec if footprints else scene_spec, "exptime")
    gain, readnoise = _draw(scene_rng, scene_spec, "gain"), _draw(scene_rng, scene_spec, "readnoise")
    full_well = _draw(scene_rng, scene_spec, "full_well")
    sky, fwhm = _draw(scene_rng, scene_spec, "sky"), _draw(scene_rng, scene_spec, "fwhm")
    bias = float(scene_rng.uniform(200.0, 2000.0)) if scene_rng.uniform() < 0.5 else 0.0
    psf = make_psf(scene_spec["psfs"][scene_rng.integers(len(scene_spec["psfs"]))], fwhm, scene_rng)
    if psf_shear:
        # Its direction from a stream of its own, so that the scene, hits and noise stay those of the same seed.
        angle = np.random.default_rng([seed, zlib.crc32(family.encode()), 1]).uniform(0.0, np.pi)
        psf = psf.shear(g=psf_shear, beta=angle * galsim.radians)
    sky_sigma = np.sqrt(sky + readnoise ** 2)
    scene, stars, sources = render_scene(
        shape, scene_rng, psf=psf, fwhm=fwhm, sky=sky, sky_sigma=sky_sigma, full_well=full_well,
        stars_per_mpix=_draw(scene_rng, scene_spec, "stars"),
        galaxies_per_mpix=_draw(scene_rng, scene_spec, "galaxies"),
        galaxy_size_px=_draw(scene_rng, scene_spec, "galaxy_size"))
    scale, offset, bad = defects(shape, defect_rng, exptime=exptime,
                                 hot_fraction=_draw(defect_rng, scene_spec, "hot_fraction"),
                                 columns_per_kcol=_draw(defect_rng, scene_spec, "columns_per_kcol"))
    up_share = float(defect_rng.uniform(0.3, 0.7))

    max_length = float(np.hypot(*shape))
    used = ()
    if footprints:
        hits, used = _footprint_hits(shape, cr_rng, exptime, _draw(cr_rng, spec, "rate_boost"), sources,
                                     spec["on_sources"])
    elif spec["kind"] == "space":
        hits = _space_hits(shape, spec, sensor, cr_rng, exptime, sources, max_length)
    else:
        hits = _ground_hits(shape, spec, sensor, cr_rng, exptime, sources, max_length)

    # Hits land in the silicon before the column defects and the full well act on the charge.
    clean_e, saturated = bleed(scene * scale + offset, full_well, up_share)
    with_cr_e, with_cr_saturated = bleed((scene + hits) * scale + offset, full_well, up_share)
    noise = noise_rng.poisson(np.maximum(clean_e, 0)) - clean_e + noise_rng.normal(0, readnoise, shape)
    read_only = noise_rng.normal(0, readnoise, shape)
    clean_adu = np.where(saturated, full_well + read_only, clean_e + noise) / gain + bias
    image_adu = np.where(with_cr_saturated, full_well + read_only, with_cr_e + noise) / gain + bias
    saturated = saturated | (clean_adu >= ADC_MAX)
    # Only the ADC clips: a bias-subtracted (bias 0) frame keeps its negative noise.
    clean_adu, image_adu = (np.minimum(a, ADC_MAX).astype(np.float32) for a in (clean_adu, image_adu))

    cr_electrons = (with_cr_e - clean_e).astype(np.float32)
    sigma = np.sqrt(np.maximum(clean_e, 0) + readnoise ** 2).astype(np.float32)
    defect_mask = bad | saturated
    cr_mask = (cr_electrons >= TRUTH_SIGMA * sigma) & ~defect_mask
    ignore_mask = ((cr_electrons > 0) & ~cr_mask) | defect_mask
    return IndependentExposure(
        image_adu=image_adu, clean_adu=clean_adu, cr_electrons=cr_electrons, cr_mask=cr_mask,
        ignore_mask=ignore_mask, star_core_mask=_star_cores(shape, stars, fwhm, sky_sigma),
        defect_mask=defect_mask, saturated_mask=saturated, noise_sigma_electrons=sigma, gain=gain,
        readnoise=readnoise, bias=bias, exptime=exptime, sky_electrons=sky, fwhm=fwhm, full_well=full_well,
        seed=int(seed), profile=family, footprint_ids=used)


def _star_cores(shape, stars, fwhm, sky_sigma):
    """Pixels within max(FWHM, 1.5) px of stars peaking above 5 sky sigma."""
    mask = np.zeros(shape, bool)
    radius = max(fwhm, 1.5)
    r = int(np.ceil(radius))
    dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
    for x, y, _, peak in stars[stars[:, 3] > 5 * sky_sigma]:
        rows, cols = np.rint(y).astype(int) + dy, np.rint(x).astype(int) + dx
        keep = ((rows - y) ** 2 + (cols - x) ** 2 <= radius ** 2) & (rows >= 0) & (rows < shape[0]) \
            & (cols >= 0) & (cols < shape[1])
        mask[rows[keep], cols[keep]] = True
    return mask


def make_family(name, n, size, seed, psf_shear=0.0):
    """``n`` exposures of ``size`` x ``size`` px of family ``name``, with seeds ``seed, seed + 1, ...``."""
    return [make_exposure(name, (size, size), seed + i, psf_shear) for i in range(n)]
