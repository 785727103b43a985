"""Physical simulation of cosmic-ray charge in a CCD.

Three kinds of events are drawn (Groom 2004 describes all three in CCD darks):

* **tracks**: minimum-ionising particles (muons on the ground, protons in
  space) crossing the depletion region at zenith angle ``theta``. The track
  projects to ``depth * tan(theta) / pitch`` pixels; the charge per micron of
  path follows a Landau-like (Moyal) distribution with a most probable value
  near 80 e-/um, and each charge packet diffuses sideways by an amount that
  grows with the distance it drifts to the potential wells;
* **worms**: low-energy (Compton or delta) electrons that scatter as they
  slow down, drawn as persistent random walks with charge growing towards the
  end of the path;
* **spots**: compact depositions (x-rays, stopped low-energy electrons) of
  a few thousand electrons.

All functions work in electrons and take a seeded `numpy.random.Generator`.

References
----------
.. [1] Groom, D. 2004, "Cosmic rays and other nonsense in astronomical CCD
   imagers", Experimental Astronomy, 14, 45.
.. [2] Moyal, J. E. 1955, "Theory of ionization fluctuations", Phil. Mag., 46, 263.
.. [3] Bichsel, H. 1988, "Straggling in thin silicon detectors", Rev. Mod.
   Phys., 60, 663 (most probable energy loss in thin silicon).
.. [4] Zhang, K., & Bloom, J. S. 2020, deepCR, ApJ, 889, 24 (HST cosmic-ray
   rates of a few per cm^2 per s).
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from crclean.training._hit_variants import heavy_ion_boost, move_onto_anchors, sharpening

__all__ = [
    "SensorGeometry",
    "THIN_SENSOR",
    "THICK_SENSOR",
    "sample_zenith",
    "track_length_px",
    "render_charge",
    "simulate_cosmic_rays",
]

_EV_PER_ELECTRON = 3.65  # mean energy per electron-hole pair in silicon


@dataclass(frozen=True)
class SensorGeometry:
    """Geometry and charge collection of a CCD.

    Attributes
    ----------
    pixel_pitch_um : float
        Pixel size in microns.
    depletion_um : float
        Thickness of the sensitive (depleted) layer in microns.
    diffusion_um : float
        Lateral diffusion sigma, in microns, of charge created at the far side
        of the sensitive layer; charge created at depth ``z`` diffuses by
        ``diffusion_um * sqrt(z / depletion_um)``.
    mpv_e_per_um : float
        Most probable charge per micron of a minimum-ionising track.
    """

    pixel_pitch_um: float = 15.0
    depletion_um: float = 15.0
    diffusion_um: float = 3.0
    mpv_e_per_um: float = 80.0

    def __post_init__(self):
        for name in ("pixel_pitch_um", "depletion_um", "diffusion_um", "mpv_e_per_um"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")


#: Thinned, back-illuminated CCD (HST WFPC2/ACS-like): 15 um pixels, ~15 um thick.
THIN_SENSOR = SensorGeometry(pixel_pitch_um=15.0, depletion_um=15.0, diffusion_um=3.0)
#: Deep-depletion CCD (LSST/DECam-like): 100 um thick, more lateral diffusion.
THICK_SENSOR = SensorGeometry(pixel_pitch_um=15.0, depletion_um=100.0, diffusion_um=6.0)


def sample_zenith(n, *, rng, cos_power=3.0):
    """Draw incidence (zenith) angles relative to the detector normal.

    The angle density is ``cos(theta)**cos_power * sin(theta)``: 3 for the
    ``cos^2`` muon intensity at ground level seen through a flat detector
    (one more cosine for the projected area), 1 for an isotropic flux in space.

    Parameters
    ----------
    n : int
        Number of angles.
    rng : numpy.random.Generator
        Random generator.
    cos_power : float, optional
        Exponent of ``cos(theta)``; must be > -1.

    Returns
    -------
    numpy.ndarray
        Angles in radians in ``[0, pi/2)``.
    """
    if not cos_power > -1:
        raise ValueError(f"cos_power must be > -1, got {cos_power!r}")
    cos_theta = rng.uniform(0.0, 1.0, n) ** (1.0 / (cos_power + 1.0))
    return np.arccos(np.clip(cos_theta, 1e-6, 1.0))


def track_length_px(depth_um, zenith, pitch_um):
    """Projected length in pixels of a straight track through a layer.

    Parameters
    ----------
    depth_um : float
        Layer thickness in microns.
    zenith : float or numpy.ndarray
        Incidence angle in radians.
    pitch_um : float
        Pixel pitch in microns.

    Returns
    -------
    float or numpy.ndarray
        ``depth_um * tan(zenith) / pitch_um``.
    """
    return depth_um * np.tan(zenith) / pitch_um


def _moyal(rng, size):
    # If Z ~ N(0, 1), -ln(Z^2) follows the standard Moyal distribution (mode 0).
    z = rng.standard_normal(size)
    return -np.log(np.maximum(z * z, 1e-30))


def render_charge(shape, x, y, charge, sigma):
    """Spread point charges over pixels with Gaussian diffusion.

    Each packet is integrated exactly over the pixel grid (pixel ``j`` spans
    ``[j - 0.5, j + 0.5)``), so the charge landing inside the image is conserved.

    Parameters
    ----------
    shape : tuple of int
        Image shape ``(ny, nx)``.
    x, y : numpy.ndarray
        Packet positions in pixels.
    charge : numpy.ndarray
        Charge of each packet in electrons.
    sigma : numpy.ndarray
        Diffusion sigma of each packet in pixels.

    Returns
    -------
    numpy.ndarray
        float64 charge map.
    """
    out = np.zeros(int(shape[0]) * int(shape[1]))
    x, y, charge = (np.asarray(a, float).ravel() for a in (x, y, charge))
    sigma = np.maximum(np.broadcast_to(np.asarray(sigma, float), x.shape), 1e-3)
    radius = np.ceil(4.0 * sigma + 0.5).astype(int)
    for r in np.unique(radius):
        sel = radius == r
        offsets = np.arange(-r, r + 1)
        weights = []
        pixels = []
        for pos in (y[sel], x[sel]):
            centre = np.floor(pos + 0.5).astype(int)
            pix = centre[:, None] + offsets[None, :]
            s = sigma[sel][:, None]
            w = ndtr((pix + 0.5 - pos[:, None]) / s) - ndtr((pix - 0.5 - pos[:, None]) / s)
            # Renormalise the 4-sigma window so each packet keeps all its charge.
            weights.append(w / w.sum(axis=1, keepdims=True))
            pixels.append(pix)
        w2 = charge[sel][:, None, None] * weights[0][:, :, None] * weights[1][:, None, :]
        py = np.broadcast_to(pixels[0][:, :, None], w2.shape)
        px = np.broadcast_to(pixels[1][:, None, :], w2.shape)
        inside = (py >= 0) & (py < shape[0]) & (px >= 0) & (px < shape[1]) & (w2 > 0)
        out += np.bincount(
            (py[inside] * shape[1] + px[inside]), weights=w2[inside], minlength=out.size
        )
    return out.reshape(shape)


def _diffusion_px(depth_fraction, sensor):
    return sensor.diffusion_um * np.sqrt(depth_fraction) / sensor.pixel_pitch_um


def _tracks(n, shape, rng, sensor, cos_power, max_length_px, heavy_fraction, anchors=None,
            anchor_fraction=0.0, aligned_fraction=0.0, ion_fraction=0.0, sharp_fraction=0.0,
            grazing_fraction=0.0):
    """Packets of ``n`` straight tracks: (x, y, charge, sigma) arrays."""
    zenith = sample_zenith(n, rng=rng, cos_power=cos_power)
    length = np.minimum(track_length_px(sensor.depletion_um, zenith, sensor.pixel_pitch_um),
                        max_length_px)
    grazing = np.zeros(n, bool)
    if grazing_fraction > 0 and n:
        # Particles that cross the sensor almost edge-on leave tracks tens to hundreds of pixels long,
        # at any azimuth; those within a few degrees of a pixel axis look like bad columns, bleed trails
        # and sky lines (all negatives), and crclean-ccd-v15 missed 150 px ones whole where deepCR
        # flagged them. Drawn only when asked, so that other data keep their random streams.
        grazing = rng.uniform(size=n) < grazing_fraction
        length = np.where(grazing, np.minimum(np.exp(rng.uniform(np.log(20.0), np.log(300.0), n)),
                                              max_length_px), length)
        grazing_azimuth = rng.integers(0, 4, n) * (np.pi / 2) + np.deg2rad(rng.uniform(-8.0, 8.0, n))
    # Path in silicon follows the (possibly capped) projected length.
    path_um = np.hypot(length * sensor.pixel_pitch_um, sensor.depletion_um)
    azimuth = rng.uniform(0, 2 * np.pi, n)
    x0 = rng.uniform(-0.5, shape[1] - 0.5, n)
    y0 = rng.uniform(-0.5, shape[0] - 0.5, n)
    from_back = rng.integers(0, 2, n).astype(bool)
    # Heavier or slower particles (protons, alphas) lose several times more.
    boost = np.where(rng.uniform(size=n) < heavy_fraction, rng.uniform(1.5, 6.0, n), 1.0)
    # Packets every ~0.25 px and every ~2 um in depth, so diffusion is smooth.
    n_packets = np.maximum(np.ceil(4 * length), np.ceil(sensor.depletion_um / 2)).astype(int)
    track = np.repeat(np.arange(n), n_packets)
    t = (np.arange(track.size) - np.repeat(np.cumsum(n_packets) - n_packets, n_packets) + 0.5)
    t = t / n_packets[track]
    depth = np.where(from_back[track], 1.0 - t, t)
    # Landau straggling: the whole track draws its charge per micron from a
    # Moyal law (mode = MPV) that is wider for thinner layers (Bichsel 1988),
    # then segments share it with their own fluctuations (clumpy tracks).
    track_width = np.clip(0.125 * (100.0 / path_um) ** 0.4, 0.05, 0.5)
    per_um = sensor.mpv_e_per_um * boost * np.maximum(
        1 + track_width * np.minimum(_moyal(rng, n), 40.0), 0.3)
    share = np.maximum(1 + 0.3 * np.minimum(_moyal(rng, track.size), 40.0), 0.1)
    share /= np.bincount(track, weights=share, minlength=n)[track]
    charge = (per_um * path_um)[track] * share
    x0, y0 = move_onto_anchors(x0, y0, rng, anchors, anchor_fraction)
    if aligned_fraction > 0 and n:
        # Along a row or column, centred on it: a thin sensor's track is then a
        # one-pixel-wide bar, which a model must not take for a bad column.
        aligned = rng.uniform(size=n) < aligned_fraction
        azimuth = np.where(aligned, rng.integers(0, 4, n) * (np.pi / 2), azimuth)
        x0, y0 = np.where(aligned, np.round(x0), x0), np.where(aligned, np.round(y0), y0)
    if grazing.any():
        azimuth = np.where(grazing, grazing_azimuth, azimuth)
    charge = charge * heavy_ion_boost(rng, n, ion_fraction)[track]
    x = x0[track] + t * length[track] * np.cos(azimuth[track])
    y = y0[track] + t * length[track] * np.sin(azimuth[track])
    return x, y, charge, _diffusion_px(depth, sensor) * sharpening(rng, n, sharp_fraction)[track]


def _worms(n, shape, rng, sensor):
    """Packets of ``n`` low-energy electrons scattering as they stop."""
    xs, ys, qs, ss = [], [], [], []
    for _ in range(n):
        steps = int(rng.integers(6, 40))
        heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.5, steps))
        step_px = 0.5
        x = rng.uniform(-0.5, shape[1] - 0.5) + np.cumsum(step_px * np.cos(heading))
        y = rng.uniform(-0.5, shape[0] - 0.5) + np.cumsum(step_px * np.sin(heading))
        energy_ev = rng.uniform(2e4, 3e5)
        # dE/dx rises as the electron slows (Bragg-like), so weight the end.
        weight = np.linspace(1.0, 3.0, steps)
        charge = energy_ev / _EV_PER_ELECTRON * weight / weight.sum()
        depth = np.full(steps, rng.uniform(0, 1))
        xs.append(x)
        ys.append(y)
        qs.append(charge)
        ss.append(_diffusion_px(depth, sensor))
    if not xs:
        return (np.empty(0),) * 4
    return tuple(np.concatenate(a) for a in (xs, ys, qs, ss))


def _spots(n, shape, rng, sensor, anchors=None, anchor_fraction=0.0, alpha_fraction=0.0, ion_fraction=0.0,
           sharp_fraction=0.0):
    """Packets of ``n`` compact depositions (one diffused point each)."""
    x = rng.uniform(-0.5, shape[1] - 0.5, n)
    y = rng.uniform(-0.5, shape[0] - 0.5, n)
    charge = rng.lognormal(np.log(1600.0), 0.7, n)
    sigma = _diffusion_px(rng.uniform(0, 1, n), sensor)
    x, y = move_onto_anchors(x, y, rng, anchors, anchor_fraction)
    if alpha_fraction > 0 and n:
        # Alpha particles (radioactive traces in windows and packages) stop in
        # a few microns and leave 1-2 MeV to 8 MeV: 3e5-2e6 e-, enough to
        # saturate and bleed along the column; the bled charge is a cosmic ray too.
        alpha = rng.uniform(size=n) < alpha_fraction
        charge = np.where(alpha, np.exp(rng.uniform(np.log(3e5), np.log(2e6), n)), charge)
    charge = charge * heavy_ion_boost(rng, n, ion_fraction)
    sigma = sigma * sharpening(rng, n, sharp_fraction)
    return x, y, charge, sigma


def simulate_cosmic_rays(shape, *, rng, sensor=THIN_SENSOR, rate_per_cm2_s=1.5,
                         exptime=100.0, mix=(0.7, 0.15, 0.15), cos_power=3.0,
                         max_length_px=None, heavy_fraction=0.0, n_events=None, anchors=None,
                         anchor_fraction=0.0, aligned_fraction=0.0, alpha_fraction=0.0, ion_fraction=0.0,
                         sharp_fraction=0.0, grazing_fraction=0.0):
    """Simulate the cosmic-ray charge of one exposure.

    Parameters
    ----------
    shape : tuple of int
        Image shape ``(ny, nx)``.
    rng : numpy.random.Generator
        Source of all randomness.
    sensor : SensorGeometry, optional
        Pixel pitch, depletion depth and diffusion.
    rate_per_cm2_s : float, optional
        Event rate per cm^2 of detector per second. Measured rates are
        ~0.02-0.1 /cm^2/s at ground level (Groom 2004; 0.07 in the LSST ITL
        darks shipped with crclean) and ~1-3 /cm^2/s for HST in low orbit.
    exptime : float, optional
        Exposure (plus readout) time in seconds.
    mix : tuple of float, optional
        Relative fractions of tracks, worms and spots.
    cos_power : float, optional
        Zenith-angle exponent, see `sample_zenith` (3 ground, 1 space).
    max_length_px : float, optional
        Cap on the projected track length; defaults to the image diagonal.
    heavy_fraction : float, optional
        Fraction of tracks from heavier/slower particles depositing 1.5-6 times
        the minimum-ionising charge (a few tens of percent in space).
    n_events : int, optional
        Exact number of events; overrides the Poisson draw from the rate.
    anchors : tuple of numpy.ndarray, optional
        ``(x, y)`` of sources (stars, galaxies) on which to start hits, or
        ``(x, y, weights, spread)`` to favour some
        (`crclean.training._hit_variants.move_onto_anchors`).
    anchor_fraction : float, optional
        Share of tracks and spots started on a random anchor (within ~1.5 px),
        so that hits overlap stars, galaxy cores and saturated stars.
    aligned_fraction : float, optional
        Share of tracks laid exactly along a pixel row or column.
    alpha_fraction : float, optional
        Share of spots that are alpha particles (3e5-2e6 e-).
    ion_fraction : float, optional
        Share of tracks and spots made by nuclei from helium to iron, whose
        charge is Z^2 times a proton's (4-676 times): hits hundreds to tens
        of thousands of sigma above the sky, many of them compact.
    sharp_fraction : float, optional
        Share of tracks and spots whose diffusion width is cut to 0-20%
        (`crclean.training._hit_variants.sharpening`): bars and lone pixels without wings.
    grazing_fraction : float, optional
        Share of tracks that cross the sensor almost edge-on: 20-300 px long (up to
        ``max_length_px``), within 8 degrees of a pixel row or column.

    Returns
    -------
    numpy.ndarray
        float64 charge map in electrons.
    """
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"shape must be two positive ints, got {shape!r}")
    mix = np.asarray(mix, float)
    if mix.shape != (3,) or np.any(mix < 0) or mix.sum() <= 0:
        raise ValueError(f"mix must be three non-negative fractions, got {tuple(mix)}")
    if not rate_per_cm2_s >= 0 or not exptime >= 0:
        raise ValueError(
            f"rate_per_cm2_s and exptime must be >= 0, got {rate_per_cm2_s!r}, {exptime!r}")
    shape = (int(shape[0]), int(shape[1]))
    if n_events is None:
        area_cm2 = shape[0] * shape[1] * (sensor.pixel_pitch_um * 1e-4) ** 2
        n_events = rng.poisson(rate_per_cm2_s * area_cm2 * exptime)
    n_tracks, n_worms, n_spots = rng.multinomial(int(n_events), mix / mix.sum())
    if max_length_px is None:
        max_length_px = float(np.hypot(*shape))
    packets = [
        _tracks(n_tracks, shape, rng, sensor, cos_power, max_length_px, heavy_fraction, anchors,
                anchor_fraction, aligned_fraction, ion_fraction, sharp_fraction, grazing_fraction),
        _worms(n_worms, shape, rng, sensor),
        _spots(n_spots, shape, rng, sensor, anchors, anchor_fraction, alpha_fraction, ion_fraction, sharp_fraction),
    ]
    x, y, charge, sigma = (np.concatenate(a) for a in zip(*packets))
    return render_charge(shape, x, y, charge, sigma)
