"""Independent survey tiles with strong lenses: a generalisation check for `crclean lenses`.

crclean's lens finder is trained on scenes from ``crclean.training.lenses``; a
benchmark drawn from that same code measures how well the finder learned the
simulator, not lensing. This module makes survey tiles with code that shares
nothing with it (it imports nothing from crclean), so a finder that learned the
training simulator's quirks instead of arcs shows it here.

How it differs from the training simulator:

- Mass: an elliptical power law (EPL; Tessore & Metcalf 2015) with slope
  1.8-2.2 plus external shear, instead of an isothermal ellipsoid; Einstein
  radii 0.8-2.5 arcsec; rays shot on a 3x supersampled grid and binned down.
- Source: one smooth elliptical Sersic (1963) profile, n 0.5-1.5, with a
  smaller offset second one in 40% of lenses; no star-forming clumps.
- Lens light: a de Vaucouleurs-like Sersic (n 3.5-4.5) aligned with the mass.
- PSF: a double Gaussian (10% of the flux in a wing twice as wide), seeing
  0.7-1.0 arcsec, instead of a Moffat profile.
- Pixels: 0.263 arcsec (DECam) by default instead of 0.2. Images are in ADU
  with the sky left in (500-3000 ADU with a gradient); Poisson noise is drawn
  in electrons (gain 1-4 e-/ADU, read noise 5-10 e-); bright stars saturate
  and bleed along columns; 30% of tiles have a NaN chip gap along one edge.
- Non-lenses are drawn analytically here, not pasted from a stamp bank: ring
  galaxies (exponential disk, Gaussian annulus and clumps on it), two-armed
  log-spiral galaxies, mergers with a tidal tail, edge-on disks with dust
  lanes, bright ellipticals without arcs, field galaxies and stars.

Surface-brightness profiles are written here in numpy; lenstronomy (Birrer &
Amara 2018) supplies only the EPL and shear deflections, called through its
profile classes because its ``LensModel`` front end is slow to import.

Colour tiles
------------
``make_tile(..., bands=("g", "r", "i"))`` (any of g, r, i, z) makes registered
images of one scene, one per band, for a multi-band lens finder. The scene and
truth are drawn first, with the single-band tile's draws, then each band's
exposure and each object's colours, so a colour tile shows the scene of the
single-band tile from the same generator state. The reference band (r if
asked for, else the band nearest r in wavelength) keeps the single-band
exposure and fluxes, drawn in multiples of its sky noise; the other bands
follow through the colours. The numbers below are approximate, from the cited
work and general knowledge; they aim at realistic ranges, not a survey's exact
photometry.

Colours are AB magnitudes per band (an SED per object or per part of a
composite galaxy), turned into ADU with a relative throughput (ADU per unit AB
flux density): g 1.0, r 1.0, i 0.8, z 0.55, of the order of DECam's
integral of T(lambda) dlambda/lambda (Flaugher et al. 2015). ADU colours thus
differ from AB colours by fixed offsets, as in raw survey images.

- Lens galaxies: passive red-sequence galaxies at z uniform in 0.3-0.8;
  g-r, r-i, i-z interpolated in a table, 1.45, 0.50, 0.33 at z 0.3 to 1.95,
  1.25, 0.58 at z 0.8, as the 4000 A break moves from g/r to r/i (as in the
  DES redMaPPer red sequence, Rykoff et al. 2016, and passive models, Bruzual
  & Charlot 2003), with 0.05 mag scatter per colour: g-i 1.9-3.3.
- Bright ellipticals without arcs: the same recipe and the same draws, so
  colour alone does not tell them from lens galaxies.
- Lensed sources: star-forming galaxies at z uniform in 1-3, f_lambda ~
  lambda**beta with the ultraviolet slope beta (Meurer et al. 1999) normal
  about -1.7 (sd 0.3, clipped to -2.5..-0.8; typical of UV-selected galaxies at
  z 2-3, Reddy et al. 2012), a 0.05-0.3 mag Balmer/4000 A break in bands that
  see rest frame beyond 400 nm, and Lyman-alpha forest absorption in g above
  z 2.2 (to 0.6 mag at z 3; Madau 1995). 15% are dusty or ageing (beta -0.8 to
  +1): a tail towards red. A second source component has its own slope (beta
  plus a normal scatter of 0.2). Median g-i is 0.3 (AB), 10% redder than 1.0.
- Ring galaxies, nearby (colours on the low-redshift galaxy locus: r-i =
  0.05 + 0.4 (g-r), i-z = 0.3 (g-r), 0.03 mag scatter): star-forming ring
  g-r 0.15-0.5, and -0.05-0.15 in 30% of them, as blue as typical arcs; clumps
  up to 0.15 mag bluer than their ring; disk 0.5-0.85, nucleus 0.65-0.95
  (young rings around older disks; Appleton & Struck-Marcell 1996).
- Spirals: arms g-r 0.15-0.45, smooth disk 0.45-0.7, bulge 0.7-0.95.
- Mergers: each galaxy g-r 0.3-0.95, the tidal tail 0.15-0.6.
- Edge-on disks: disk g-r 0.5-0.8 and bulge 0.75-0.95 before dust; the dust
  lane's optical depth scales between bands as the extinction coefficients
  A/E(B-V) 3.186, 2.140, 1.569, 1.196 in g, r, i, z (DES DR1, Abbott et al.
  2018, after Schlafly & Finkbeiner 2011): deeper and redder in g.
- Field galaxies: passive at z 0.1-1 (the red-sequence table, 35%) or
  star-forming at z 0.1-2.5 with beta -2.3 to 0.5 (65%): g-i -0.1 to 3.4.
- Stars: on the stellar locus (after Covey et al. 2007), turn-off stars (50%,
  g-r about 0.35), G and K dwarfs (30%, 0.5-1.25) and M dwarfs (20%, 1.3-1.5, with
  r-i up to 1.4), 0.03 mag scatter about the locus.

Each band is its own exposure (they are taken at different times):

- Seeing: the reference band's FWHM is drawn in 0.7-1.0 arcsec as for
  single-band tiles; another band's is that times (lambda / lambda_ref)**-0.2
  (Kolmogorov turbulence; Roddier 1981) times uniform 0.95-1.05, with
  effective wavelengths 480, 640, 780, 920 nm. The PSF shape is the same.
- Sky: the reference band's level is drawn in 500-3000 ADU as before; another
  band's is scaled by the dark-sky brightness, 22.26, 21.20, 20.48, 19.60 AB
  mag per square arcsec in g, r, i, z (Ivezic et al. 2019), and the
  throughputs (about 0.38, 1.55 and 2.4 times r's in g, i, z), times a
  log-uniform 0.6-1.7 for the Moon, airglow and twilight. Each band has its
  own gradient.
- Gain (1-4 e-/ADU), read noise (5-10 e-) and saturation (30000-60000 ADU)
  are drawn per band as for single-band tiles: dithered exposures put a
  field on different CCDs. The chip gap and the WCS are the same in all
  bands (registered images).
- ``arc_snr`` stays the reference band's; ``arc_snr_bands`` gives each band's,
  measured the same way with its own PSF and sky noise.

References
----------
Abbott, T. M. C. et al. 2018, ApJS 239, 18 (DES DR1).
Appleton, P. N. & Struck-Marcell, C. 1996, Fund. Cosmic Phys. 16, 111.
Birrer, S. & Amara, A. 2018, Phys. Dark Universe 22, 189.
Bruzual, G. & Charlot, S. 2003, MNRAS 344, 1000.
Covey, K. R. et al. 2007, AJ 134, 2398.
Flaugher, B. et al. 2015, AJ 150, 150.
Ivezic, Z. et al. 2019, ApJ 873, 111.
Madau, P. 1995, ApJ 441, 18.
Meurer, G. R., Heckman, T. M. & Calzetti, D. 1999, ApJ 521, 64.
Reddy, N. A. et al. 2012, ApJ 754, 25.
Roddier, F. 1981, Progress in Optics 19, 281.
Rykoff, E. S. et al. 2016, ApJS 224, 1.
Schlafly, E. F. & Finkbeiner, D. P. 2011, ApJ 737, 103.
Sersic, J. L. 1963, Bol. Asoc. Argentina Astron. 6, 41.
Tessore, N. & Metcalf, R. B. 2015, A&A 580, A79.
"""

import functools
import time

import numpy as np
from astropy.wcs import WCS
from scipy.optimize import brentq
from scipy.signal import fftconvolve
from scipy.special import erf

from _independent_galaxies import (BANDS, GALAXY_COLOURS, NEGATIVE_BUILDERS, NEGATIVE_KINDS, NEGATIVE_WEIGHTS,
                                   WAVELENGTHS, _elliptical, _field_galaxy, _log_uniform, _red_sequence_sed, _sed,
                                   _sersic, _sersic_flux, _star_forming_sed, _unit)

__all__ = ["make_tile"]

OVERSAMPLE = 3
WING_FRACTION, WING_WIDTH = 0.1, 2.0
LENS_MARGIN = 60  # pixels from the tile edge or a chip gap
MAX_HALF = 80  # stamp half-side cap (pixels), keeps big ellipticals affordable

# Per band, in the order of BANDS (g, r, i, z); see the module docstring for where the numbers come from.
THROUGHPUT = np.array([1.0, 1.0, 0.8, 0.55])  # ADU per unit AB flux density, relative to r
SKY_MAGNITUDES = np.array([22.26, 21.20, 20.48, 19.60])  # dark-sky brightness, AB mag per square arcsec
EXTINCTION = np.array([3.186, 2.140, 1.569, 1.196])  # A_band / E(B-V): dust dims blue bands most
SEEING_POWER = -0.2  # seeing FWHM ~ wavelength**-0.2 (Kolmogorov turbulence)
SEEING_JITTER = 0.05  # bands are exposed at different times: each band's FWHM off by up to +-5%
SKY_JITTER = (0.6, 1.7)  # ... and each band's sky off the dark-sky ratio by this factor (Moon, airglow)

# Observed stellar locus: g-r against r-i and i-z, from halo turn-off stars to M dwarfs.
_STELLAR_LOCUS = np.array([[0.20, 0.40, 0.60, 0.80, 1.00, 1.20, 1.30, 1.40, 1.50],   # g-r
                           [0.04, 0.11, 0.19, 0.27, 0.36, 0.48, 0.60, 0.90, 1.40],   # r-i
                           [0.00, 0.03, 0.07, 0.12, 0.18, 0.26, 0.33, 0.48, 0.75]])  # i-z


def _grid(x, y, half, pixel_scale):
    """Offsets (arcsec) of sub-pixel samples from ``(x, y)`` over a stamp of ``2 * half + 1`` pixels.

    Returns the stamp's corner pixel and ``dx`` (a row) and ``dy`` (a column)
    that broadcast to the supersampled grid; pixel ``j`` has centre ``j``.
    """
    ix0, iy0 = int(round(x)) - half, int(round(y)) - half
    sub = (np.arange((2 * half + 1) * OVERSAMPLE) + 0.5) / OVERSAMPLE - 0.5
    return ix0, iy0, ((ix0 + sub - x) * pixel_scale)[None, :], ((iy0 + sub - y) * pixel_scale)[:, None]


def _bin(image):
    """Sum supersampled pixels back into native pixels."""
    side = image.shape[0] // OVERSAMPLE
    return image.reshape(side, OVERSAMPLE, side, OVERSAMPLE).sum(axis=(1, 3))


def _render(profile, x, y, extent, pixel_scale):
    """Unit-flux stamp of ``profile(dx, dy)`` centred on ``(x, y)``, and its corner pixel."""
    half = int(min(np.ceil(extent / pixel_scale), MAX_HALF))
    ix0, iy0, dx, dy = _grid(x, y, half, pixel_scale)
    return ix0, iy0, _unit(_bin(profile(dx, dy)))


def _render_bands(profile, x, y, extent, pixel_scale, colours, reddening, reference):
    """Stamps of ``profile`` in every band, each of its parts in its own colour, and their corner pixel.

    Parameters
    ----------
    profile : callable
        A builder's profile; its ``profile.parts(dx, dy)`` gives the named
        components and the dust transmission (see ``_independent_galaxies``).
    x, y, extent, pixel_scale : float
        As for `_render`.
    colours : dict
        Part name -> flux ratios (one per output band) to the reference band.
    reddening : numpy.ndarray
        Per output band, the dust optical depth relative to the reference
        band's (ratio of extinction coefficients).
    reference : int
        Index of the reference band among the output bands.

    Returns
    -------
    ix0, iy0 : int
    stamps : list of numpy.ndarray
        One per output band; the reference band's has unit sum, so a flux
        drawn for the reference band scales them all.
    """
    half = int(min(np.ceil(extent / pixel_scale), MAX_HALF))
    ix0, iy0, dx, dy = _grid(x, y, half, pixel_scale)
    parts, transmission = profile.parts(dx, dy)
    stamps = []
    for k, depth in enumerate(reddening):
        image = sum(colours[name][k] * part for name, part in parts.items())
        if transmission is not None:
            # The same dust column in every band, its optical depth scaled by the extinction curve.
            image = image * transmission ** depth
        stamps.append(_bin(image))
    total = stamps[reference].sum()
    return ix0, iy0, [stamp / total for stamp in stamps]


def _paste(canvas, stamp, ix0, iy0):
    """Add ``stamp`` with its corner at ``(ix0, iy0)``, dropping what falls off the canvas."""
    ny, nx = canvas.shape
    x0, y0 = max(ix0, 0), max(iy0, 0)
    x1, y1 = min(ix0 + stamp.shape[1], nx), min(iy0 + stamp.shape[0], ny)
    if x1 > x0 and y1 > y0:
        canvas[y0:y1, x0:x1] += stamp[y0 - iy0:y1 - iy0, x0 - ix0:x1 - ix0]


# --- PSF ----------------------------------------------------------------------------------------

def _core_sigma(fwhm):
    """Core sigma of the double Gaussian whose combined profile has this FWHM."""
    peak = (1.0 - WING_FRACTION) + WING_FRACTION / WING_WIDTH ** 2

    def above_half(u):  # radial profile in core sigmas, relative to half its peak
        return ((1.0 - WING_FRACTION) * np.exp(-u ** 2 / 2.0)
                + WING_FRACTION / WING_WIDTH ** 2 * np.exp(-u ** 2 / (2.0 * WING_WIDTH ** 2)) - peak / 2.0)

    return fwhm / (2.0 * brentq(above_half, 0.1, 10.0))


def _pixel_gaussian(offsets, sigma):
    """Fraction of a unit 1-D Gaussian in pixels whose centres lie at ``offsets`` from its mean."""
    scale = np.sqrt(2.0) * sigma
    return 0.5 * (erf((offsets + 0.5) / scale) - erf((offsets - 0.5) / scale))


def _psf(offsets_x, offsets_y, sigma):
    """Double-Gaussian PSF integrated over pixels (exact, so undersampled cores keep their flux)."""
    core = np.outer(_pixel_gaussian(offsets_y, sigma), _pixel_gaussian(offsets_x, sigma))
    wing_sigma = WING_WIDTH * sigma
    wing = np.outer(_pixel_gaussian(offsets_y, wing_sigma), _pixel_gaussian(offsets_x, wing_sigma))
    return (1.0 - WING_FRACTION) * core + WING_FRACTION * wing


def _star(x, y, flux, sigma):
    """PSF times flux at sub-pixel ``(x, y)``, and its corner pixel."""
    half = int(np.ceil(7.0 * WING_WIDTH * sigma))
    ix, iy = int(round(x)), int(round(y))
    axis = np.arange(-half, half + 1)
    return ix - half, iy - half, flux * _psf(axis + ix - x, axis + iy - y, sigma)


# --- The lens -----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _deflectors():
    """lenstronomy's EPL and external-shear profile objects, built once."""
    # The pure-Python EPL (not EPL_NUMBA) and shear profile classes: single-plane ray shooting
    # needs no cosmology, and the LensModel front end costs seconds to import.
    from lenstronomy.LensModel.Profiles.epl import EPL
    from lenstronomy.LensModel.Profiles.shear import Shear

    return EPL(), Shear()


def _lens(rng, x, y, pixel_scale, kernel, sky_sigma):
    """Arcs and lens light (pre-PSF stamps, ADU) of one lens at ``(x, y)``, with its box and truth.

    Parameters
    ----------
    rng : numpy.random.Generator
    x, y : float
        Lens centre (0-based pixels).
    pixel_scale : float
        Arcsec per pixel.
    kernel : numpy.ndarray
        Unit-sum PSF image, used to find where the arcs are seen.
    sky_sigma : float
        Sky noise (ADU) at the lens, which sets the arc brightness.

    Returns
    -------
    dict
        ``stamps`` (a list of ``(image, ix0, iy0)``: the arcs, then the lens
        light), ``arc_parts`` (the arcs of each source component, same corner
        as the arcs, which they add up to), ``box``, ``theta_e`` and
        ``arc_snr``.
    """
    epl, shear = _deflectors()
    theta_e, slope = rng.uniform(0.8, 2.5), rng.uniform(1.8, 2.2)
    q_mass, angle = rng.uniform(0.55, 1.0), rng.uniform(0.0, np.pi)
    ellipticity = (1.0 - q_mass) / (1.0 + q_mass)
    e1, e2 = ellipticity * np.cos(2.0 * angle), ellipticity * np.sin(2.0 * angle)
    shear_size, shear_angle = rng.uniform(0.0, 0.1), rng.uniform(0.0, np.pi)
    gamma1, gamma2 = shear_size * np.cos(2.0 * shear_angle), shear_size * np.sin(2.0 * shear_angle)

    # An EPL plus shear centred together has a point-symmetric caustic centred on the lens.
    offset, direction = 0.3 * theta_e * np.sqrt(rng.random()), rng.uniform(0.0, 2.0 * np.pi)
    sources = [dict(x=offset * np.cos(direction), y=offset * np.sin(direction), r_eff=_log_uniform(rng, 0.1, 0.4),
                    n=rng.uniform(0.5, 1.5), q=rng.uniform(0.4, 1.0), angle=rng.uniform(0.0, np.pi), flux=1.0)]
    if rng.random() < 0.4:
        first = sources[0]
        step, turn = first["r_eff"] * rng.uniform(0.5, 1.5), rng.uniform(0.0, 2.0 * np.pi)
        sources.append(dict(x=first["x"] + step * np.cos(turn), y=first["y"] + step * np.sin(turn),
                            r_eff=first["r_eff"] * rng.uniform(0.3, 0.6), n=rng.uniform(0.5, 1.5),
                            q=rng.uniform(0.4, 1.0), angle=rng.uniform(0.0, np.pi), flux=rng.uniform(0.2, 0.6)))
    arc_snr, lens_to_arc = float(_log_uniform(rng, 25.0, 200.0)), float(_log_uniform(rng, 1.0, 6.0))
    light = dict(r_eff=theta_e * rng.uniform(0.5, 1.5), n=rng.uniform(3.5, 4.5),
                 q=float(np.clip(q_mass + rng.normal(0.0, 0.05), 0.4, 1.0)), angle=angle)

    kernel_half = kernel.shape[0] // 2
    half = int(np.ceil((2.0 * theta_e + 1.5) / pixel_scale)) + kernel_half
    ix0, iy0, dx, dy = _grid(x, y, half, pixel_scale)
    theta_x, theta_y = (a.ravel() for a in np.broadcast_arrays(dx, dy))
    alpha_x, alpha_y = epl.derivatives(theta_x, theta_y, theta_e, slope, e1, e2)
    shear_x, shear_y = shear.derivatives(theta_x, theta_y, gamma1, gamma2)
    beta_x, beta_y = theta_x - alpha_x - shear_x, theta_y - alpha_y - shear_y
    # Surface brightness is conserved, so each component's source-plane flux is its analytic total.
    # Components are kept apart (colour tiles give each its own SED) and summed in the original order.
    side = dx.shape[1]
    pieces = [(s["flux"] / _sersic_flux(s["r_eff"], s["n"], s["q"])
               * _sersic(beta_x - s["x"], beta_y - s["y"], s["r_eff"], s["n"], s["q"], s["angle"])).reshape(side, side)
              for s in sources]
    arcs = _bin(sum(pieces))

    seen, mask = _seen_arcs(arcs, kernel)
    scale = arc_snr * sky_sigma * np.sqrt(mask.sum()) / seen[mask].sum()
    arcs *= scale
    light_x0, light_y0, light_image = _render(lambda u, v: _sersic(u, v, **light), x, y, 6.0 * light["r_eff"],
                                              pixel_scale)

    rows, cols = np.nonzero(mask)
    core = 0.5 / pixel_scale
    # Box coordinates put pixel i on [i, i+1), so the lens centre (pixel-centre coordinates) sits at x + 0.5.
    box = [min(ix0 + cols.min(), x + 0.5 - core), min(iy0 + rows.min(), y + 0.5 - core),
           max(ix0 + cols.max() + 1, x + 0.5 + core), max(iy0 + rows.max() + 1, y + 0.5 + core)]
    return {"stamps": [(arcs, ix0, iy0), (light_image * lens_to_arc * arcs.sum(), light_x0, light_y0)],
            "arc_parts": [_bin(piece) * scale for piece in pieces], "box": box, "theta_e": float(theta_e),
            "arc_snr": arc_snr, "lens_to_arc": lens_to_arc}


def _seen_arcs(arcs, kernel):
    """``arcs`` seen through the PSF, and the mask where they count: above 10% of their peak."""
    seen = fftconvolve(arcs, kernel, mode="same")
    return seen, seen > 0.1 * seen.max()


def _arc_snr(arcs, kernel, sky_sigma):
    """S/N of ``arcs`` (pre-PSF, ADU) over their mask, as ``_lens`` defines ``arc_snr``."""
    seen, mask = _seen_arcs(arcs, kernel)
    return float(seen[mask].sum() / (sky_sigma * np.sqrt(mask.sum())))


# --- Colours and bands --------------------------------------------------------------------------

def _lens_colours(rng, n_sources):
    """SEDs of a lens: its red early-type deflector at z 0.3-0.8 and each source component at z 1-3.

    The sources are star-forming (ultraviolet slope beta about -1.7); 15% are
    dusty or ageing (beta -0.8 to 1), a tail towards the deflector's colour.
    A second source component shares the redshift with its own slope.
    """
    light = _red_sequence_sed(rng, 0.3, 0.8)
    z = rng.uniform(1.0, 3.0)
    beta = rng.uniform(-0.8, 1.0) if rng.random() < 0.15 else float(np.clip(rng.normal(-1.7, 0.3), -2.5, -0.8))
    balmer_break = rng.uniform(0.05, 0.3)
    sources = [_star_forming_sed(z, beta, balmer_break)]
    sources += [_star_forming_sed(z, beta + rng.normal(0.0, 0.2), balmer_break) for _ in range(n_sources - 1)]
    return light, sources


def _stellar_sed(rng):
    """A star on the stellar locus: halo turn-off stars (50%), G and K dwarfs (30%) or M dwarfs (20%)."""
    kind = rng.random()
    if kind < 0.5:
        g_r = rng.normal(0.35, 0.1)
    else:
        g_r = rng.uniform(0.5, 1.25) if kind < 0.8 else rng.uniform(1.3, 1.5)
    g_r = float(np.clip(g_r, _STELLAR_LOCUS[0, 0], _STELLAR_LOCUS[0, -1]))
    r_i, i_z = (np.interp(g_r, _STELLAR_LOCUS[0], row) + rng.normal(0.0, 0.03) for row in _STELLAR_LOCUS[1:])
    return _sed(g_r, r_i, i_z)


def _check_bands(bands):
    """``bands`` as a tuple of names from ``BANDS``, or None; ValueError for anything else."""
    if bands is None:
        return None
    if isinstance(bands, str):
        # "gri" would iterate as names; ask for the explicit form rather than guess.
        raise ValueError(f"bands must be a sequence of band names such as ('g', 'r', 'i'), not a string; "
                         f"got {bands!r}")
    try:
        names = tuple(bands)
    except TypeError:
        raise ValueError(f"bands must be a sequence of names from {BANDS}, got {bands!r}") from None
    if not names:
        raise ValueError(f"bands must name at least one band from {BANDS}, got {bands!r}")
    unknown = [name for name in names if not isinstance(name, str) or name not in BANDS]
    if unknown:
        raise ValueError(f"bands has unknown band names {unknown!r} (known: {BANDS}), got {bands!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"bands names a band more than once, got {bands!r}")
    return tuple(str(name) for name in names)


def _reference_band(bands):
    """The band whose fluxes and S/N are drawn as in single-band tiles: r, else the band nearest r."""
    if "r" in bands:
        return "r"
    return min(bands, key=lambda name: abs(WAVELENGTHS[BANDS.index(name)] - WAVELENGTHS[BANDS.index("r")]))


class _Exposure:
    """One band's exposure of the tile: sky level and gradient, gain, read noise, saturation and PSF."""

    def __init__(self, *, sky_level, gain, read_noise, gradient, saturation, fwhm, pixel_scale, shape):
        self.sky_level, self.gain, self.read_noise = sky_level, gain, read_noise
        self.gradient_x, self.gradient_y = gradient
        self.saturation, self.fwhm = saturation, fwhm
        self.ny, self.nx = shape
        self.sigma = _core_sigma(fwhm / pixel_scale)
        half = int(np.ceil(5.0 * WING_WIDTH * self.sigma))
        axis = np.arange(-half, half + 1)
        self.kernel = _unit(_psf(axis, axis, self.sigma))

    def sky(self, x, y):
        """Sky (ADU) at pixel ``(x, y)``: a plane through ``sky_level`` at the tile centre."""
        return self.sky_level * (1.0 + self.gradient_x * (x / self.nx - 0.5) + self.gradient_y * (y / self.ny - 0.5))

    def sky_sigma(self, x, y):
        """Noise (ADU) of one blank-sky pixel: sky photons and read noise."""
        return np.sqrt(self.sky(x, y) * self.gain + self.read_noise ** 2) / self.gain


def _band_exposure(rng, band, reference_band, reference, pixel_scale, shape):
    """The exposure of ``band``, drawn relative to the reference band's: its own sky, detector and seeing."""
    b, r = BANDS.index(band), BANDS.index(reference_band)
    sky_ratio = 10.0 ** (-0.4 * (SKY_MAGNITUDES[b] - SKY_MAGNITUDES[r])) * THROUGHPUT[b] / THROUGHPUT[r]
    sky_level = reference.sky_level * sky_ratio * _log_uniform(rng, *SKY_JITTER)
    gain, read_noise = rng.uniform(1.0, 4.0), rng.uniform(5.0, 10.0)
    gradient = rng.uniform(-0.04, 0.04, 2)
    saturation = rng.uniform(30000.0, 60000.0)
    fwhm = (reference.fwhm * (WAVELENGTHS[b] / WAVELENGTHS[r]) ** SEEING_POWER
            * rng.uniform(1.0 - SEEING_JITTER, 1.0 + SEEING_JITTER))
    return _Exposure(sky_level=sky_level, gain=gain, read_noise=read_noise, gradient=gradient,
                     saturation=saturation, fwhm=fwhm, pixel_scale=pixel_scale, shape=shape)


# --- Detector effects ---------------------------------------------------------------------------

def _saturate(image, level):
    """Clip at ``level`` and spill the excess charge up and down its column, as CCD bleed trails do."""
    for col in np.nonzero((image > level).any(axis=0))[0]:
        column = image[:, col]
        edges = np.diff(np.concatenate([[0], (column > level).astype(np.int8), [0]]))
        for start, end in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]):
            spill = int((column[start:end] - level).sum() / level)
            column[max(start - spill // 2, 0):min(end + spill - spill // 2, len(column))] = level
    return image


def _tile_wcs(shape, pixel_scale):
    """North-up TAN WCS at RA 150, Dec 2 with ``pixel_scale`` arcsec per pixel."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [shape[1] / 2.0 + 0.5, shape[0] / 2.0 + 0.5]
    wcs.wcs.cd = np.array([[-pixel_scale, 0.0], [0.0, pixel_scale]]) / 3600.0
    return wcs


def _position(rng, nx, ny, avoid):
    """A uniform position on the tile, outside the circle ``avoid = (x, y, radius)`` if given."""
    while True:
        x, y = rng.uniform(-0.5, nx - 0.5), rng.uniform(-0.5, ny - 0.5)
        if avoid is None or np.hypot(x - avoid[0], y - avoid[1]) > avoid[2]:
            return float(x), float(y)


def make_tile(rng, shape=(800, 800), *, has_lens, pixel_scale=0.263, negative_weights=NEGATIVE_WEIGHTS,
              ring_clumps=True, bands=None, _noiseless=False):
    """One survey tile in ADU, sky included, with its lens truth and object list.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of every random draw: the same generator state gives the same tile.
    shape : (int, int), optional
        Tile shape ``(ny, nx)``; each side at least 256 pixels.
    has_lens : bool
        Whether to place one lens (at least 60 pixels from the edges and any chip gap).
    pixel_scale : float, optional
        Arcsec per pixel.
    negative_weights : sequence of float, optional
        Shares of ``NEGATIVE_KINDS`` among the hard negatives.
    ring_clumps : bool, optional
        False gives the ring galaxies no star-forming clumps (see
        ``_ring_galaxy``); the defaults make the benchmark's tiles.
    bands : sequence of str, optional
        None (the default) makes the single-band tile, unchanged. Names from
        ``("g", "r", "i", "z")``, e.g. ``("g", "r", "i")``, make a registered
        colour tile with one image plane per name, in the order given: every
        object and every part of a composite galaxy has its own colour, and
        each band its own seeing, sky, gain, read noise and saturation (see
        the module docstring). The scene and the truth are the ones
        ``bands=None`` gives for the same generator state; fluxes and
        ``arc_snr`` are drawn for the reference band (r if given, else the
        band nearest r in wavelength), whose sky, detector and seeing are the
        single-band tile's, and the other bands follow through the colours.

    Other Parameters
    ----------------
    _noiseless : bool, optional
        Testing aid: ``image`` holds the objects' light alone (ADU, PSF
        included): no sky, noise or saturation; the chip gap is still NaN.

    Returns
    -------
    dict
        ``image`` (float32, ADU, NaN in a chip gap; ``(ny, nx)``, or
        ``(n_bands, ny, nx)`` with ``bands``), ``wcs`` (TAN, centred on
        RA 150, Dec 2; the same for every band), ``boxes`` (``(n, 4)`` lens
        boxes ``x0, y0, x1, y1``, pixel ``i`` spanning ``[i, i+1)``),
        ``lenses`` (dicts with ``x``, ``y``, ``theta_e``, ``arc_snr``),
        ``objects`` (dicts with ``kind``, ``x``, ``y`` for every non-lens
        object; ring galaxies also ``ring_radius`` in arcsec and
        ``nucleus_share``, the nucleus's share of the light, 0 without one)
        and ``pixel_scale``. With ``bands`` also ``bands`` (the tuple
        of names), ``seeing`` (band -> PSF FWHM, arcsec), and in each lens
        ``arc_snr_bands`` (band -> arc S/N, defined as ``arc_snr``).

    Raises
    ------
    ValueError
        For a bad ``shape``, ``pixel_scale`` or ``bands`` (not a sequence of
        distinct names from ``("g", "r", "i", "z")``, or empty).
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if len(shape) != 2 or any(int(side) != side or side < 256 for side in shape):
        raise ValueError(f"shape must be two integers >= 256, got {shape!r}")
    if not np.isfinite(pixel_scale) or pixel_scale <= 0:
        raise ValueError(f"pixel_scale must be a positive number of arcsec, got {pixel_scale!r}")
    bands = _check_bands(bands)
    ny, nx = int(shape[0]), int(shape[1])

    # The scene is drawn first, in the single-band order of draws; colours and the other bands' exposures
    # come after it from the same generator, so a colour tile shows the single-band tile's scene and truth.
    sky_level, gain, read_noise = rng.uniform(500.0, 3000.0), rng.uniform(1.0, 4.0), rng.uniform(5.0, 10.0)
    gradient = rng.uniform(-0.04, 0.04, 2)
    saturation = rng.uniform(30000.0, 60000.0)
    fwhm = rng.uniform(0.7, 1.0)
    reference = _Exposure(sky_level=sky_level, gain=gain, read_noise=read_noise, gradient=gradient,
                          saturation=saturation, fwhm=fwhm, pixel_scale=pixel_scale, shape=(ny, nx))
    gap = (int(rng.integers(4)), int(rng.integers(20, 61))) if rng.random() < 0.3 else None

    unit_flux = reference.sky_sigma(nx / 2.0, ny / 2.0)  # object fluxes are drawn in multiples of the sky noise
    boxes, lenses, objects, avoid, lens = [], [], [], None, None
    if has_lens:
        # Margins count from the chip gap's inner edge on the gap's side (0 left, 1 right, 2 bottom, 3 top).
        margins = [LENS_MARGIN + (gap[1] if gap and gap[0] == side else 0) for side in range(4)]
        x, y = rng.uniform(margins[0], nx - 1 - margins[1]), rng.uniform(margins[2], ny - 1 - margins[3])
        lens = _lens(rng, x, y, pixel_scale, reference.kernel, reference.sky_sigma(x, y))
        boxes.append(lens["box"])
        lenses.append({"x": float(x), "y": float(y), "theta_e": lens["theta_e"], "arc_snr": lens["arc_snr"],
                       "lens_to_arc": lens["lens_to_arc"]})
        # Keep other objects' centres off the lens so the truth stays one object; neighbours may still overlap it.
        avoid = (x, y, 0.5 * max(lens["box"][2] - lens["box"][0], lens["box"][3] - lens["box"][1]) + 8.0)

    galaxies = [(str(rng.choice(NEGATIVE_KINDS, p=negative_weights)), (300.0, 2e4)) for _ in range(rng.poisson(10))]
    galaxies += [("elliptical", (500.0, 3e4))] * int(rng.poisson(15))  # as bright as the lens galaxies
    galaxies += [("field", (10.0, 1e4))] * int(rng.poisson(80))
    placed = []
    for kind, flux_range in galaxies:
        builder = {"elliptical": _elliptical, "field": _field_galaxy}.get(kind) or NEGATIVE_BUILDERS[kind]
        profile, extent = builder(rng, clumps=ring_clumps) if kind == "ring" else builder(rng)
        x, y = _position(rng, nx, ny, avoid)
        placed.append((kind, profile, extent, x, y, _log_uniform(rng, *flux_range) * unit_flux))
        objects.append({"kind": kind, "x": x, "y": y, **getattr(profile, "truth", {})})
    stars = []
    for _ in range(rng.poisson(20)):
        x, y = _position(rng, nx, ny, avoid)
        flux = _log_uniform(rng, 3e4, 1e6) if rng.random() < 0.15 else _log_uniform(rng, 30.0, 3e4)
        stars.append((x, y, flux * unit_flux))
        objects.append({"kind": "star", "x": x, "y": y})

    if bands is None:
        exposures, canvases = [reference], [np.zeros((ny, nx))]
        if lens is not None:
            for stamp, ix0, iy0 in lens["stamps"]:
                _paste(canvases[0], stamp, ix0, iy0)
        for kind, profile, extent, x, y, flux in placed:
            ix0, iy0, stamp = _render(profile, x, y, extent, pixel_scale)
            _paste(canvases[0], stamp * flux, ix0, iy0)
        star_fluxes = [[flux] for _, _, flux in stars]
    else:
        exposures, canvases, star_fluxes = _colour_scene(rng, bands, reference, lens, lenses, placed, stars,
                                                         pixel_scale, (ny, nx))

    rows, cols = np.mgrid[0:ny, 0:nx]
    planes = []
    for k, (exposure, canvas) in enumerate(zip(exposures, canvases)):
        # Stars are drawn from the analytic PSF after the convolution: no sub-pixel smearing of point sources.
        canvas = fftconvolve(canvas, exposure.kernel, mode="same")
        for (x, y, _), fluxes in zip(stars, star_fluxes):
            ix0, iy0, stamp = _star(x, y, fluxes[k], exposure.sigma)
            _paste(canvas, stamp, ix0, iy0)
        if _noiseless:
            plane = np.clip(canvas, 0.0, None)
        else:
            model = np.clip(canvas, 0.0, None) + exposure.sky(cols, rows)
            electrons = (rng.poisson(model * exposure.gain).astype(np.float64)
                         + rng.normal(0.0, exposure.read_noise, (ny, nx)))
            plane = _saturate(electrons / exposure.gain, exposure.saturation)
        if gap is not None:
            side, width = gap
            region = {0: (slice(None), slice(0, width)), 1: (slice(None), slice(nx - width, nx)),
                      2: (slice(0, width), slice(None)), 3: (slice(ny - width, ny), slice(None))}[side]
            plane[region] = np.nan
        planes.append(plane)

    tile = {"image": (planes[0] if bands is None else np.stack(planes)).astype(np.float32),
            "wcs": _tile_wcs((ny, nx), pixel_scale), "boxes": np.array(boxes, float).reshape(-1, 4),
            "lenses": lenses, "objects": objects, "pixel_scale": float(pixel_scale)}
    if bands is not None:
        tile["bands"] = bands
        tile["seeing"] = {name: float(exposure.fwhm) for name, exposure in zip(bands, exposures)}
    return tile


def _colour_scene(rng, bands, reference, lens, lenses, placed, stars, pixel_scale, shape):
    """The other bands' exposures and every band's pre-PSF canvas of a colour tile.

    Draws, in this order, the exposures of the bands other than the reference
    one, the lens's colours, each galaxy's colours and each star's; adds
    ``arc_snr_bands`` to the lens truth in ``lenses``.

    Returns
    -------
    exposures : list of _Exposure
        One per band of ``bands``; the reference band's is ``reference``.
    canvases : list of numpy.ndarray
        Each band's lens and galaxy light (ADU), before the PSF.
    star_fluxes : list of numpy.ndarray
        Each star's flux (ADU) in every band.
    """
    reference_band = _reference_band(bands)
    k_ref, i_ref = bands.index(reference_band), BANDS.index(reference_band)
    indices = np.array([BANDS.index(name) for name in bands])
    exposures = [reference if name == reference_band
                 else _band_exposure(rng, name, reference_band, reference, pixel_scale, shape) for name in bands]
    reddening = EXTINCTION[indices] / EXTINCTION[i_ref]

    def ratios(sed):
        """Flux in each band per unit flux in the reference band (ADU): colour times throughput."""
        return 10.0 ** (-0.4 * (sed[indices] - sed[i_ref])) * THROUGHPUT[indices] / THROUGHPUT[i_ref]

    canvases = [np.zeros(shape) for _ in bands]
    if lens is not None:
        light_sed, source_seds = _lens_colours(rng, len(lens["arc_parts"]))
        (_, arcs_x0, arcs_y0), (light, light_x0, light_y0) = lens["stamps"]
        truth = lenses[0]
        source_ratios = [ratios(sed) for sed in source_seds]
        snr = {}
        for k, (name, exposure, canvas) in enumerate(zip(bands, exposures, canvases)):
            arcs = sum(ratio[k] * part for ratio, part in zip(source_ratios, lens["arc_parts"]))
            _paste(canvas, arcs, arcs_x0, arcs_y0)
            _paste(canvas, light * ratios(light_sed)[k], light_x0, light_y0)
            snr[name] = (truth["arc_snr"] if k == k_ref
                         else _arc_snr(arcs, exposure.kernel, exposure.sky_sigma(truth["x"], truth["y"])))
        truth["arc_snr_bands"] = snr
    for kind, profile, extent, x, y, flux in placed:
        colours = {name: ratios(sed) for name, sed in GALAXY_COLOURS[kind](rng).items()}
        ix0, iy0, stamps = _render_bands(profile, x, y, extent, pixel_scale, colours, reddening, k_ref)
        for canvas, stamp in zip(canvases, stamps):
            _paste(canvas, stamp * flux, ix0, iy0)
    star_fluxes = [flux * ratios(_stellar_sed(rng)) for _, _, flux in stars]
    return exposures, canvases, star_fluxes


if __name__ == "__main__":
    demo_rng = np.random.default_rng(1)
    for demo_has_lens, demo_bands in ((True, None), (False, None), (True, ("g", "r", "i"))):
        tick = time.perf_counter()
        tile = make_tile(demo_rng, has_lens=demo_has_lens, bands=demo_bands)
        seconds = time.perf_counter() - tick
        print(f"has_lens={demo_has_lens}, bands={demo_bands}: shape {tile['image'].shape}, "
              f"{len(tile['objects'])} objects, {seconds:.2f} s")
        for demo_band, plane in zip(tile.get("bands", ("-",)), tile["image"].reshape(-1, *tile["image"].shape[-2:])):
            seeing = f", seeing {tile['seeing'][demo_band]:.2f} arcsec" if "seeing" in tile else ""
            print(f"  band {demo_band}: sky median {np.nanmedian(plane):.1f} ADU{seeing}")
        for lens_box, lens_truth in zip(tile["boxes"], tile["lenses"]):
            print(f"  lens box {np.round(lens_box, 1).tolist()}, theta_e {lens_truth['theta_e']:.2f} arcsec, "
                  f"arc S/N {lens_truth['arc_snr']:.0f}")
            if "arc_snr_bands" in lens_truth:
                print("  arc S/N per band: " + ", ".join(f"{name} {snr:.0f}"
                                                         for name, snr in lens_truth["arc_snr_bands"].items()))
