"""Sky background and noise of a tile (photutils ``Background2D``)."""

import warnings

import numpy as np

from crclean.exceptions import InputError
from crclean.io._blank import blank_markers

__all__ = ["subtract_background"]


def _rms_keyword():
    """photutils 3.0 renamed Background2D's ``bkgrms_estimator`` to ``bkg_rms_estimator``."""
    import inspect

    from photutils.background import Background2D

    parameters = inspect.signature(Background2D).parameters
    return "bkg_rms_estimator" if "bkg_rms_estimator" in parameters else "bkgrms_estimator"


def subtract_background(image, *, box_size=64, where="image"):
    """Remove a smooth sky and measure the sky noise.

    Parameters
    ----------
    image : numpy.ndarray
        2-D pixels; NaN, inf and blank markers (see
        `crclean.io._blank.blank_markers`; with a warning) mark missing data
        (e.g. tile borders).
    box_size : int, optional
        Mesh size of the background (pixels); shrunk for small tiles.
    where : str, optional
        Names the image in errors.

    Returns
    -------
    subtracted : numpy.ndarray
        New float32 array, NaN where the input was not finite.
    sigma : float
        Median sky rms over the valid pixels.

    Raises
    ------
    InputError
        If fewer than 1% of the pixels (or fewer than 256) hold data, or
        the sky noise is zero.

    References
    ----------
    Bradley, L. et al., photutils (``Background2D``, sigma-clipped medians
    on a mesh, median-filtered and interpolated).
    """
    from astropy.stats import SigmaClip
    from astropy.utils.exceptions import AstropyUserWarning
    from photutils.background import Background2D, MedianBackground, StdBackgroundRMS

    data = np.asarray(image, dtype=np.float64)
    invalid = ~np.isfinite(data) | blank_markers(data, where=where)
    n_valid = int((~invalid).sum())
    if n_valid < max(256, 0.01 * data.size):
        raise InputError(f"{where}: only {n_valid} of {data.size} pixels hold data (finite, not blank markers); "
                         "too little to search")
    size = int(max(8, min(box_size, min(data.shape) // 2)))
    filled = np.where(invalid, 0.0, data)
    with warnings.catch_warnings():
        # Meshes of mostly-NaN border are excluded; photutils may say so, and that is expected.
        warnings.simplefilter("ignore", AstropyUserWarning)
        try:
            background = Background2D(filled, size, mask=invalid, filter_size=3,
                                      sigma_clip=SigmaClip(sigma=3.0, maxiters=5),
                                      bkg_estimator=MedianBackground(), **{_rms_keyword(): StdBackgroundRMS()},
                                      exclude_percentile=50.0)
        except ValueError as error:
            raise InputError(f"{where}: cannot estimate the sky background ({error})") from None
    subtracted = data - background.background
    rms = background.background_rms[~invalid]
    sigma = float(np.median(rms)) if rms.size else 0.0
    if not np.isfinite(sigma) or sigma <= 0:
        raise InputError(f"{where}: the sky noise is zero; is it a simulated image without noise?")
    subtracted[invalid] = np.nan
    return subtracted.astype(np.float32), sigma
