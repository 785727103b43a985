"""Units, gain, read noise and exposure time read from FITS headers.

Instruments spell these keywords in many ways; the tables below list the
spellings crclean understands, in the order they are tried.
"""

import math
import numbers
import warnings

from crclean.exceptions import UnitsWarning

__all__ = [
    "GAIN_KEYWORDS",
    "READNOISE_KEYWORDS",
    "EXPTIME_KEYWORDS",
    "normalise_units",
    "header_gain",
    "header_readnoise",
    "header_exptime",
    "validate_override",
]

# Each entry is a single keyword, or a tuple of per-amplifier keywords whose
# mean is used when any of them is present.
GAIN_KEYWORDS = (
    "GAIN",
    "CCDGAIN",
    "EGAIN",
    "ATODGAIN",
    ("GAINA", "GAINB", "GAINC", "GAIND"),
)
READNOISE_KEYWORDS = (
    "RDNOISE",
    "READNOIS",
    "READNOISE",
    ("RDNOISEA", "RDNOISEB", "RDNOISEC", "RDNOISED"),
    "RON",
    ("READNSEA", "READNSEB", "READNSEC", "READNSED"),
    "ENOISE",
)
EXPTIME_KEYWORDS = ("EXPTIME", "EXPOSURE", "TEXPTIME")

_ADU = {"adu", "adus", "count", "counts", "dn", "datanumber", "datanumbers"}
_ELECTRON = {"electron", "electrons", "e-", "e"}
# Compared after lower-casing and removing spaces.
_ELECTRON_RATE = {
    f"{unit}{per_second}"
    for unit in ("electron", "electrons", "e-", "e")
    for per_second in ("/s", "/sec", "/second", "s-1", "s^-1", ".s**-1", "*s**-1")
}


def normalise_units(bunit, *, where):
    """Map a ``BUNIT`` value to ``'adu'``, ``'electron'`` or ``'electron/s'``.

    Parameters
    ----------
    bunit : str or None
        The header value; ``None`` (absent) means ADU.
    where : str
        Names the HDU and file in the warning.

    Returns
    -------
    str
        The canonical unit. An unrecognised value gives ``'adu'`` with a
        `~crclean.exceptions.UnitsWarning`.
    """
    if bunit is None:
        return "adu"
    text = str(bunit).strip().lower()
    compact = text.replace(" ", "")
    if text == "" or compact in _ADU:
        return "adu"
    if compact in _ELECTRON:
        return "electron"
    if compact in _ELECTRON_RATE:
        return "electron/s"
    warnings.warn(
        f"BUNIT {bunit!r} of {where} is not recognised; treating the data as "
        "ADU (counts)",
        UnitsWarning,
        stacklevel=3,
    )
    return "adu"


def _positive_number(header, key, *, where):
    """Return ``header[key]`` as a positive float, or None (with a warning)."""
    value = header[key]
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
        if math.isfinite(number) and number > 0:
            return number
    warnings.warn(
        f"{key} = {value!r} in {where} is not a positive number; ignoring it",
        UnitsWarning,
        stacklevel=4,
    )
    return None


def _lookup(headers, keywords, *, where):
    for header in headers:
        for entry in keywords:
            if isinstance(entry, tuple):
                values = [
                    _positive_number(header, key, where=where)
                    for key in entry
                    if key in header
                ]
                values = [value for value in values if value is not None]
                if values:
                    return sum(values) / len(values)
            elif entry in header:
                value = _positive_number(header, entry, where=where)
                if value is not None:
                    return value
    return None


def header_gain(headers, *, where):
    """Gain in e-/ADU from the first header (HDU, then primary) that has one.

    Parameters
    ----------
    headers : sequence of `~astropy.io.fits.Header`
        Searched in order; within each, `GAIN_KEYWORDS` in order.
    where : str
        Names the HDU and file in warnings.

    Returns
    -------
    float or None
    """
    return _lookup(headers, GAIN_KEYWORDS, where=where)


def header_readnoise(headers, *, where):
    """Read noise in electrons, found like :func:`header_gain`."""
    return _lookup(headers, READNOISE_KEYWORDS, where=where)


def header_exptime(headers, *, where):
    """Exposure time in seconds (``EXPTIME``, ``EXPOSURE``, ``TEXPTIME``).

    Zero is accepted (bias frames); negative or non-numeric values are
    skipped with a `~crclean.exceptions.UnitsWarning`.
    """
    for header in headers:
        for key in EXPTIME_KEYWORDS:
            if key not in header:
                continue
            value = header[key]
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                number = float(value)
                if math.isfinite(number) and number >= 0:
                    return number
            warnings.warn(
                f"{key} = {value!r} in {where} is not a valid exposure time; "
                "ignoring it",
                UnitsWarning,
                stacklevel=3,
            )
    return None


def validate_override(name, value):
    """Check a user-given gain or read noise; return it as float or None."""
    if value is None:
        return None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
        if math.isfinite(number) and number > 0:
            return number
    raise ValueError(f"{name} must be a positive number, got {value!r}")
