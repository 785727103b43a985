"""The one input scaling shared by training and inference.

A sky-subtracted image is divided by its sky noise and compressed with an
asinh stretch (Lupton et al. 1999), so faint arcs sit at O(1) and bright
stars do not dominate; non-finite pixels become zero (the sky).

References
----------
Lupton, R. H., Gunn, J. E. & Szalay, A. S. 1999, AJ 118, 1406.
"""

import numpy as np

__all__ = ["normalise_image", "SOFTENING_SIGMA"]

#: The asinh stretch turns from linear to logarithmic at this many sigma.
SOFTENING_SIGMA = 2.0


def normalise_image(image, sigma):
    """Sky-subtracted image -> network input (new float32 array).

    Parameters
    ----------
    image : numpy.ndarray
        Sky-subtracted pixels; NaN and inf are allowed.
    sigma : float
        Sky noise (standard deviation) in the same units, positive.

    Returns
    -------
    numpy.ndarray
        ``asinh(image / (SOFTENING_SIGMA * sigma))``, zero where ``image``
        is not finite.
    """
    if not np.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"sigma must be a positive finite number, got {sigma!r}")
    scaled = np.arcsinh(np.asarray(image, dtype=np.float64) / (SOFTENING_SIGMA * sigma))
    return np.where(np.isfinite(scaled), scaled, 0.0).astype(np.float32)
