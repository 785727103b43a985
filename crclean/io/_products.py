"""The HDUs of a product: processed images, DQ flags and probability maps.

Built in memory from the opened input and a `PlaneResult`; writing them to
disk, one at a time, is `crclean.io._write`'s job.
"""

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
from astropy.io import fits

from crclean.exceptions import CrcleanWarning
from crclean.io._hdus import hdu_shape, is_image
from crclean.io._provenance import crimage_keyword
from crclean.io._read import read_dq

__all__ = [
    "PlaneResult",
    "check_dq_bit",
    "check_index",
    "check_result",
    "processed_hdu",
    "flagged_dq_hdu",
    "new_dq_hdu",
    "probability_hdu",
    "free_extver",
]

_KEYWORD = re.compile(r"^[A-Z0-9_-]{1,8}$")
_STALE = ("CHECKSUM", "DATASUM")  # no longer true once data or header change
# Warnings point at the code that called ProductWriter.write.
_STACKLEVEL = 7


@dataclass
class PlaneResult:
    """What crclean found in one image plane.

    Attributes
    ----------
    hdu_index : int
        Index of the processed HDU.
    mask : numpy.ndarray
        Boolean, True where a cosmic ray was found.
    cleaned : numpy.ndarray or None
        Inpainted image in the plane's physical units; None keeps the data.
    probability : numpy.ndarray or None
        Cosmic-ray probability, written as a float32 ``CRPROB`` extension.
    keywords : dict
        ``{KEY: (value, comment)}`` added to the processed HDU's header.
    history : str
        One ``HISTORY`` line for the processed HDU.
    """

    hdu_index: int
    mask: np.ndarray
    cleaned: np.ndarray | None = None
    probability: np.ndarray | None = None
    keywords: dict = field(default_factory=dict)
    history: str = ""


def check_dq_bit(dq_bit):
    if isinstance(dq_bit, bool) or not isinstance(dq_bit, (int, np.integer)):
        raise ValueError(f"dq_bit must be a power of two, got {dq_bit!r}")
    if not 1 <= dq_bit <= 2**30 or dq_bit & (dq_bit - 1):
        raise ValueError(f"dq_bit must be a power of two from 1 to 2**30, got {dq_bit!r}")


def check_index(exposure, index, name):
    """``index`` as an int, if it is a 2-D image HDU of ``exposure``."""
    hdul = exposure.hdul
    if not isinstance(index, (int, np.integer)) or not 0 <= index < len(hdul):
        raise ValueError(f"{name} {index!r} is not an HDU of {exposure.path}")
    if not is_image(hdul[index]) or len(hdu_shape(hdul[index])) != 2:
        raise ValueError(f"HDU {index} of {exposure.path} is not a 2-D image")
    return int(index)


def check_result(exposure, result, seen=()):
    """The HDU index of ``result``, once it is known to fit ``exposure``."""
    if not isinstance(result, PlaneResult):
        raise TypeError(f"results must hold PlaneResult objects, got {result!r}")
    if result.hdu_index in seen:
        raise ValueError(f"two PlaneResults for HDU {result.hdu_index}; give one per HDU")
    index = check_index(exposure, result.hdu_index, "PlaneResult.hdu_index")
    shape = hdu_shape(exposure.hdul[index])
    mask = np.asarray(result.mask)
    if mask.dtype != bool or mask.shape != shape:
        raise ValueError(f"mask for HDU {index} must be a bool array of shape {shape}")
    for name in ("cleaned", "probability"):
        array = getattr(result, name)
        if array is not None and np.shape(array) != shape:
            raise ValueError(
                f"{name} for HDU {index} has shape {np.shape(array)}, expected {shape}"
            )
    for key in result.keywords:
        if not isinstance(key, str) or not _KEYWORD.match(key):
            raise ValueError(f"header keyword {key!r} must be 1-8 of A-Z 0-9 _ -")
    if not isinstance(result.history, str) or not result.history.isprintable():
        raise ValueError(f"history for HDU {index} must be printable text")
    return index


def _compression(hdu, *, floating=False):
    """Keyword arguments recreating ``hdu``'s tile compression."""
    options = {
        "compression_type": hdu.compression_type,
        "quantize_method": hdu.quantize_method,
        "hcomp_scale": hdu.hcomp_scale,
        "hcomp_smooth": hdu.hcomp_smooth,
    }
    if floating and options["compression_type"] == "PLIO_1":
        options["compression_type"] = "RICE_1"  # PLIO stores integers only
    return options


# Probabilities are quantized on an absolute grid of 1e-4 without dithering,
# so 0 and 1 survive exactly and no value moves by more than 5e-5.
_PROBABILITY_QUANTIZATION = {"quantize_level": -1e-4, "quantize_method": -1}


def _new_hdu(like, data, header, **compression):
    """An HDU of ``like``'s kind (compressed or not) holding ``data``."""
    if isinstance(like, fits.CompImageHDU):
        options = _compression(like, floating=data.dtype.kind == "f")
        options.update(compression)
        return fits.CompImageHDU(data=data, header=header, **options)
    if isinstance(like, fits.PrimaryHDU):
        return fits.PrimaryHDU(data=data, header=header)
    return fits.ImageHDU(data=data, header=header)


def _stored_values(stored, cleaned, header):
    """``cleaned`` (physical) as the array the file stores, same dtype."""
    dtype = stored.dtype.newbyteorder("=")
    values = np.asarray(cleaned, dtype=np.float64)
    bscale = float(header.get("BSCALE", 1.0))
    bzero = float(header.get("BZERO", 0.0))
    if bscale != 1.0 or bzero != 0.0:
        values = (values - bzero) / bscale
    if dtype.kind == "f":
        return values.astype(dtype)
    info = np.iinfo(dtype)
    result = stored.astype(dtype)  # unreadable pixels keep their stored value
    finite = np.isfinite(values)
    result[finite] = np.clip(np.rint(values[finite]), info.min, info.max).astype(dtype)
    if "BLANK" in header:
        result[~finite] = header["BLANK"]
    return result


def processed_hdu(source, result):
    """``source`` (read unscaled) with the cleaned data, keywords and HISTORY of ``result``."""
    header = source.header.copy()
    for key in _STALE:
        header.remove(key, ignore_missing=True)
    for key, value in result.keywords.items():
        header[key] = value
    if result.history:
        header.add_history(result.history)
    stored = source.data
    data = stored if result.cleaned is None else _stored_values(stored, result.cleaned, header)
    scaling = {key: (header[key], header.comments[key])
               for key in ("BSCALE", "BZERO", "BLANK") if key in header}
    hdu = _new_hdu(source, data, header)
    # The file keeps its scaling convention (e.g. uint16 as int16 + BZERO).
    for key, card in scaling.items():
        if key != "BLANK" or data.dtype.kind in "iu":
            hdu.header[key] = card
    return hdu


def _dq_values(exposure, dq_index):
    values = read_dq(exposure, dq_index)
    if values.dtype.kind not in "iu":
        warnings.warn(
            f"DQ HDU {dq_index} of {exposure.path} is stored as {values.dtype}; "
            "writing it as int32",
            CrcleanWarning,
            stacklevel=_STACKLEVEL,
        )
        values = np.nan_to_num(np.rint(values)).astype(np.int32)
    return values.astype(values.dtype.newbyteorder("="))


def _set_bit(values, mask, dq_bit, where):
    if np.iinfo(values.dtype).max < dq_bit:
        fits_uint16 = dq_bit <= 2**15 and (values.size == 0 or values.min() >= 0)
        wider = np.uint16 if fits_uint16 else np.int32
        warnings.warn(
            f"DQ of {where} is {values.dtype}, too narrow for dq_bit {dq_bit}; "
            f"writing it as {np.dtype(wider).name}",
            CrcleanWarning,
            stacklevel=_STACKLEVEL,
        )
        values = values.astype(wider)
    values = values.copy()
    values[mask] |= values.dtype.type(dq_bit)
    return values


def flagged_dq_hdu(exposure, raw, dq_index, mask, dq_bit, where):
    """The input's DQ extension with ``dq_bit`` OR-ed in where ``mask`` is True.

    Parameters
    ----------
    exposure : Exposure
        The input; its DQ values are read scaled, then released.
    raw : astropy.io.fits.HDUList
        The same file read unscaled, for the DQ's header and kind.
    dq_index : int
        Index of the DQ extension.
    mask : numpy.ndarray
        bool, the union of the masks of every image the DQ belongs to.
    dq_bit : int
        Power of two to set.
    where : str
        The image, for warnings.

    Returns
    -------
    astropy.io.fits.ImageHDU or CompImageHDU
        Integer flags; every bit already set is kept.
    """
    values = _set_bit(_dq_values(exposure, dq_index), mask, dq_bit, where)
    header = raw[dq_index].header.copy()
    for key in ("BSCALE", "BZERO", *_STALE):
        header.remove(key, ignore_missing=True)
    return _new_hdu(raw[dq_index], values, header)


def new_dq_hdu(source, mask, dq_bit, version, label):
    """A new ``DQ`` extension for image ``source``: ``dq_bit`` where ``mask``, else 0."""
    dtype = np.uint16 if dq_bit <= 2**15 else np.int32
    flags = np.where(mask, dq_bit, 0).astype(dtype)
    return _extra_hdu(source, flags, "DQ", version, label)


def probability_hdu(source, probability, version, label):
    """A float32 ``CRPROB`` extension for image ``source``."""
    probability = np.asarray(probability, dtype=np.float32)
    return _extra_hdu(source, probability, "CRPROB", version, label)


def free_extver(preferred, taken_sets):
    """The first of ``preferred`` in none of ``taken_sets``, else one past them all."""
    for candidate in preferred:
        if all(candidate not in taken for taken in taken_sets):
            return candidate
    return max(max(taken, default=0) for taken in taken_sets) + 1


def _extra_hdu(source, data, name, version, label):
    header = fits.Header()
    header["EXTNAME"] = name
    header["EXTVER"] = version
    for key, card in crimage_keyword(label).items():
        header[key] = card
    if isinstance(source, fits.CompImageHDU):
        quantization = _PROBABILITY_QUANTIZATION if data.dtype.kind == "f" else {}
        return _new_hdu(source, data, header, **quantization)
    return fits.ImageHDU(data=data, header=header)
