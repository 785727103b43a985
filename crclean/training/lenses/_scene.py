"""Survey-like scenes: stamps pasted onto a sky, seen through a PSF, with noise.

A scene of any shape (a 128-pixel training window or a benchmark tile) holds
lenses, hard negatives, field galaxies and stars at the reference pixel scale,
convolved with a Moffat (1969) PSF of random seeing (0.6-1.1 arcsec FWHM, as
in DES and LSST), with Gaussian sky noise plus source Poisson noise. Each
lens's true box is the extent of its arcs and lens core.

References
----------
Moffat, A. F. J. 1969, A&A 3, 455.
"""

from dataclasses import dataclass, field

import numpy as np
from scipy.signal import fftconvolve

from crclean.lenses._normalise import normalise_image
from crclean.training.lenses._colours import band_depths, band_seeing, check_bands, flux_ratios
from crclean.training.lenses._nuisances import add_detector_nuisances, add_trail
from crclean.training.lenses._psf_families import (KOLMOGOROV_SHARE, STRETCHED_AXIS_RATIOS, STRETCHED_SHARE,
                                                   kolmogorov_kernel, stretched)

__all__ = ["moffat_kernel", "gaussian_kernel", "compose_scene", "Scene"]


def moffat_kernel(fwhm_pixels, beta, *, size=None):
    """Unit-sum Moffat PSF image with the given FWHM (pixels)."""
    alpha = fwhm_pixels / (2.0 * np.sqrt(2.0 ** (1.0 / beta) - 1.0))
    size = size or int(2 * np.ceil(2.5 * fwhm_pixels) + 1)
    axis = np.arange(size) - size // 2
    r2 = axis[None, :] ** 2 + axis[:, None] ** 2
    kernel = (1.0 + r2 / alpha ** 2) ** (-beta)
    return kernel / kernel.sum()


def gaussian_kernel(fwhm_pixels, *, size=None):
    """Unit-sum circular Gaussian PSF image with the given FWHM (pixels)."""
    sigma = fwhm_pixels / 2.355
    size = size or int(2 * np.ceil(2.5 * fwhm_pixels) + 1)
    axis = np.arange(size) - size // 2
    kernel = np.exp(-(axis[None, :] ** 2 + axis[:, None] ** 2) / (2 * sigma ** 2))
    return kernel / kernel.sum()


@dataclass
class Scene:
    """A simulated image with its truth.

    Attributes
    ----------
    image : numpy.ndarray
        Sky-subtracted pixels (float32) unless a sky level was requested;
        ``(bands, ny, nx)`` for a multi-band scene.
    sigma : float
        Sky noise.
    boxes : numpy.ndarray
        ``(n, 4)`` lens boxes ``(x0, y0, x1, y1)``, pixel ``i`` spanning ``[i, i+1)``.
    theta_e : numpy.ndarray
        Einstein radii of the lenses (arcsec).
    objects : list of dict
        Every pasted object: ``kind`` and centre ``x``, ``y`` (0-based pixels).
    bands : tuple of str
        The bands of a multi-band scene, in image order; empty for one band.
    fwhm : numpy.ndarray
        Seeing FWHM (arcsec) of each band (one value for one band).
    """

    image: np.ndarray
    sigma: float
    boxes: np.ndarray
    theta_e: np.ndarray
    objects: list = field(default_factory=list)
    bands: tuple = ()
    fwhm: np.ndarray = None


class _Colouring:
    """Per-band pasting for multi-band scenes: each part of an object gets its population's colour.

    Fluxes are given in the reference band's sky-noise units; each band's
    image is in its own, so a part's flux there is its colour ratio times
    the band's relative depth (`band_depths`).
    """

    def __init__(self, rng, bands):
        self.rng, self.bands = rng, bands
        self.depths = band_depths(rng, bands)

    def scales(self, population):
        return flux_ratios(self.rng, population, self.bands) * self.depths

    def paste(self, canvas, parts, x0, y0):
        """Paste ``(image, population)`` parts, each coloured afresh, into every band of ``canvas``."""
        scaled = [(image, self.scales(population)) for image, population in parts]
        for band, plane in enumerate(canvas):
            _paste(plane, sum(image * scales[band] for image, scales in scaled), x0, y0)


def _orient(rng, *arrays):
    k, flip = int(rng.integers(4)), bool(rng.integers(2))
    out = []
    for array in arrays:
        array = np.rot90(array, k)
        out.append(np.ascontiguousarray(array[:, ::-1] if flip else array))
    return out


def _paste(canvas, stamp, x0, y0):
    """Add ``stamp`` with its corner at integer ``(x0, y0)``, clipped to the canvas."""
    ny, nx = canvas.shape
    sy, sx = stamp.shape
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x0 + sx, nx), min(y0 + sy, ny)
    if cx1 > cx0 and cy1 > cy0:
        canvas[cy0:cy1, cx0:cx1] += stamp[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]


def _saturate(image, level):
    """Clip at ``level``; a column's excess charge lengthens its saturated run, as CCD bleed trails do."""
    excess = np.clip(image - level, 0.0, None)
    image = np.minimum(image, level)
    for column in np.nonzero(excess.any(axis=0))[0]:
        rows = np.nonzero(excess[:, column])[0]
        spill = int(np.ceil(excess[:, column].sum() / level)) // 2
        image[max(rows.min() - spill, 0):rows.max() + spill + 1, column] = level
    return image


def _log_uniform(rng, low, high):
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _lens_populations(rng, wide_share):
    """The colour populations of one lens galaxy and its source: ``(lens, source)``.

    ``wide_share`` is ``wide_lens_colours``: false keeps the red-lens,
    blue-source rule, true drops it, and a number within 0-1 drops it for
    that share of lenses (drawn only then, so older configs keep their streams).
    """
    if wide_share is True or wide_share == 1:
        return "lens_any", "source_any"
    if not wide_share or rng.random() >= wide_share:
        return "early_type", "lensed_source"
    return "lens_any", "source_any"


def compose_scene(rng, bank, shape, *, n_lenses, n_negatives, n_field, n_stars, sigma=1.0,
                  seeing_range=(0.6, 1.1), arc_snr_range=(15.0, 300.0), lens_to_arc_range=(0.5, 12.0), lens_margin=2,
                  negative_kinds=None, sky_level=0.0, psf_beta_range=(2.5, 4.5), gaussian_psf_fraction=0.0,
                  gain_range=(20.0, 20.0), n_ellipticals=0, field_flux_range=(20.0, 5000.0),
                  saturation_fraction=0.0, bands=None, negative_weights=None, wide_lookalike_colours=False,
                  psf_families=False, no_lens_light_fraction=0.0, wide_lens_colours=False, nuisances=False):
    """Paste objects into an image of ``shape`` and return it with its truth.

    Lenses are placed with their whole box inside the image (``lens_margin``
    pixels from the edge); other objects anywhere. Arc brightness is set by
    the arcs' summed signal-to-noise over their footprint, drawn
    log-uniformly from ``arc_snr_range``.

    The PSF is a Moffat profile with ``beta`` from ``psf_beta_range``, or,
    for a ``gaussian_psf_fraction`` of scenes, a Gaussian (the large-beta
    limit). ``psf_families`` adds a third family, Kolmogorov, for a third of
    scenes, and stretches half of all PSFs to axis ratios of 0.8-1
    (`crclean.training.lenses._psf_families`). Source Poisson noise has
    variance ``signal * sigma / gain`` with ``gain`` (in sky-sigma units) drawn log-uniformly from ``gain_range``;
    widening these ranges in training keeps the detector from learning one
    PSF shape or noise law.

    ``n_ellipticals`` lens galaxies are pasted without their arcs, as bright
    as lens galaxies get (kind ``'elliptical'``): without them every bright
    early-type galaxy in training is a lens, and the detector learns to flag
    the galaxy instead of the arcs. Field galaxies take fluxes (in sky sigma)
    from ``field_flux_range``. A ``saturation_fraction`` of scenes saturate
    at a random level, with bleed trails along columns.

    ``negative_weights`` (one probability per bank negative, e.g. from
    hard-negative mining, `crclean.training.lenses._mining`) draws the
    look-alikes unevenly; without it they are drawn uniformly, as before.

    ``wide_lookalike_colours`` draws the look-alikes' light from the ``_wide``
    populations of `crclean.training.lenses._colours` (bulges as red as lens
    galaxies, rings as blue as lensed sources); only the colours change.

    ``no_lens_light_fraction`` of lenses have no lens light at all (a lens
    at high redshift or of low surface brightness, or a dark subhalo's
    group; the arcs alone); widen ``lens_to_arc_range`` below 1 for sources
    brighter than their lens. ``wide_lens_colours`` (multi-band) draws lens
    galaxies and arc-free ellipticals from the ``lens_any`` population and
    lensed sources from ``source_any`` (`crclean.training.lenses._colours`):
    lenses of every colour, red arcs too; a number within 0-1 does so for
    that share of lenses and ellipticals, the rest keep the red-lens,
    blue-source rule. ``nuisances`` adds cosmic rays,
    satellite trails and bad columns, per band
    (`crclean.training.lenses._nuisances`).

    ``bands`` (e.g. ``("g", "r", "i")``) makes a multi-band scene, one image
    per band in its own sky-noise units (`crclean.training.lenses._colours`):
    lens galaxies and arc-free ellipticals early-type red, lensed sources
    star-forming blue, the young and old light of look-alikes (a bank with
    ``colour_parts``) coloured apart, field galaxies and stars from broad
    colour ranges, each band with its own depth, seeing (scaled from the
    reference band's draw), noise and saturation. Arc S/N and the flux
    ranges hold in the reference band (r, else the middle band). Without
    ``bands`` the scene and its random draws are those of earlier versions.
    """
    ny, nx = shape
    size = bank.lens.shape[-1]
    scale = bank.pixel_scale
    colouring = None
    if bands is not None:
        bands = check_bands(bands)
        if bank.negatives_young is None and n_negatives:
            raise ValueError("multi-band scenes with hard negatives need a bank built with colour_parts=True")
        colouring = _Colouring(rng, bands)
        canvas = np.zeros((len(bands), *shape), np.float64)
    else:
        canvas = np.zeros(shape, np.float64)
    boxes, theta_e, objects = [], [], []
    for _ in range(n_lenses):
        index = int(rng.integers(len(bank.lens)))
        lens, arcs, mask = _orient(rng, bank.lens[index], bank.arcs[index], bank.arc_mask[index])
        half = size / 2.0
        core = max(1.5, 0.35 * bank.theta_e[index] / scale)
        rows, cols = np.nonzero(mask)
        bx0 = min(cols.min(), half - core) if len(cols) else half - core
        by0 = min(rows.min(), half - core) if len(rows) else half - core
        bx1 = max(cols.max() + 1, half + core) if len(cols) else half + core
        by1 = max(rows.max() + 1, half + core) if len(rows) else half + core
        low_x, high_x = lens_margin - bx0, nx - lens_margin - bx1
        low_y, high_y = lens_margin - by0, ny - lens_margin - by1
        if high_x < low_x or high_y < low_y:
            continue
        x0, y0 = int(rng.integers(np.ceil(low_x), np.floor(high_x) + 1)), int(rng.integers(np.ceil(low_y), np.floor(high_y) + 1))
        n_mask = max(int(mask.sum()), 1)
        arc_snr, lens_to_arc = _log_uniform(rng, *arc_snr_range), _log_uniform(rng, *lens_to_arc_range)
        if no_lens_light_fraction and rng.random() < no_lens_light_fraction:  # drawn only when asked
            lens_to_arc = 0.0
        arc_flux = arc_snr * sigma * np.sqrt(n_mask) / max(float(arcs[mask].sum()), 0.05)
        lens_population, source_population = _lens_populations(rng, wide_lens_colours)
        if colouring is None:
            _paste(canvas, arcs * arc_flux + lens * arc_flux * lens_to_arc, x0, y0)
        else:
            colouring.paste(canvas, [(arcs * arc_flux, source_population),
                                     (lens * arc_flux * lens_to_arc, lens_population)], x0, y0)
        boxes.append([x0 + bx0, y0 + by0, x0 + bx1, y0 + by1])
        theta_e.append(float(bank.theta_e[index]))
        objects.append({"kind": "lens", "x": x0 + half - 0.5, "y": y0 + half - 0.5,
                        "theta_e": float(bank.theta_e[index]), "arc_snr": arc_snr, "lens_to_arc": lens_to_arc})
    choices = np.arange(len(bank.negatives))
    probabilities = None
    if negative_weights is not None:
        probabilities = np.asarray(negative_weights, np.float64)
        if probabilities.shape != choices.shape or not probabilities.min() >= 0:
            raise ValueError(f"negative_weights must hold {len(choices)} non-negative numbers")
    if negative_kinds is not None:
        keep = np.isin(bank.negative_kinds, list(negative_kinds))
        choices = choices[keep]
        probabilities = None if probabilities is None else probabilities[keep]
    if probabilities is not None:
        if not probabilities.sum() > 0:
            raise ValueError("negative_weights are all zero for the negatives this scene may draw")
        probabilities = probabilities / probabilities.sum()
    young_population, old_population = ("young_wide", "old_wide") if wide_lookalike_colours else ("young", "old")
    for _ in range(n_negatives):
        # Without weights the stream is drawn as before, so older configs keep their windows.
        index = int(rng.choice(choices) if probabilities is None else rng.choice(choices, p=probabilities))
        if colouring is None:
            (stamp,) = _orient(rng, bank.negatives[index])
        else:
            stamp, young = _orient(rng, bank.negatives[index], bank.negatives_young[index])
        x0, y0 = int(rng.integers(-size // 4, nx - 3 * size // 4)), int(rng.integers(-size // 4, ny - 3 * size // 4))
        flux = sigma * _log_uniform(rng, 150.0, 8000.0)
        if colouring is None:
            _paste(canvas, stamp * flux, x0, y0)
        else:
            colouring.paste(canvas, [(young * flux, young_population), ((stamp - young) * flux, old_population)],
                            x0, y0)
        objects.append({"kind": str(bank.negative_kinds[index]), "x": x0 + size / 2 - 0.5, "y": y0 + size / 2 - 0.5})
    for _ in range(n_ellipticals):
        (stamp,) = _orient(rng, bank.lens[int(rng.integers(len(bank.lens)))])
        x0, y0 = int(rng.integers(-size // 4, nx - 3 * size // 4)), int(rng.integers(-size // 4, ny - 3 * size // 4))
        lens_population, _ = _lens_populations(rng, wide_lens_colours)
        if colouring is None:
            _paste(canvas, stamp * sigma * _log_uniform(rng, 200.0, 60000.0), x0, y0)
        else:
            colouring.paste(canvas, [(stamp * sigma * _log_uniform(rng, 200.0, 60000.0), lens_population)], x0, y0)
        objects.append({"kind": "elliptical", "x": x0 + size / 2 - 0.5, "y": y0 + size / 2 - 0.5})
    for _ in range(n_field):
        (stamp,) = _orient(rng, bank.field[int(rng.integers(len(bank.field)))])
        x0, y0 = int(rng.integers(-size // 2, nx - size // 2)), int(rng.integers(-size // 2, ny - size // 2))
        if colouring is None:
            _paste(canvas, stamp * sigma * _log_uniform(rng, *field_flux_range), x0, y0)
        else:
            colouring.paste(canvas, [(stamp * sigma * _log_uniform(rng, *field_flux_range), "field")], x0, y0)
        objects.append({"kind": "field", "x": x0 + size / 2 - 0.5, "y": y0 + size / 2 - 0.5})
    for _ in range(n_stars):
        x, y = int(rng.integers(nx)), int(rng.integers(ny))
        if colouring is None:
            canvas[y, x] += sigma * _log_uniform(rng, 50.0, 50000.0)
        else:
            canvas[:, y, x] += sigma * _log_uniform(rng, 50.0, 50000.0) * colouring.scales("star")
        objects.append({"kind": "star", "x": float(x), "y": float(y)})

    boxes = np.array(boxes, np.float32).reshape(-1, 4)
    if colouring is None:
        image, fwhm = _observe(rng, canvas, scale, rng.uniform(*seeing_range), sigma=sigma, sky_level=sky_level,
                               psf_beta_range=psf_beta_range, gaussian_psf_fraction=gaussian_psf_fraction,
                               gain_range=gain_range, saturation_fraction=saturation_fraction,
                               psf_families=psf_families, nuisances=nuisances)
        return Scene(image.astype(np.float32), float(sigma), boxes, np.array(theta_e, np.float32), objects,
                     fwhm=np.array([fwhm]))
    fwhms = band_seeing(rng, rng.uniform(*seeing_range), bands)
    images = [_observe(rng, plane, scale, fwhm, sigma=sigma, sky_level=sky_level, psf_beta_range=psf_beta_range,
                       gaussian_psf_fraction=gaussian_psf_fraction, gain_range=gain_range,
                       saturation_fraction=saturation_fraction, psf_families=psf_families, nuisances=nuisances)[0]
              for plane, fwhm in zip(canvas, fwhms)]
    return Scene(np.stack(images).astype(np.float32), float(sigma), boxes, np.array(theta_e, np.float32), objects,
                 bands=bands, fwhm=fwhms)


def _observe(rng, canvas, pixel_scale, fwhm, *, sigma, sky_level, psf_beta_range, gaussian_psf_fraction, gain_range,
             saturation_fraction, psf_families=False, nuisances=False):
    """One band seen through the atmosphere and a detector: PSF, noise, sky and saturation.

    Returns the image and the seeing FWHM (arcsec). The draws are in the order
    single-band scenes have always made them.
    """
    fwhm_pixels = fwhm / pixel_scale
    if psf_families and rng.random() < KOLMOGOROV_SHARE:
        kernel = kolmogorov_kernel(fwhm_pixels)
    elif gaussian_psf_fraction and rng.random() < gaussian_psf_fraction:
        kernel = gaussian_kernel(fwhm_pixels)
    else:
        kernel = moffat_kernel(fwhm_pixels, rng.uniform(*psf_beta_range))
    if psf_families and rng.random() < STRETCHED_SHARE:
        kernel = stretched(kernel, rng.uniform(*STRETCHED_AXIS_RATIOS), rng.uniform(0, np.pi))
    canvas = fftconvolve(canvas, kernel, mode="same")
    if nuisances:  # sky light, so before the noise
        canvas = add_trail(rng, canvas, fwhm_pixels, sigma)
    noise = rng.normal(0.0, 1.0, canvas.shape)
    if rng.random() < 0.3:  # resampled survey images have correlated noise
        from scipy.ndimage import gaussian_filter

        noise = gaussian_filter(noise, rng.uniform(0.4, 0.8))
        noise /= noise.std()
    gain = gain_range[0] if gain_range[0] == gain_range[1] else _log_uniform(rng, *gain_range)
    variance = sigma ** 2 + np.clip(canvas, 0, None) * sigma / gain
    image = canvas + noise * np.sqrt(variance) + sky_level
    if nuisances:  # on the detector, after the PSF and the sky's noise
        image = add_detector_nuisances(rng, image, sigma)
    if saturation_fraction and rng.random() < saturation_fraction:
        image = _saturate(image, sky_level + sigma * _log_uniform(rng, 2000.0, 30000.0))
    return image, fwhm


def network_input(rng, scene):
    """A scene as the network sees it at run time: background removed imperfectly, then normalised.

    Each band gets its own leftover pedestal and gradient and its own sky-noise
    estimate, as each band's background is removed on its own at run time.
    Returns ``(H, W)`` for one band, ``(bands, H, W)`` for several.
    """
    planes = [scene.image] if scene.image.ndim == 2 else list(scene.image)
    ny, nx = planes[0].shape
    yy, xx = np.mgrid[0:ny, 0:nx] / np.array([ny, nx])[:, None, None] - 0.5
    normalised = []
    for plane in planes:
        # What the runtime's background removal leaves: a small pedestal and gradient.
        residual = rng.normal(0, 0.1) + rng.normal(0, 0.1) * xx + rng.normal(0, 0.1) * yy
        sigma_estimate = scene.sigma * rng.uniform(0.85, 1.15)
        normalised.append(normalise_image(plane + residual * scene.sigma, sigma_estimate))
    return normalised[0] if scene.image.ndim == 2 else np.stack(normalised)
