"""Open a FITS exposure, choose its image planes and read them."""

import os
import threading
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning

from crclean.exceptions import InputError
from crclean.io._hdus import (
    describe_hdus,
    hdu_extver,
    hdu_label,
    hdu_shape,
    paired_dq_index,
    release_data,
)
from crclean.io._select import check_plane
from crclean.io._units import (
    header_exptime,
    header_gain,
    header_readnoise,
    normalise_units,
    validate_override,
)

__all__ = ["ImagePlane", "Exposure", "open_exposure", "read_plane", "read_dq"]

# What astropy, numpy, gzip and zlib raise on damaged files.
_READ_ERRORS = (OSError, ValueError, TypeError, EOFError, zlib.error)


@dataclass
class ImagePlane:
    """One 2-D image selected for processing.

    Attributes
    ----------
    hdu_index : int
        Index of the HDU in the file.
    label : str
        Short name for messages: ``'SCI,2'``, ``'N4'`` or ``'HDU 0'``.
    data : numpy.ndarray
        Physical values (``BSCALE``/``BZERO`` applied) as a new float32 array
        (float64 when the file stores float64). Never a view of the file.
    header : astropy.io.fits.Header
        Copy of the HDU header as stored (scaling keywords included).
    extver : int
        ``EXTVER``, 1 when absent.
    units : str
        ``'adu'``, ``'electron'`` or ``'electron/s'``, from ``BUNIT``.
    gain : float or None
        Gain in e-/ADU.
    readnoise : float or None
        Read noise in electrons.
    exptime : float or None
        Exposure time in seconds.
    dq_index : int or None
        Index of the existing DQ extension paired with this plane.
    """

    hdu_index: int
    label: str
    data: np.ndarray
    header: fits.Header
    extver: int
    units: str
    gain: float | None
    readnoise: float | None
    exptime: float | None
    dq_index: int | None


class Exposure:
    """An opened FITS file, read-only; use as a context manager.

    Parameters
    ----------
    path : pathlib.Path
        The file.
    hdul : astropy.io.fits.HDUList
        Its HDUs, opened read-only without memory mapping.

    Attributes
    ----------
    data_lock : threading.Lock
        Held while an HDU's data are read (`read_plane`, `read_dq`): astropy
        reads through one file handle, and the next image may be read ahead
        in one thread while a DQ is read for writing in another.
    """

    def __init__(self, path, hdul):
        self.path = Path(path)
        self.hdul = hdul
        self.data_lock = threading.Lock()

    def close(self):
        """Close the file; safe to call more than once."""
        self.hdul.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __repr__(self):
        return f"Exposure({str(self.path)!r}, {len(self.hdul)} HDUs)"


def open_exposure(path):
    """Open a FITS file (plain, ``.gz`` or fpack ``.fz``) read-only.

    Every header is read at once so that damaged and truncated files fail
    here, before any compute; data are read only when asked for, one HDU at
    a time (`read_plane`, `read_dq`). The file is never modified.

    Parameters
    ----------
    path : str or os.PathLike
        The FITS file.

    Returns
    -------
    Exposure

    Raises
    ------
    crclean.exceptions.InputError
        If the file is missing, unreadable, not FITS, or truncated.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {path!r}")
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise InputError(f"{path} is a folder; give the path of a FITS file")
    hdul = None
    try:
        # astropy only warns when the data run past the end of the file.
        # Record the warning rather than raising it inside fits.open, which
        # would leave astropy's file handle open.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AstropyUserWarning)
            hdul = fits.open(path, mode="readonly", memmap=False, lazy_load_hdus=True)
            hdul.readall()
        truncated = [w for w in caught if "File may have been truncated" in str(w.message)]
        for other in caught:
            if other not in truncated:
                warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
        if truncated:
            _close_quietly(hdul)
            raise InputError(
                f"{path} is truncated ({truncated[0].message}); it is not a readable FITS file: "
                "copy or download it again"
            )
    except PermissionError as exc:
        raise InputError(f"{path} cannot be read ({exc.strerror}); check its permissions") from exc
    except _READ_ERRORS + (fits.VerifyError,) as exc:
        _close_quietly(hdul)
        raise InputError(
            f"{path} is not a readable FITS file ({exc}); check that it is a "
            "complete FITS file (plain, .gz or .fz)"
        ) from exc
    if len(hdul) == 0:
        hdul.close()
        raise InputError(f"{path} is not a readable FITS file (it holds no HDU)")
    return Exposure(path, hdul)


def _close_quietly(hdul):
    if hdul is not None:
        try:
            hdul.close()
        except _READ_ERRORS:
            pass


def read_plane(exposure, hdu_index, *, gain=None, readnoise=None):
    """Read one image HDU as physical float values with its detector facts.

    Parameters
    ----------
    exposure : Exposure
        An opened file.
    hdu_index : int
        Index of a 2-D image HDU (see :func:`select_planes`).
    gain : float, optional
        Gain in e-/ADU; overrides the header.
    readnoise : float, optional
        Read noise in electrons; overrides the header.

    Returns
    -------
    ImagePlane

    Raises
    ------
    crclean.exceptions.InputError
        If the HDU is not a usable image or its data cannot be read.
    """
    hdul, path = exposure.hdul, exposure.path
    if isinstance(hdu_index, bool) or not isinstance(hdu_index, (int, np.integer)):
        raise TypeError(f"hdu_index must be an int, got {hdu_index!r}")
    if not 0 <= hdu_index < len(hdul):
        raise InputError(
            f"hdu_index {hdu_index} is out of range for {path}; the HDUs are: "
            f"{describe_hdus(hdul)}"
        )
    hdu_index = int(hdu_index)
    gain = validate_override("gain", gain)
    readnoise = validate_override("readnoise", readnoise)
    check_plane(hdul, hdu_index, path)
    hdu = hdul[hdu_index]
    label = hdu_label(hdu, hdu_index)
    header = hdu.header.copy()  # before .data: astropy drops BZERO/BSCALE on scaling
    with exposure.data_lock:
        try:
            stored = hdu.data
            if stored is None:
                raise ValueError("no data where the header promises an image")
            dtype = np.float64 if stored.dtype.kind == "f" and stored.itemsize == 8 else np.float32
            data = np.array(stored, dtype=dtype, copy=True)
        except _READ_ERRORS as exc:
            raise InputError(
                f"{label} (HDU {hdu_index}) of {path} cannot be read: the file is "
                f"truncated or corrupt ({exc}); copy or download it again"
            ) from exc
        finally:
            release_data(hdu)  # so that reading plane after plane holds one at a time
    if data.shape != hdu_shape(hdu):
        raise InputError(
            f"{label} (HDU {hdu_index}) of {path} cannot be read: its data do not "
            "match its header; the file is corrupt"
        )
    where = f"{label} of {path}"
    headers = [header] if hdu_index == 0 else [header, hdul[0].header]
    bunit = next((h["BUNIT"] for h in headers if "BUNIT" in h), None)
    return ImagePlane(
        hdu_index=hdu_index,
        label=label,
        data=data,
        header=header,
        extver=hdu_extver(hdu),
        units=normalise_units(bunit, where=where),
        gain=gain if gain is not None else header_gain(headers, where=where),
        readnoise=(
            readnoise if readnoise is not None else header_readnoise(headers, where=where)
        ),
        exptime=header_exptime(headers, where=where),
        dq_index=paired_dq_index(hdul, hdu_index),
    )


def read_dq(exposure, dq_index):
    """Read the flags of a DQ extension into a new array.

    Like `read_plane`, it leaves no copy in the open file, so reading an
    exposure plane after plane holds one plane's data at a time.

    Parameters
    ----------
    exposure : Exposure
        An opened file.
    dq_index : int
        Index of an image HDU, usually `ImagePlane.dq_index`.

    Returns
    -------
    numpy.ndarray
        The values as astropy reads them (``BZERO`` applied): integers for a
        standard DQ, whatever was stored otherwise.

    Raises
    ------
    crclean.exceptions.InputError
        If the HDU is out of range, holds no data, or cannot be read.
    """
    hdul, path = exposure.hdul, exposure.path
    if isinstance(dq_index, bool) or not isinstance(dq_index, (int, np.integer)):
        raise TypeError(f"dq_index must be an int, got {dq_index!r}")
    if not 0 <= dq_index < len(hdul):
        raise InputError(f"dq_index {dq_index} is out of range for {path} ({len(hdul)} HDUs)")
    hdu = hdul[int(dq_index)]
    with exposure.data_lock:
        try:
            values = hdu.data
            if values is None:
                raise ValueError("it holds no data")
            return np.array(values)
        except _READ_ERRORS as exc:
            raise InputError(f"DQ HDU {dq_index} of {path} cannot be read ({exc})") from exc
        finally:
            release_data(hdu)
