"""Masked median: fill pixels from the median of nearby good ones.

The engine fills non-finite pixels with it before a network sees them, and
`crclean.inpaint` offers it as the ``median`` method; it lives here, below
both, so that the engine never imports the inpainting stage.
"""

import numpy as np

__all__ = ["masked_median"]

# Pixels handled per vectorised step; bounds memory to ~chunk * window**2 floats.
_CHUNK = 65536


def _median_of_valid(values, valid):
    """Row-wise median of ``values`` over ``valid`` entries; NaN where none."""
    count = valid.sum(axis=1)
    ordered = np.sort(np.where(valid, values, np.inf), axis=1)
    low = np.clip((count - 1) // 2, 0, None)
    high = np.clip(count // 2, 0, None)
    rows = np.arange(values.shape[0])
    median = 0.5 * (ordered[rows, low] + ordered[rows, high])
    median[count == 0] = np.nan
    return median


def masked_median(image, mask, *, size=5, max_size=129):
    """Replace masked pixels by the median of nearby good pixels.

    A good pixel is finite and not masked, so neither cosmic rays nor NaN or
    inf pixels leak into the fill. A pixel whose ``size`` x ``size`` window
    holds no good pixel (inside a long track or a large hole) is retried with
    a window twice as large, up to ``max_size``; past that the median of all
    good pixels is used.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image; not modified.
    mask : numpy.ndarray of bool
        Pixels to replace.
    size : int, optional
        First window side (odd).
    max_size : int, optional
        Largest window side tried.

    Returns
    -------
    numpy.ndarray
        A new float array: ``image`` with masked pixels filled. Unmasked
        pixels, NaN ones included, are unchanged.

    References
    ----------
    Zhang, K. & Bloom, J. S. 2020, ApJ 889, 24 (deepCR's 5x5 masked median).
    """
    image = np.asarray(image)
    mask = np.asarray(mask, dtype=bool)
    if image.shape != mask.shape or image.ndim != 2:
        raise ValueError(f"image and mask must be 2-D of one shape, got {image.shape} and {mask.shape}")
    if size < 1 or size % 2 == 0:
        raise ValueError(f"size must be a positive odd integer, got {size}")
    out = image.astype(np.result_type(image.dtype, np.float32), copy=True)
    usable = np.isfinite(image) & ~mask
    rows, cols = np.nonzero(mask)
    ny, nx = image.shape
    half = size // 2
    while rows.size and 2 * half + 1 <= max_size:
        offsets = np.arange(-half, half + 1)
        dy = np.repeat(offsets, offsets.size)
        dx = np.tile(offsets, offsets.size)
        filled = np.zeros(rows.size, dtype=bool)
        for start in range(0, rows.size, _CHUNK):
            r = rows[start : start + _CHUNK, None] + dy
            c = cols[start : start + _CHUNK, None] + dx
            inside = (r >= 0) & (r < ny) & (c >= 0) & (c < nx)
            r, c = np.clip(r, 0, ny - 1), np.clip(c, 0, nx - 1)
            valid = inside & usable[r, c]
            median = _median_of_valid(image[r, c].astype(np.float64), valid)
            ok = np.isfinite(median)
            out[rows[start : start + _CHUNK][ok], cols[start : start + _CHUNK][ok]] = median[ok]
            filled[start : start + _CHUNK] = ok
        rows, cols = rows[~filled], cols[~filled]
        half = 2 * half + 1
    if rows.size:
        out[rows, cols] = np.median(image[usable]) if usable.any() else 0.0
    return out
