"""Inpainting that grows inward from the edge of the mask (maskfill-like)."""

import numpy as np

from crclean.engine._median import _median_of_valid
from crclean.inpaint._checks import checked_image_and_mask

__all__ = ["grow_fill"]

# Pixels handled per vectorised step; bounds memory to ~chunk * size**2 values.
_CHUNK = 131072
_STATISTICS = ("median", "mean")
# Known neighbours a pixel needs before it is filled, while any pixel of the
# pass has that many.
_MIN_SUPPORT = 3


def _box_offsets(size, *, centre):
    half = size // 2
    dy, dx = np.mgrid[-half : half + 1, -half : half + 1]
    keep = np.ones(dy.shape, bool) if centre else (dy != 0) | (dx != 0)
    return dy[keep], dx[keep]


def _gather(flat, shape, dy, dx):
    """Rows, columns and in-image flags of each pixel's box neighbours."""
    rows, cols = np.divmod(flat, shape[1])
    r = rows[:, None] + dy
    c = cols[:, None] + dx
    inside = (r >= 0) & (r < shape[0]) & (c >= 0) & (c < shape[1])
    return np.clip(r, 0, shape[0] - 1), np.clip(c, 0, shape[1] - 1), inside


def _box_statistic(values, usable, flat, dy, dx, statistic, *, min_count=1):
    """``statistic`` of the usable neighbours of each ``flat`` pixel; NaN where
    fewer than ``min_count``. Also returns the counts."""
    result = np.empty(flat.size)
    counts = np.empty(flat.size, np.intp)
    for start in range(0, flat.size, _CHUNK):
        r, c, inside = _gather(flat[start : start + _CHUNK], values.shape, dy, dx)
        valid = inside & usable[r, c]
        counts[start : start + _CHUNK] = valid.sum(axis=1)
        taken = values[r, c]
        if statistic == "median":
            result[start : start + _CHUNK] = _median_of_valid(taken, valid)
        else:
            count = valid.sum(axis=1)
            total = np.where(valid, taken, 0.0).sum(axis=1)
            mean = np.full(count.shape, np.nan)
            np.divide(total, count, out=mean, where=count > 0)
            result[start : start + _CHUNK] = mean
    result[counts < min_count] = np.nan
    return result, counts


def _pending_neighbours(flat, pending, dy, dx):
    """Pixels still to fill that touch any pixel of ``flat`` (unique, flat indices)."""
    found = []
    for start in range(0, flat.size, _CHUNK):
        r, c, inside = _gather(flat[start : start + _CHUNK], pending.shape, dy, dx)
        r, c = r[inside], c[inside]
        hit = pending[r, c]
        found.append(r[hit] * pending.shape[1] + c[hit])
    return np.unique(np.concatenate(found)) if found else np.empty(0, np.intp)


def grow_fill(image, mask, *, size=3, statistic="median", smooth=True):
    """Fill masked pixels layer by layer, inward from the edge of the mask.

    Each pass replaces every masked pixel that touches good pixels (finite
    and unmasked, or filled by an earlier pass) by the median (or mean) of
    those good pixels within a ``size`` x ``size`` box. Pixels filled in one
    pass are used only from the next pass on, so the result does not depend
    on the order of the pixels, and a hole of any shape or size is filled,
    from its rim to its centre. A pixel with fewer than 3 good neighbours (a
    concave corner of the mask) waits for a later pass while others have
    that many, so one odd unflagged neighbour (the edge of a bleed trail, a
    faint unflagged cosmic ray) cannot set its value. Flagged and non-finite
    input pixels never enter the fill. An optional last pass replaces each
    filled pixel by the mean of the filled pixels in its box, which takes the
    grain out of the layer-by-layer fill, as maskfill's smoothing step does.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image; not modified.
    mask : numpy.ndarray of bool
        Pixels to replace, same shape as ``image``.
    size : int, optional
        Box side (odd, >= 3).
    statistic : {"median", "mean"}, optional
        How the good pixels of a box are combined.
    smooth : bool, optional
        Smooth the filled pixels once at the end.

    Returns
    -------
    numpy.ndarray
        A new float array (``float32`` stays ``float32``, integers become
        ``float64``): ``image`` with masked pixels filled. Unmasked pixels,
        NaN ones included, are unchanged. A masked region that no good pixel
        can reach (an image with every pixel flagged, or a hole walled in by
        non-finite pixels) gets the median of all good pixels, or 0 if there
        are none.

    References
    ----------
    van Dokkum, P. & Pasha, I. 2024, PASP 136, 034503, "maskfill: a fast
    and simple algorithm to fill masked pixels in astronomical images".
    """
    image, mask = checked_image_and_mask(image, mask)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 3 or size % 2 == 0:
        raise ValueError(f"size must be an odd integer >= 3, got {size!r}")
    if statistic not in _STATISTICS:
        raise ValueError(f"statistic must be one of {_STATISTICS}, got {statistic!r}")
    out = image.astype(np.result_type(image.dtype, np.float32), copy=True)
    if not mask.any():
        return out

    values = image.astype(np.float64)
    usable = np.isfinite(values) & ~mask
    values[mask] = np.nan  # nothing under the mask can leak, by construction
    pending = mask.copy()
    dy, dx = _box_offsets(size, centre=False)
    candidates = np.flatnonzero(mask)
    while candidates.size:
        fill, counts = _box_statistic(values, usable, candidates, dy, dx, statistic)
        if not counts.any():
            break
        # Pixels with little support (a concave corner of the mask) wait for
        # the next pass, so a single odd neighbour cannot set their value.
        reached = counts >= min(_MIN_SUPPORT, counts.max())
        layer = candidates[reached]
        values.flat[layer] = fill[reached]
        usable.flat[layer] = True
        pending.flat[layer] = False
        # Only pixels next to the new layer can be reached by the next pass.
        candidates = _pending_neighbours(layer, pending, dy, dx)
    if pending.any():
        # Unreachable from any good pixel: the median of the image's good pixels (taken only now, as on a
        # large image it costs more than the fill itself).
        good = np.isfinite(image) & ~mask
        values[pending] = float(np.median(image[good].astype(np.float64))) if good.any() else 0.0
    usable |= pending

    if smooth:
        sy, sx = _box_offsets(size, centre=True)
        flat = np.flatnonzero(mask)
        values.flat[flat] = _box_statistic(values, mask, flat, sy, sx, "mean")[0]
    out[mask] = values[mask]
    return out
