"""Grow a cosmic-ray mask into the fainter pixels of the hits it found (hysteresis).

A mask network is sure of a hit's bright core and less sure of its wings, the
pixels a few sigma above the noise where the charge spreads out; at the
default threshold many wings stay unflagged, and photometry over them is
biased. Hysteresis thresholding (Canny 1986) keeps every pixel above a lower
probability that is connected, through such pixels, to one above the
threshold: the wings of found hits come in, and isolated doubtful pixels
stay out.

Its cost would be the light of a star or galaxy beside a hit, which the
network also gives a middling probability, so growth stays off smooth light:
a pixel whose local median (over the unflagged pixels of the 5 x 5 around it,
as LA Cosmic models the light under a hit with a median: van Dokkum 2001) is
more than `SMOOTH_LIGHT_SIGMA` above the sky is a source's, not a wing's. The
flagged pixels are left out of that median because they are the hit: a star
under a hit keeps its light around the flags, a hit's wing has sky. Measured on
independent exposures (docs/benchmarks.md), the guard keeps most of the
growth's gain in faint wings and takes away most of its new flags on star
cores. Saturated pixels, when the level is known, are never grown into: their
charge cannot be measured, so they cannot be a wing.

References
----------
Canny, J. 1986, IEEE Trans. PAMI 8, 679 (hysteresis thresholding).
van Dokkum, P. G. 2001, PASP 113, 1420 (LA Cosmic).
"""

import numpy as np

__all__ = ["SMOOTH_LIGHT_SIGMA", "grow_into"]

SMOOTH_LIGHT_SIGMA = 3.0
"""Local median above the sky, in sky-noise sigma, from which a pixel is a source's light."""

_EIGHT_CONNECTED = np.ones((3, 3), bool)
_WINDOW = np.arange(-2, 3)  # 5 x 5 pixels around each pixel growth may enter


def grow_into(mask, probability, low, *, image=None, saturation=None, sky=None):
    """``mask`` and every pixel above ``low`` 8-connected to it through pixels above ``low``.

    Parameters
    ----------
    mask : numpy.ndarray of bool
        Pixels flagged at the threshold.
    probability : numpy.ndarray
        The same shape; NaN (no data) is never above ``low``.
    low : float
        The lower probability, below the threshold that made ``mask``.
    image : numpy.ndarray, optional
        The image the probabilities are of (any linear units). When given,
        growth does not enter smooth light: pixels whose local median is more
        than `SMOOTH_LIGHT_SIGMA` above the sky (module docstring).
    saturation : float, optional
        With ``image``: pixels at or above this level are not grown into.
    sky : tuple of numpy.ndarray, optional
        With ``image``: its ``(background, rms)`` maps (`background_mesh` of
        its NaN-filled pixels), when the mask network measured them;
        measured here otherwise.

    Returns
    -------
    numpy.ndarray of bool
        A new array; ``mask`` is left as it is.
    """
    from scipy import ndimage  # only runs that ask for it pay for the import

    with np.errstate(invalid="ignore"):
        candidates = (probability > low) | mask
    if image is not None:
        ys, xs = np.nonzero(candidates & ~mask)
        barred = _off_limits(image, mask, ys, xs, saturation, sky)
        candidates[ys[barred], xs[barred]] = False
    labels, _ = ndimage.label(candidates, structure=_EIGHT_CONNECTED)
    keep = np.zeros(labels.max() + 1, bool)
    keep[labels[mask]] = True
    keep[0] = False
    return keep[labels]


def _off_limits(image, mask, ys, xs, saturation, sky):
    """Which of the pixels (``ys``, ``xs``) of ``image`` lie on smooth light, or are saturated."""
    from crclean.engine._background import background_mesh
    from crclean.engine._masker import _fill_non_finite

    if ys.size == 0:
        return np.zeros(0, bool)
    image = np.asarray(image, np.float32)
    filled, _ = _fill_non_finite(image)
    background, rms = background_mesh(filled) if sky is None else sky
    light = _median_off_the_mask(filled, mask, ys, xs)
    barred = light > background[ys, xs] + SMOOTH_LIGHT_SIGMA * rms[ys, xs]
    if saturation is not None:
        with np.errstate(invalid="ignore"):
            barred |= image[ys, xs] >= saturation
    return barred


def _median_off_the_mask(image, mask, ys, xs):
    """The median of the 5 x 5 pixels around each of (``ys``, ``xs``) that ``mask`` leaves unflagged.

    The flagged pixels are the hit itself: left in, a hit 3 px or wider
    would be its own smooth light. The pixels asked about are unflagged, so
    no window is empty. Borders mirror the image.
    """
    rows = _mirror(ys[:, None] + _WINDOW, image.shape[0])[:, :, None]
    columns = _mirror(xs[:, None] + _WINDOW, image.shape[1])[:, None, :]
    windows = np.where(mask[rows, columns], np.nan, image[rows, columns]).reshape(ys.size, -1)
    return np.nanmedian(windows, axis=1)


def _mirror(index, size):
    index = np.abs(index)
    return np.where(index >= size, 2 * (size - 1) - index, index)
