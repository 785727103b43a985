"""Blank markers: huge pixel values that some pipelines write where there is no data."""

import warnings

import numpy as np

from crclean.exceptions import CrcleanWarning

__all__ = ["BLANK_MAGNITUDE", "blank_markers"]

#: Pixels this large in magnitude are blank markers (-1e30 and the like), not data: no detector
#: counts or calibrated flux comes near it, and read as data one of them swamps every sky, noise
#: and normalisation estimate around it.
BLANK_MAGNITUDE = 1e20


def blank_markers(values, *, where="image"):
    """Where ``values`` holds blank markers, with a warning naming ``where`` when there are any.

    Parameters
    ----------
    values : numpy.ndarray
    where : str, optional
        Names the image in the warning.

    Returns
    -------
    numpy.ndarray of bool
        Finite pixels of magnitude `BLANK_MAGNITUDE` or more (NaN and inf
        are not included: they are missing data already).
    """
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.floating):
        return np.zeros(values.shape, bool)  # integers cannot reach 1e20
    with np.errstate(invalid="ignore"):
        blank = np.isfinite(values) & (np.abs(values) >= BLANK_MAGNITUDE)
    count = int(blank.sum())
    if count:
        warnings.warn(f"{where}: {count} pixels of magnitude {BLANK_MAGNITUDE:g} or more (blank markers such as "
                      "-1e30) are treated as missing data", CrcleanWarning, stacklevel=2)
    return blank
