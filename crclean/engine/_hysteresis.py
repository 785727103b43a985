"""Grow a cosmic-ray mask into the fainter pixels of the hits it found (hysteresis).

A mask network is sure of a hit's bright core and less sure of its wings, the
pixels a few sigma above the noise where the charge spreads out; at the
default threshold many wings stay unflagged, and photometry over them is
biased. Hysteresis thresholding (Canny 1986) keeps every pixel above a lower
probability that is connected, through such pixels, to one above the
threshold: the wings of found hits come in, and isolated doubtful pixels
stay out. Its cost is the pixels of a star or galaxy beside a hit that
reach the lower probability.

References
----------
Canny, J. 1986, IEEE Trans. PAMI 8, 679 (hysteresis thresholding).
"""

import numpy as np

__all__ = ["grow_into"]

_EIGHT_CONNECTED = np.ones((3, 3), bool)


def grow_into(mask, probability, low):
    """``mask`` and every pixel above ``low`` 8-connected to it through pixels above ``low``.

    Parameters
    ----------
    mask : numpy.ndarray of bool
        Pixels flagged at the threshold.
    probability : numpy.ndarray
        The same shape; NaN (no data) is never above ``low``.
    low : float
        The lower probability, below the threshold that made ``mask``.

    Returns
    -------
    numpy.ndarray of bool
        A new array; ``mask`` is left as it is.
    """
    from scipy import ndimage  # only runs that ask for it pay for the import

    with np.errstate(invalid="ignore"):
        candidates = (probability > low) | mask
    labels, _ = ndimage.label(candidates, structure=_EIGHT_CONNECTED)
    keep = np.zeros(labels.max() + 1, bool)
    keep[labels[mask]] = True
    keep[0] = False
    return keep[labels]
