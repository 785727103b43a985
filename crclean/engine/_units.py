"""Convert pixel values between the units an image is in and those a model wants."""

import warnings

import numpy as np

from crclean.exceptions import UnitsWarning

__all__ = ["UNITS", "to_model_units"]

UNITS = ("adu", "electron", "electron/s")


def _assumed(value, name, default, hint, label):
    if value is not None:
        return float(value)
    warnings.warn(
        f"{label}: no {name} found in the header; assuming {default}. Pass {hint} to set it.",
        UnitsWarning,
        stacklevel=3,
    )
    return default


def to_model_units(data, *, units, target, gain=None, exptime=None, label="image"):
    """Return ``data`` converted from ``units`` to ``target`` (a new float32 array).

    Parameters
    ----------
    data : numpy.ndarray
        Pixel values.
    units : {'adu', 'electron', 'electron/s'}
        Units of ``data``.
    target : {'adu', 'electron'}
        Units the model expects.
    gain : float, optional
        Electrons per ADU; assumed 1.0 with a `UnitsWarning` when needed and missing.
    exptime : float, optional
        Seconds; needed for ``'electron/s'`` data.
    label : str, optional
        Names the image in warnings.

    Returns
    -------
    numpy.ndarray
    """
    if units not in UNITS:
        raise ValueError(f"units must be one of {UNITS}, got {units!r}")
    if target not in ("adu", "electron"):
        raise ValueError(f"target must be 'adu' or 'electron', got {target!r}")
    factor = 1.0
    if units == "electron/s":
        factor *= _assumed(exptime, "EXPTIME", 1.0, "the exposure time in the header", label)
        units = "electron"
    if units != target:
        gain = _assumed(gain, "gain", 1.0, "--gain", label)
        factor *= gain if target == "electron" else 1.0 / gain
    converted = np.asarray(data, dtype=np.float32)
    if factor != 1.0:
        converted = converted * np.float32(factor)
    elif converted is data:
        converted = converted.copy()
    return converted
