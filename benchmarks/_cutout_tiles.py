"""Survey tiles from the out-of-family cutout simulator: its lenses and look-alikes among field galaxies and stars.

The objects are those of ``_cutout_scenes`` (its own ray shooting, GalSim
galaxies), drawn as noise-free 96-pixel stamps under one PSF per band and
pasted into a tile with field galaxies and stars; then one sky and Poisson
noise per band. A lens tile holds one lens of a category drawn uniformly
from `LENS_CATEGORIES`; every tile holds look-alikes of every kind. The
tile dict is the one ``benchmarks/lenses.py`` reads (``--simulator
galsim``), so AP@50, completeness and false positives per square degree
come from the same code as for the other simulators.

A lens's box follows ``_independent_lenses``: the pixels where its
PSF-convolved arcs exceed 10% of their peak, widened to at least 0.5 arcsec
about the lens centre.
"""

import galsim
import numpy as np

from _cutout_galaxies import any_colour, star_colour
from _cutout_scenes import (BANDS, LENS_CATEGORIES, NON_LENS_CATEGORIES, CutoutTruth, central_object, draw_psfs,
                            observe, profile_image, signal_in_band)

__all__ = ["make_tile"]

#: Side of the stamp each lens or look-alike is drawn in (pixels), and of a field galaxy's or star's.
STAMP, SMALL_STAMP = 96, 48


def _paste(canvas, stamp, x0, y0):
    """Add ``stamp`` with its corner at integer ``(x0, y0)``, clipped to the canvas."""
    ny, nx = canvas.shape
    sy, sx = stamp.shape
    cy0, cx0 = max(y0, 0), max(x0, 0)
    cy1, cx1 = min(y0 + sy, ny), min(x0 + sx, nx)
    if cy1 > cy0 and cx1 > cx0:
        canvas[cy0:cy1, cx0:cx1] += stamp[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]


def _small_objects(rng, psfs, pixel_scale, count, *, star):
    """Field galaxies (S/N 8-80) or stars (S/N 20-3000), each ``(per-band image, colour, scale)``."""
    objects = []
    for _ in range(count):
        if star:
            profile, colour, snr = galsim.DeltaFunction(), star_colour(rng), np.exp(rng.uniform(np.log(20), np.log(3000)))
        else:
            profile = galsim.Sersic(n=float(rng.uniform(0.7, 4)), half_light_radius=float(rng.uniform(0.15, 0.6)))
            profile = profile.shear(q=float(rng.uniform(0.4, 1.0)), beta=float(rng.uniform(0, np.pi)) * galsim.radians)
            colour, snr = any_colour(rng), np.exp(rng.uniform(np.log(8), np.log(80)))
        images = {band: profile_image(galsim.Convolve(profile, psf), SMALL_STAMP, pixel_scale)
                  for band, psf in psfs.items()}
        objects.append((images, colour, float(snr) / float(np.sqrt(np.sum(images["r"] ** 2)))))
    return objects


def _box(arcs, x0, y0, centre, pixel_scale):
    """The lens box ``(x0, y0, x1, y1)`` in tile pixels (pixel i on [i, i+1)) from its r-band arcs."""
    rows, cols = np.nonzero(arcs > 0.1 * arcs.max())
    core = 0.5 / pixel_scale
    return [min(x0 + cols.min(), centre[0] + 0.5 - core), min(y0 + rows.min(), centre[1] + 0.5 - core),
            max(x0 + cols.max() + 1, centre[0] + 0.5 + core), max(y0 + rows.max() + 1, centre[1] + 0.5 + core)]


def make_tile(seed, index, shape=(640, 640), *, has_lens, pixel_scale=0.2, bands=BANDS, lookalikes=8,
              field_galaxies=40, stars=15):
    """One tile in electrons (sky in), with its lens truth and objects, as ``benchmarks/lenses.py`` reads it.

    Parameters
    ----------
    seed, index : int
        The tile's generator is ``default_rng([seed, index])``.
    shape : (int, int), optional
    has_lens : bool
        Place one lens, at least 60 pixels from the edges.
    bands : sequence of str, optional
        A subset of g, r, i including r; ``("r",)`` gives a 2-D image.
    lookalikes, field_galaxies, stars : int, optional
        Mean numbers (Poisson) of each.

    Returns
    -------
    dict
        ``image``, ``wcs`` (None), ``pixel_scale``, ``boxes``, ``lenses`` (``x, y, theta_e, arc_snr,
        lens_to_arc, category``) and ``objects`` (``kind, x, y``).
    """
    if "r" not in bands:
        raise ValueError(f"bands must include r (fluxes are set in r), got {bands!r}")
    rng = np.random.default_rng([seed, index])
    ny, nx = shape
    _, _, psfs = draw_psfs(rng, bands)
    canvases = {band: np.zeros(shape) for band in bands}
    boxes, lenses, objects, taken = [], [], [], []

    def place(components, margin):
        for _ in range(50):
            x, y = rng.uniform(margin, nx - margin), rng.uniform(margin, ny - margin)
            if all(np.hypot(x - tx, y - ty) > 40 for tx, ty in taken):
                break
        x0, y0 = int(round(x - STAMP / 2)), int(round(y - STAMP / 2))
        for band in bands:
            _paste(canvases[band], signal_in_band(components, band), x0, y0)
        taken.append((x0 + STAMP / 2 - 0.5, y0 + STAMP / 2 - 0.5))
        return x0, y0, taken[-1]

    if has_lens:
        category = str(rng.choice(LENS_CATEGORIES))
        truth = CutoutTruth(index, category, True)
        components, arcs = central_object(rng, category, psfs, truth, size=STAMP, pixel_scale=pixel_scale)
        x0, y0, centre = place(components, 60)
        boxes.append(_box(arcs, x0, y0, centre, pixel_scale))
        ratio = 0.0 if np.isinf(truth.lens_minus_arcs_mag) else 10 ** (-0.4 * truth.lens_minus_arcs_mag)
        lenses.append({"x": centre[0], "y": centre[1], "theta_e": truth.theta_e, "arc_snr": truth.arc_snr,
                       "lens_to_arc": ratio, "category": category})
    for _ in range(rng.poisson(lookalikes)):
        category = str(rng.choice(NON_LENS_CATEGORIES))
        components, _ = central_object(rng, category, psfs, CutoutTruth(index, category, False), size=STAMP,
                                       pixel_scale=pixel_scale)
        _, _, centre = place(components, 0)
        objects.append({"kind": category, "x": centre[0], "y": centre[1]})
    for star in (False, True):
        for components in _small_objects(rng, psfs, pixel_scale, rng.poisson(stars if star else field_galaxies),
                                         star=star):
            x, y = rng.uniform(0, nx), rng.uniform(0, ny)
            x0, y0 = int(round(x - SMALL_STAMP / 2)), int(round(y - SMALL_STAMP / 2))
            for band in bands:
                _paste(canvases[band], signal_in_band([components], band), x0, y0)
            objects.append({"kind": "star" if star else "field", "x": x0 + SMALL_STAMP / 2 - 0.5,
                            "y": y0 + SMALL_STAMP / 2 - 0.5})
    image = observe(rng, [canvases[band] for band in bands], list(bands))
    return {"image": image[0] if len(bands) == 1 else image, "wcs": None, "pixel_scale": pixel_scale,
            "boxes": np.array(boxes, float).reshape(-1, 4), "lenses": lenses, "objects": objects}
