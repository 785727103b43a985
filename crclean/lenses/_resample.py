"""Bring a tile to the model's pixel scale with reproject, and map boxes back."""

import warnings

import numpy as np

from crclean.exceptions import InputError
from crclean.lenses._manifest import PLAUSIBLE_PIXEL_SCALE

__all__ = ["celestial_wcs", "header_pixel_scale", "pixel_scale_arcsec", "resample_to_scale"]

#: Header keywords that give a pixel scale in arcsec per pixel, tried in this order when a tile has no
#: celestial WCS: PIXSCALE (written by many cameras and simulators), the per-axis PIXSCAL1/PIXSCAL2 and
#: PXSCAL1/PXSCAL2 (Spitzer's, the x side negative), and WCSTools' SECPIX and SECPIX1/SECPIX2.
PIXEL_SCALE_KEYWORDS = (("PIXSCALE",), ("PIXSCAL1", "PIXSCAL2"), ("PXSCAL1", "PXSCAL2"), ("SECPIX",),
                        ("SECPIX1", "SECPIX2"))


def celestial_wcs(header, *, where="image"):
    """The 2-D celestial WCS of a header and notes about it: ``(wcs or None, notes)``.

    ``None`` when the header has no celestial WCS, or has WCS keywords that
    astropy cannot read: then a note names ``where`` and the error, since the
    tile is searched without a WCS (ra/dec stay empty).
    """
    from astropy.wcs import FITSFixedWarning, WCS

    with warnings.catch_warnings():
        # astropy's own repairs of non-standard keywords (DATE-OBS formats, RADECSYS...): nothing to act on.
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            wcs = WCS(header, naxis=2)
        except Exception as error:  # astropy raises many types on broken WCS keywords
            return None, [f"{where}: its WCS keywords cannot be read ({type(error).__name__}: {error}); "
                          "searched without a WCS, so ra/dec are left empty"]
    return (wcs.celestial if wcs.has_celestial else None), []


def header_pixel_scale(header, *, where="image"):
    """The pixel scale a header states without a WCS, and the keyword(s) it came from.

    Parameters
    ----------
    header : astropy.io.fits.Header
    where : str, optional
        Name for messages (the file and extension).

    Returns
    -------
    tuple of (float, str) or None
        ``(arcsec per pixel, keyword names)`` from the first of
        `PIXEL_SCALE_KEYWORDS` present; for a pair, the geometric mean of
        the two sides (one side alone when only it is present). ``None``
        when the header has none of them.

    Raises
    ------
    crclean.exceptions.InputError
        The keyword is present but not a number between 0.01 and 10 arcsec.
    """
    for names in PIXEL_SCALE_KEYWORDS:
        present = [name for name in names if name in header]
        if not present:
            continue
        values = []
        for name in present:
            try:
                value = float(header[name])
            except (TypeError, ValueError):
                value = float("nan")
            # Some writers store the x side as negative, like CDELT1.
            value = abs(value)
            if not PLAUSIBLE_PIXEL_SCALE[0] <= value <= PLAUSIBLE_PIXEL_SCALE[1]:
                raise InputError(f"{where}: header keyword {name} = {header[name]!r} is not a pixel scale in "
                                 f"arcsec ({PLAUSIBLE_PIXEL_SCALE[0]}-{PLAUSIBLE_PIXEL_SCALE[1]}); pass the scale with "
                                 "--pixel-scale")
            values.append(value)
        return float(np.sqrt(np.prod(values)) if len(values) == 2 else values[0]), "/".join(present)
    return None


def pixel_scale_arcsec(wcs):
    """Mean pixel side in arcsec (square-root of the pixel area)."""
    from astropy.wcs.utils import proj_plane_pixel_area

    return float(np.sqrt(proj_plane_pixel_area(wcs)) * 3600.0)


def resample_to_scale(image, scale, target_scale):
    """Resample ``image`` (``(ny, nx)``, or ``(bands, ny, nx)`` on one grid) from ``scale`` to ``target_scale``.

    Both in arcsec per pixel. The new grid's pixel edges are the old ones
    scaled by ``factor = target_scale / scale``: an edge at ``e`` in the new
    image is at ``e * factor`` in the input, which is how boxes are mapped
    back. The resampling is done on that pixel mapping alone, not through
    the tile's WCS: a WCS with pixel-space distortion (SIP) would otherwise
    have its distortion applied to the scaled grid and move detections by
    pixels, and sky coordinates come from the tile's own WCS afterwards.

    Parameters
    ----------
    image : numpy.ndarray
    scale, target_scale : float
        Arcsec per pixel of the input and of the result (positive).

    Returns
    -------
    resampled : numpy.ndarray
        float32; NaN outside the input's footprint and where it was NaN.
    factor : float
        Input pixels per output pixel.

    References
    ----------
    Robitaille, T. et al., reproject (``reproject_adaptive``: anti-aliased
    resampling, DeForest 2004, Sol. Phys. 219, 3).
    """
    from reproject import reproject_adaptive

    factor = target_scale / scale
    ny, nx = image.shape[-2:]
    # Leading axes (bands on one grid) are resampled together: reproject shares the mapping.
    shape_out = (*image.shape[:-2], max(int(round(ny / factor)), 1), max(int(round(nx / factor)), 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy, on NaN-only rows at borders
        resampled, _ = reproject_adaptive((np.asarray(image, np.float64), _pixel_grid(scale)), _pixel_grid(target_scale),
                                          shape_out=shape_out, conserve_flux=False, boundary_mode="ignore")
    return resampled.astype(np.float32), factor


def _pixel_grid(scale):
    """A linear WCS whose world coordinate is arcsec from the image's outer pixel corner."""
    from astropy.wcs import WCS

    grid = WCS(naxis=2)
    grid.wcs.ctype = ["LINEAR", "LINEAR"]
    grid.wcs.crpix = [0.5, 0.5]  # 1-based: the outer edge of the first pixel
    grid.wcs.cdelt = [scale, scale]
    return grid
