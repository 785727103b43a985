"""Multi-band tiles: one file per band, named by a ``{band}`` pattern, put on one pixel grid.

Survey coadds usually come as one file per filter (``tile_g.fits``,
``tile_r.fits``, ...). A multi-band lens model needs its bands pixel for
pixel on the same grid, so bands whose grid differs from the reference
band's (shape or WCS) are resampled onto it with reproject; without a WCS
that cannot be done and the tile is refused.
"""

import warnings

import numpy as np

from crclean.exceptions import InputError

__all__ = ["BAND_FIELD", "band_paths", "open_band_files", "reference_index", "register_bands"]

#: What a ``crclean lenses`` TILE pattern holds in place of the band name.
BAND_FIELD = "{band}"

#: WCS parameters agreeing to this (pixels for CRPIX, relative for the rest) count as one grid.
_GRID_TOLERANCE = 1e-6


def band_paths(pattern, bands):
    """The file of each band: ``pattern`` with `BAND_FIELD` replaced by the band's name.

    Raises
    ------
    crclean.exceptions.InputError
        If ``pattern`` has no `BAND_FIELD`.
    """
    pattern = str(pattern)
    if BAND_FIELD not in pattern:
        raise InputError(f"{pattern}: the lens model takes {len(bands)} bands ({', '.join(bands)}), one file each; "
                         f"give the tile as a pattern with {BAND_FIELD}, e.g. tile_{BAND_FIELD}.fits")
    return [pattern.replace(BAND_FIELD, band) for band in bands]


def open_band_files(files, pattern, paths, choose, *, what):
    """Open every band's file and choose its HDUs, before any pixel is read, so a missing band fails at once.

    Parameters
    ----------
    files : contextlib.ExitStack
        Holds the opened files.
    pattern : str
        The ``{band}`` pattern (for messages).
    paths : list of str
        One file per band.
    choose : callable
        ``choose(exposure) -> list of HDU indices``.
    what : str
        What the HDUs hold, for the message when the files disagree (``"image planes"``).

    Returns
    -------
    exposures : list of crclean.io.Exposure
    chosen : list of list of int

    Raises
    ------
    crclean.exceptions.InputError
        A file cannot be opened, or the files hold different numbers of chosen HDUs.
    """
    from crclean.io import open_exposure

    exposures = [files.enter_context(open_exposure(path)) for path in paths]
    chosen = [choose(exposure) for exposure in exposures]
    if len({len(indices) for indices in chosen}) > 1:
        listing = ", ".join(f"{path} {len(indices)}" for path, indices in zip(paths, chosen))
        raise InputError(f"{pattern}: the band files hold different numbers of {what} ({listing}); choose the same "
                         f"{what.split()[-1]} in each with --ext")
    return exposures, chosen


def reference_index(bands):
    """Index of the band whose grid the others are put on: r if there is one, else the middle band."""
    bands = list(bands)
    return bands.index("r") if "r" in bands else (len(bands) - 1) // 2


def _same_grid(wcs, other):
    if wcs is None or other is None:
        return wcs is None and other is None
    a, b = wcs.wcs, other.wcs
    return (list(a.ctype) == list(b.ctype)
            and np.allclose(a.crpix, b.crpix, rtol=0, atol=_GRID_TOLERANCE)
            and np.allclose(a.crval, b.crval, rtol=_GRID_TOLERANCE, atol=0)
            and np.allclose(wcs.pixel_scale_matrix, other.pixel_scale_matrix, rtol=_GRID_TOLERANCE, atol=0))


def register_bands(images, wcses, *, bands, where="tile"):
    """Stack one image per band on the reference band's grid.

    Parameters
    ----------
    images : list of numpy.ndarray
        2-D pixels per band, in the order of ``bands``; NaN marks missing data.
    wcses : list of astropy.wcs.WCS or None
        Celestial WCS per band (None when a file has none).
    bands : sequence of str
        Band names (for messages and the choice of reference).
    where : str, optional
        Names the tile in errors.

    Returns
    -------
    stack : numpy.ndarray
        ``(bands, ny, nx)`` float32 on the reference band's grid; NaN where a
        band has no data (outside its footprint or NaN in its file).
    wcs : astropy.wcs.WCS or None
        The reference band's WCS.
    resampled : list of str
        The bands that were resampled onto the reference grid.

    Raises
    ------
    crclean.exceptions.InputError
        If the bands' grids differ and some band has no celestial WCS.

    References
    ----------
    Robitaille, T. et al., reproject (``reproject_adaptive``; DeForest 2004, Sol. Phys. 219, 3).
    """
    if not len(images) == len(wcses) == len(bands):
        raise ValueError(f"got {len(images)} images and {len(wcses)} WCS for {len(bands)} bands")
    ref = reference_index(bands)
    shape, ref_wcs = np.shape(images[ref]), wcses[ref]
    stack, resampled = np.empty((len(bands), *shape), np.float32), []
    for index, (band, image, wcs) in enumerate(zip(bands, images, wcses)):
        if np.shape(image) == shape and _same_grid(wcs, ref_wcs):
            stack[index] = image
            continue
        if wcs is None or ref_wcs is None:
            raise InputError(f"{where}: band {band} is {np.shape(image)[1]}x{np.shape(image)[0]} pixels and band "
                             f"{bands[ref]} {shape[1]}x{shape[0]}, and without a celestial WCS in both files "
                             "they cannot be put on one grid; register the bands first or add WCS keywords")
        from reproject import reproject_adaptive

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # numpy, on NaN-only rows at borders
            stack[index], _ = reproject_adaptive((np.asarray(image, np.float64), wcs), ref_wcs, shape_out=shape,
                                                 conserve_flux=False, boundary_mode="ignore")
        resampled.append(band)
    return stack, ref_wcs, resampled
