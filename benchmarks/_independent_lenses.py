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

References
----------
Birrer, S. & Amara, A. 2018, Phys. Dark Universe 22, 189.
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

from _independent_galaxies import (NEGATIVE_BUILDERS, NEGATIVE_KINDS, NEGATIVE_WEIGHTS, _elliptical, _field_galaxy,
                                   _log_uniform, _sersic, _sersic_flux, _unit)

__all__ = ["make_tile"]

OVERSAMPLE = 3
WING_FRACTION, WING_WIDTH = 0.1, 2.0
LENS_MARGIN = 60  # pixels from the tile edge or a chip gap
MAX_HALF = 80  # stamp half-side cap (pixels), keeps big ellipticals affordable


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
        ``stamps`` (a list of ``(image, ix0, iy0)``), ``box``, ``theta_e`` and ``arc_snr``.
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
    brightness = sum(s["flux"] / _sersic_flux(s["r_eff"], s["n"], s["q"])
                     * _sersic(beta_x - s["x"], beta_y - s["y"], s["r_eff"], s["n"], s["q"], s["angle"])
                     for s in sources)
    arcs = _bin(brightness.reshape(dx.shape[1], dx.shape[1]))

    seen = fftconvolve(arcs, kernel, mode="same")
    mask = seen > 0.1 * seen.max()
    arcs *= arc_snr * sky_sigma * np.sqrt(mask.sum()) / seen[mask].sum()
    light_x0, light_y0, light_image = _render(lambda u, v: _sersic(u, v, **light), x, y, 6.0 * light["r_eff"],
                                              pixel_scale)

    rows, cols = np.nonzero(mask)
    core = 0.5 / pixel_scale
    # Box coordinates put pixel i on [i, i+1), so the lens centre (pixel-centre coordinates) sits at x + 0.5.
    box = [min(ix0 + cols.min(), x + 0.5 - core), min(iy0 + rows.min(), y + 0.5 - core),
           max(ix0 + cols.max() + 1, x + 0.5 + core), max(iy0 + rows.max() + 1, y + 0.5 + core)]
    return {"stamps": [(arcs, ix0, iy0), (light_image * lens_to_arc * arcs.sum(), light_x0, light_y0)],
            "box": box, "theta_e": float(theta_e), "arc_snr": arc_snr}


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
              ring_clumps=True):
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

    Returns
    -------
    dict
        ``image`` (float32, ADU, NaN in a chip gap), ``wcs`` (TAN, centred on
        RA 150, Dec 2), ``boxes`` (``(n, 4)`` lens boxes ``x0, y0, x1, y1``,
        pixel ``i`` spanning ``[i, i+1)``), ``lenses`` (dicts with ``x``,
        ``y``, ``theta_e``, ``arc_snr``), ``objects`` (dicts with ``kind``,
        ``x``, ``y`` for every non-lens object) and ``pixel_scale``.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if len(shape) != 2 or any(int(side) != side or side < 256 for side in shape):
        raise ValueError(f"shape must be two integers >= 256, got {shape!r}")
    if not np.isfinite(pixel_scale) or pixel_scale <= 0:
        raise ValueError(f"pixel_scale must be a positive number of arcsec, got {pixel_scale!r}")
    ny, nx = int(shape[0]), int(shape[1])

    sky_level, gain, read_noise = rng.uniform(500.0, 3000.0), rng.uniform(1.0, 4.0), rng.uniform(5.0, 10.0)
    gradient_x, gradient_y = rng.uniform(-0.04, 0.04, 2)
    saturation = rng.uniform(30000.0, 60000.0)
    sigma = _core_sigma(rng.uniform(0.7, 1.0) / pixel_scale)
    gap = (int(rng.integers(4)), int(rng.integers(20, 61))) if rng.random() < 0.3 else None
    kernel_axis = np.arange(-int(np.ceil(5.0 * WING_WIDTH * sigma)), int(np.ceil(5.0 * WING_WIDTH * sigma)) + 1)
    kernel = _unit(_psf(kernel_axis, kernel_axis, sigma))

    def sky(x, y):
        return sky_level * (1.0 + gradient_x * (x / nx - 0.5) + gradient_y * (y / ny - 0.5))

    def sky_sigma(x, y):
        return np.sqrt(sky(x, y) * gain + read_noise ** 2) / gain

    unit_flux = sky_sigma(nx / 2.0, ny / 2.0)  # object fluxes are drawn in multiples of the sky noise
    canvas = np.zeros((ny, nx))
    boxes, lenses, objects, avoid = [], [], [], None
    if has_lens:
        # Margins count from the chip gap's inner edge on the gap's side (0 left, 1 right, 2 bottom, 3 top).
        margins = [LENS_MARGIN + (gap[1] if gap and gap[0] == side else 0) for side in range(4)]
        x, y = rng.uniform(margins[0], nx - 1 - margins[1]), rng.uniform(margins[2], ny - 1 - margins[3])
        lens = _lens(rng, x, y, pixel_scale, kernel, sky_sigma(x, y))
        for stamp, ix0, iy0 in lens["stamps"]:
            _paste(canvas, stamp, ix0, iy0)
        boxes.append(lens["box"])
        lenses.append({"x": float(x), "y": float(y), "theta_e": lens["theta_e"], "arc_snr": lens["arc_snr"]})
        # Keep other objects' centres off the lens so the truth stays one object; neighbours may still overlap it.
        avoid = (x, y, 0.5 * max(lens["box"][2] - lens["box"][0], lens["box"][3] - lens["box"][1]) + 8.0)

    galaxies = [(str(rng.choice(NEGATIVE_KINDS, p=negative_weights)), (300.0, 2e4)) for _ in range(rng.poisson(10))]
    galaxies += [("elliptical", (500.0, 3e4))] * int(rng.poisson(15))  # as bright as the lens galaxies
    galaxies += [("field", (10.0, 1e4))] * int(rng.poisson(80))
    for kind, flux_range in galaxies:
        builder = {"elliptical": _elliptical, "field": _field_galaxy}.get(kind) or NEGATIVE_BUILDERS[kind]
        profile, extent = builder(rng, clumps=ring_clumps) if kind == "ring" else builder(rng)
        x, y = _position(rng, nx, ny, avoid)
        ix0, iy0, stamp = _render(profile, x, y, extent, pixel_scale)
        _paste(canvas, stamp * (_log_uniform(rng, *flux_range) * unit_flux), ix0, iy0)
        objects.append({"kind": kind, "x": x, "y": y})

    # Stars are drawn from the analytic PSF after the convolution: no sub-pixel smearing of point sources.
    canvas = fftconvolve(canvas, kernel, mode="same")
    for _ in range(rng.poisson(20)):
        x, y = _position(rng, nx, ny, avoid)
        flux = _log_uniform(rng, 3e4, 1e6) if rng.random() < 0.15 else _log_uniform(rng, 30.0, 3e4)
        ix0, iy0, stamp = _star(x, y, flux * unit_flux, sigma)
        _paste(canvas, stamp, ix0, iy0)
        objects.append({"kind": "star", "x": x, "y": y})

    rows, cols = np.mgrid[0:ny, 0:nx]
    model = np.clip(canvas, 0.0, None) + sky(cols, rows)
    electrons = rng.poisson(model * gain).astype(np.float64) + rng.normal(0.0, read_noise, (ny, nx))
    image = _saturate(electrons / gain, saturation)
    if gap is not None:
        side, width = gap
        region = {0: (slice(None), slice(0, width)), 1: (slice(None), slice(nx - width, nx)),
                  2: (slice(0, width), slice(None)), 3: (slice(ny - width, ny), slice(None))}[side]
        image[region] = np.nan
    return {"image": image.astype(np.float32), "wcs": _tile_wcs((ny, nx), pixel_scale),
            "boxes": np.array(boxes, float).reshape(-1, 4), "lenses": lenses, "objects": objects,
            "pixel_scale": float(pixel_scale)}


if __name__ == "__main__":
    demo_rng = np.random.default_rng(1)
    for demo_has_lens in (True, False):
        tick = time.perf_counter()
        tile = make_tile(demo_rng, has_lens=demo_has_lens)
        seconds = time.perf_counter() - tick
        print(f"has_lens={demo_has_lens}: shape {tile['image'].shape}, "
              f"sky median {np.nanmedian(tile['image']):.1f} ADU, {len(tile['objects'])} objects, {seconds:.2f} s")
        for lens_box, lens_truth in zip(tile["boxes"], tile["lenses"]):
            print(f"  lens box {np.round(lens_box, 1).tolist()}, theta_e {lens_truth['theta_e']:.2f} arcsec, "
                  f"arc S/N {lens_truth['arc_snr']:.0f}")
