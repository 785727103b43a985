"""Inpainting by a smooth (harmonic) membrane across the mask."""

import numpy as np

from crclean.inpaint._checks import checked_image_and_mask

__all__ = ["harmonic_fill"]

# Pulls a masked region that touches no good pixel towards the fallback value;
# small enough to leave every other region a solution of Laplace's equation.
_ANCHOR = 1e-8


def harmonic_fill(image, mask):
    """Fill masked pixels with the solution of Laplace's equation.

    The masked pixels are the unknowns of the discrete Laplace equation
    (each equals the mean of its four neighbours), with the good pixels
    (finite, unmasked) around them as fixed boundary values. The fill is the
    smoothest surface that meets the rim of each hole: a plane or any linear
    gradient is reproduced exactly. Non-finite unmasked pixels and the image
    edge act as no-flux boundaries, so they never enter the fill. One sparse
    linear system over the masked pixels only is solved (scipy's SuperLU).

    Parameters
    ----------
    image : numpy.ndarray
        2-D image; not modified.
    mask : numpy.ndarray of bool
        Pixels to replace, same shape as ``image``.

    Returns
    -------
    numpy.ndarray
        A new float array (``float32`` stays ``float32``, integers become
        ``float64``): ``image`` with masked pixels filled. Unmasked pixels,
        NaN ones included, are unchanged. A masked region that touches no good
        pixel gets the median of all good pixels, or 0 if there are none.

    Notes
    -----
    The membrane has no maximum inside a hole, so it cannot restore the peak
    of a star hidden under a cosmic ray; it suits sky and extended light.

    References
    ----------
    Bertalmio, M., Bertozzi, A. L. & Sapiro, G. 2001, CVPR, "Navier-Stokes,
    fluid dynamics, and image and video inpainting" (harmonic inpainting);
    Press, W. H. et al. 2007, Numerical Recipes, 3rd ed., section 3.7.4
    ("Laplace interpolation" of missing data).
    """
    image, mask = checked_image_and_mask(image, mask)
    out = image.astype(np.result_type(image.dtype, np.float32), copy=True)
    if not mask.any():
        return out
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import spsolve

    values = image.astype(np.float64)
    usable = np.isfinite(values) & ~mask
    fallback = float(np.median(values[usable])) if usable.any() else 0.0
    ny, nx = image.shape
    rows, cols = np.nonzero(mask)
    n = rows.size
    index = np.full(image.shape, -1, np.intp)
    index[rows, cols] = np.arange(n)

    diagonal = np.full(n, _ANCHOR)
    rhs = np.full(n, _ANCHOR * fallback)
    coupled_i, coupled_j = [], []
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        r, c = rows + dy, cols + dx
        inside = (r >= 0) & (r < ny) & (c >= 0) & (c < nx)
        r, c = np.clip(r, 0, ny - 1), np.clip(c, 0, nx - 1)
        unknown = inside & mask[r, c]
        known = inside & usable[r, c]
        diagonal += unknown | known
        rhs[known] += values[r[known], c[known]]
        coupled_i.append(np.flatnonzero(unknown))
        coupled_j.append(index[r[unknown], c[unknown]])
    i = np.concatenate([np.arange(n), *coupled_i])
    j = np.concatenate([np.arange(n), *coupled_j])
    data = np.concatenate([diagonal, -np.ones(i.size - n)])
    system = coo_matrix((data, (i, j)), shape=(n, n)).tocsc()
    out[rows, cols] = spsolve(system, rhs)
    return out
