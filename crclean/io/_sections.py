"""The exposed pixels of a raw CCD frame, from its TRIMSEC, DATASEC and BIASSEC keywords.

Raw frames carry prescan and overscan columns (or rows) beside the exposed
pixels. They hold bias, not sky: a cosmic-ray model sees the step between
them and the data as a feature and flags a stripe along it. The header says
where the data are, in IRAF's section notation (``'[17:528,1:520]'``:
1-based, inclusive, columns first); ccdproc parses it.
"""

import warnings

from crclean.exceptions import CrcleanWarning, InputError
from crclean.io._select import MIN_SIZE

__all__ = ["SECTION_KEYWORDS", "data_section", "fits_section"]

SECTION_KEYWORDS = ("TRIMSEC", "DATASEC", "BIASSEC")
"""Header keywords read by `data_section`: the first two bound the data, the last is kept out."""


def data_section(header, shape, *, where):
    """The rows and columns of an image that hold sky data, by its header.

    The region is the intersection of ``TRIMSEC`` and ``DATASEC`` (whichever
    the header gives), cut back, if it overlaps ``BIASSEC``, to its largest
    rectangle that does not. A frame with only ``BIASSEC`` keeps the largest
    rectangle beside it. Only the image's own header is read: in a
    multi-extension file each amplifier or CCD names its own sections.

    Parameters
    ----------
    header : astropy.io.fits.Header
        The image HDU's header.
    shape : tuple of int
        The image's shape, (rows, columns).
    where : str
        Names the image in warnings and errors.

    Returns
    -------
    tuple of slice or None
        ``(rows, columns)`` with positive steps, or ``None`` when the header
        gives no usable section or the sections cover the whole image. A
        section that cannot be parsed, runs past the image, or steps by more
        than one pixel is ignored with a `~crclean.exceptions.CrcleanWarning`.

    Raises
    ------
    crclean.exceptions.InputError
        If the data section is smaller than 16 pixels on a side.
    """
    ny, nx = shape
    boxes = {key: _box(header, key, shape, where) for key in SECTION_KEYWORDS if key in header}
    region = (0, ny, 0, nx)
    named = [key for key in ("TRIMSEC", "DATASEC") if boxes.get(key) is not None]
    for key in named:
        region = _intersection(region, boxes[key])
    if region is None:
        sections = " and ".join(f"{key} {header[key]!r}" for key in named)
        warnings.warn(f"{sections} of {where} do not overlap; searching the whole image "
                      "(--no-trim does this without the warning)", CrcleanWarning, stacklevel=2)
        return None
    bias = boxes.get("BIASSEC")
    if bias is not None and _intersection(region, bias) is not None:
        region = _largest_beside(region, bias)
        if region is None:
            warnings.warn(f"the data section of {where} lies within its BIASSEC {header['BIASSEC']!r}; "
                          "searching the whole image (--no-trim does this without the warning)",
                          CrcleanWarning, stacklevel=2)
            return None
    if region == (0, ny, 0, nx):
        return None
    rows, columns = region[1] - region[0], region[3] - region[2]
    if min(rows, columns) < MIN_SIZE:
        raise InputError(
            f"the data section {fits_section(_slices(region))} of {where} (from "
            f"{', '.join(key for key in SECTION_KEYWORDS if boxes.get(key) is not None)}) is "
            f"{columns}x{rows} pixels; crclean needs at least {MIN_SIZE}x{MIN_SIZE}: "
            "pass --no-trim to search the whole image"
        )
    return _slices(region)


def fits_section(slices):
    """``(rows, columns)`` slices with positive steps as a FITS section: ``'[17:528,1:520]'``."""
    rows, columns = slices
    return f"[{columns.start + 1}:{columns.stop},{rows.start + 1}:{rows.stop}]"


def _slices(region):
    top, bottom, left, right = region
    return slice(top, bottom), slice(left, right)


def _box(header, key, shape, where):
    """``header[key]`` as a half-open box (top, bottom, left, right), or None (with a warning)."""
    # Imported here: ccdproc takes a third of a second to import, and most files name no section.
    from ccdproc.utils.slices import slice_from_string

    text = header[key]
    try:
        slices = slice_from_string(str(text), fits_convention=True)
    except (ValueError, TypeError, IndexError) as error:
        return _ignored(key, text, where, f"it cannot be read as a section ({error})")
    if len(slices) != 2:
        return _ignored(key, text, where, f"it has {len(slices)} axes, the image 2")
    box = []
    for axis, (part, length) in enumerate(zip(slices, shape)):
        if part.step not in (None, 1, -1):
            return _ignored(key, text, where, "it steps by more than one pixel")
        if part.step == -1:  # written high:low, e.g. an amplifier read out from the far side
            low = 0 if part.stop is None else part.stop + 1
            high = length if part.start is None else part.start + 1
        else:
            low = 0 if part.start is None else part.start
            high = length if part.stop is None else part.stop
        if not 0 <= low < high <= length:
            size = f"{shape[1]}x{shape[0]}"
            return _ignored(key, text, where, f"it runs past the {size} pixel image")
        box += [low, high]
    return tuple(box)


def _ignored(key, text, where, reason):
    warnings.warn(f"{key} {text!r} of {where} is ignored: {reason}; searching without it",
                  CrcleanWarning, stacklevel=4)
    return None


def _intersection(first, second):
    top, bottom = max(first[0], second[0]), min(first[1], second[1])
    left, right = max(first[2], second[2]), min(first[3], second[3])
    return (top, bottom, left, right) if top < bottom and left < right else None


def _largest_beside(region, bias):
    """The largest part of ``region`` above, below, left or right of ``bias``; None if nothing is left."""
    top, bottom, left, right = region
    candidates = [
        (top, bottom, left, min(right, bias[2])),  # left of it
        (top, bottom, max(left, bias[3]), right),  # right of it
        (top, min(bottom, bias[0]), left, right),  # below it (FITS rows count up)
        (max(top, bias[1]), bottom, left, right),  # above it
    ]
    candidates = [box for box in candidates if box[0] < box[1] and box[2] < box[3]]
    if not candidates:
        return None
    return max(candidates, key=lambda box: (box[1] - box[0]) * (box[3] - box[2]))
