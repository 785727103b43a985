"""Write the cleaned exposure, its DQ flags and probability maps."""

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits

from crclean.exceptions import CrcleanWarning, InputError, OutputError
from crclean.io._hdus import (
    hdu_extver,
    hdu_label,
    hdu_name,
    hdu_shape,
    is_image,
    paired_dq_index,
)
from crclean.io._paths import atomic_write, check_output_writable
from crclean.io._provenance import crimage_keyword

__all__ = ["PlaneResult", "write_products"]

_KEYWORD = re.compile(r"^[A-Z0-9_-]{1,8}$")
_STALE = ("CHECKSUM", "DATASUM")  # no longer true once data or header change


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


def _validate(exposure, results, dq_bit):
    if isinstance(dq_bit, bool) or not isinstance(dq_bit, (int, np.integer)):
        raise ValueError(f"dq_bit must be a power of two, got {dq_bit!r}")
    if not 1 <= dq_bit <= 2**30 or dq_bit & (dq_bit - 1):
        raise ValueError(f"dq_bit must be a power of two from 1 to 2**30, got {dq_bit!r}")
    hdul = exposure.hdul
    seen = set()
    for result in results:
        if not isinstance(result, PlaneResult):
            raise TypeError(f"results must hold PlaneResult objects, got {result!r}")
        index = result.hdu_index
        if not isinstance(index, (int, np.integer)) or not 0 <= index < len(hdul):
            raise ValueError(f"PlaneResult.hdu_index {index!r} is not an HDU of {exposure.path}")
        if index in seen:
            raise ValueError(f"two PlaneResults for HDU {index}; give one per HDU")
        seen.add(index)
        shape = hdu_shape(hdul[index])
        if not is_image(hdul[index]) or len(shape) != 2:
            raise ValueError(f"HDU {index} of {exposure.path} is not a 2-D image")
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


def _processed_hdu(source, result):
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
    try:
        values = np.array(exposure.hdul[dq_index].data)
    except (OSError, ValueError, TypeError, EOFError) as exc:
        raise InputError(f"DQ HDU {dq_index} of {exposure.path} cannot be read ({exc})") from exc
    if values.dtype.kind not in "iu":
        warnings.warn(
            f"DQ HDU {dq_index} of {exposure.path} is stored as {values.dtype}; "
            "writing it as int32",
            CrcleanWarning,
            stacklevel=4,
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
            stacklevel=4,
        )
        values = values.astype(wider)
    values = values.copy()
    values[mask] |= values.dtype.type(dq_bit)
    return values


def _free_extver(preferred, taken_sets):
    for candidate in preferred:
        if all(candidate not in taken for taken in taken_sets):
            return candidate
    return max(max(taken, default=0) for taken in taken_sets) + 1


def write_products(exposure, results, output_path, *, dq_bit=8192, overwrite=False):
    """Write the cleaned copy of ``exposure`` with DQ flags and probabilities.

    Every input HDU is kept, in order. A processed HDU gets the cleaned data
    (cast back to its stored type and scaling), its provenance keywords and
    a HISTORY line. ``dq_bit`` is OR-ed into the paired DQ extension, or a new
    ``DQ`` (uint16) is appended; a ``CRPROB`` (float32) extension is appended
    for each probability map. Tile-compressed HDUs stay compressed the same
    way. The file is written to a temporary name and renamed into place.

    Parameters
    ----------
    exposure : Exposure
        The opened input (still open).
    results : sequence of PlaneResult
        One per processed HDU.
    output_path : str or os.PathLike
        The product; ``.gz`` names are gzipped.
    dq_bit : int, optional
        Power of two set in DQ where a cosmic ray was found.
    overwrite : bool, optional
        Replace an existing ``output_path``.

    Returns
    -------
    pathlib.Path
        ``output_path``.

    Raises
    ------
    crclean.exceptions.OutputError
        If the product exists (without ``overwrite``), would replace the
        input, or cannot be written.
    """
    output_path = Path(output_path)
    results = list(results)
    _validate(exposure, results, dq_bit)
    if output_path.exists() and os.path.samefile(output_path, exposure.path):
        raise OutputError(f"{output_path} is the input file; crclean never overwrites its input")
    check_output_writable(output_path, overwrite=overwrite)
    try:
        raw = fits.open(
            exposure.path, mode="readonly", memmap=False, do_not_scale_image_data=True
        )
    except (OSError, ValueError) as exc:
        raise InputError(f"{exposure.path} cannot be read again ({exc})") from exc
    with raw:
        hdus = list(raw)
        taken = {
            name: {hdu_extver(hdu) for hdu in raw if hdu_name(hdu) == name}
            for name in ("DQ", "CRPROB")
        }
        new_dq = {}
        appended = []
        for result in results:
            index = int(result.hdu_index)
            source = raw[index]
            label = hdu_label(source, index)
            hdus[index] = _processed_hdu(source, result)
            mask = np.asarray(result.mask)
            dq_index = paired_dq_index(raw, index)
            needs = ([] if dq_index is not None else ["DQ"])
            needs += ["CRPROB"] if result.probability is not None else []
            version = _free_extver(
                (hdu_extver(source), index), [taken[name] for name in needs]
            )
            if dq_index is not None:
                current = new_dq.get(dq_index)
                if current is None:
                    current = _dq_values(exposure, dq_index)
                new_dq[dq_index] = _set_bit(current, mask, dq_bit, label)
            else:
                dtype = np.uint16 if dq_bit <= 2**15 else np.int32
                flags = np.where(mask, dq_bit, 0).astype(dtype)
                appended.append(_extra_hdu(source, flags, "DQ", version, label))
            if result.probability is not None:
                probability = np.asarray(result.probability, dtype=np.float32)
                appended.append(_extra_hdu(source, probability, "CRPROB", version, label))
            for name in needs:
                taken[name].add(version)
        for dq_index, values in new_dq.items():
            header = raw[dq_index].header.copy()
            for key in ("BSCALE", "BZERO", *_STALE):
                header.remove(key, ignore_missing=True)
            hdus[dq_index] = _new_hdu(raw[dq_index], values, header)
        atomic_write(fits.HDUList(hdus + appended), output_path, overwrite=overwrite)
    return output_path


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
