"""Choose the image HDUs of an exposure that crclean will clean."""

import numpy as np

from crclean.exceptions import InputError
from crclean.io._hdus import (
    ANCILLARY_NAMES,
    describe_hdus,
    hdu_extver,
    hdu_name,
    hdu_shape,
    is_image,
    is_table,
)

__all__ = ["MIN_SIZE", "check_plane", "select_planes"]

MIN_SIZE = 16
"""Smallest image side, in pixels, that crclean accepts."""


def check_plane(hdul, index, path):
    """Raise InputError unless HDU ``index`` is a 2-D image of usable size."""
    hdu = hdul[index]
    shape = hdu_shape(hdu)
    where = f"HDU {index} of {path}"
    if is_table(hdu) or not is_image(hdu):
        raise InputError(
            f"{where} is a {type(hdu).__name__} table, not an image; "
            "choose an image extension with --ext"
        )
    if not shape:
        raise InputError(f"{where} holds no image data; choose an image extension with --ext")
    if len(shape) > 2 and all(length == 1 for length in shape[:-2]):
        raise InputError(
            f"{where} is a {len(shape)}-D cube of one {shape[-1]}x{shape[-2]} plane (shape {shape}); crclean "
            "needs 2-D images: write that plane as a 2-D image (in astropy, data[0])"
        )
    if len(shape) > 2:
        raise InputError(
            f"{where} is a {len(shape)}-D cube (shape {shape}); crclean needs "
            "2-D images: choose a 2-D extension with --ext"
        )
    if len(shape) == 1:
        raise InputError(
            f"{where} is a 1-D array of {shape[0]} values; crclean needs 2-D "
            "images: choose a 2-D extension with --ext"
        )
    if min(shape) < MIN_SIZE:
        raise InputError(
            f"{where} is {shape[1]}x{shape[0]} pixels; crclean needs at least "
            f"{MIN_SIZE}x{MIN_SIZE} pixels per image"
        )


def _match(hdul, spec, path):
    """HDU indices matched by one ``--ext`` specifier."""
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        indices = [int(spec)] if 0 <= spec < len(hdul) else []
    elif isinstance(spec, str):
        text = spec.strip()
        name, comma, version = text.partition(",")
        name = name.strip().upper()
        if text.isdigit():
            index = int(text)
            indices = [index] if index < len(hdul) else []
        elif comma:
            try:
                version = int(version)
            except ValueError:
                raise InputError(
                    f"--ext {spec!r}: the version after the comma must be an "
                    "integer, e.g. 'SCI,2'"
                ) from None
            indices = [
                index
                for index, hdu in enumerate(hdul)
                if hdu_name(hdu) == name and hdu_extver(hdu) == version
            ]
        else:
            indices = [index for index, hdu in enumerate(hdul) if hdu_name(hdu) == name]
    else:
        raise TypeError(f"ext entries must be int or str, got {spec!r}")
    if not indices:
        raise InputError(
            f"--ext {spec!r} matches no HDU of {path}; choose one of: {describe_hdus(hdul)}"
        )
    return indices


def select_planes(exposure, ext=None):
    """Choose the HDUs to clean.

    Parameters
    ----------
    exposure : Exposure
        An opened file.
    ext : list of (int or str), optional
        HDU specifiers: an index (``1`` or ``'1'``), an EXTNAME (``'SCI'``,
        every HDU of that name) or ``'NAME,VER'`` (``'SCI,2'``). Names match
        case-insensitively. By default (None or empty), every ``SCI`` HDU if
        there is one, else every 2-D image not named like ancillary data
        (DQ, ERR, VAR, VARIANCE, WHT, WGT, WEIGHT, MASK, MSK, RMS and the
        others of ``ANCILLARY_NAMES``).

    Returns
    -------
    list of int
        HDU indices in file order of the specifiers, without repeats.

    Raises
    ------
    crclean.exceptions.InputError
        If a specifier matches nothing, or a chosen HDU is not a 2-D image
        of at least 16x16 pixels, or the file holds no image.
    """
    hdul, path = exposure.hdul, exposure.path
    if not ext:  # None, or an empty --ext option
        indices = _default_planes(hdul, path)
    else:
        if isinstance(ext, (str, int)):
            ext = [ext]
        indices = []
        for spec in ext:
            for index in _match(hdul, spec, path):
                if index not in indices:
                    indices.append(index)
    for index in indices:
        check_plane(hdul, index, path)
    return indices


def _default_planes(hdul, path):
    science = [index for index, hdu in enumerate(hdul) if hdu_name(hdu) == "SCI"]
    if science:
        return science
    candidates = [
        index
        for index, hdu in enumerate(hdul)
        if is_image(hdu) and hdu_shape(hdu) and hdu_name(hdu) not in ANCILLARY_NAMES
    ]
    planes = [index for index in candidates if len(hdu_shape(hdul[index])) == 2]
    if planes:
        return planes
    if candidates:  # only cubes or 1-D arrays: explain why they do not fit
        return candidates[:1]
    raise InputError(
        f"{path} holds no 2-D image to clean (HDUs: {describe_hdus(hdul)}); "
        "choose an image extension with --ext or check the file"
    )
