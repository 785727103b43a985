"""Light profiles on pixel grids (numpy only), for galaxies that are not lenses.

Sersic (1963) profiles with the Ciotti & Bertin (1999) ``b_n``; images are
integrated over pixels by supersampling and normalised to unit total flux, so
brightness is set later in units of the sky noise.

References
----------
Sersic, J. L. 1963, BAAA 6, 41.
Ciotti, L. & Bertin, G. 1999, A&A 352, 447.
"""

import numpy as np

__all__ = ["grid", "sersic", "gaussian_ring", "normalised", "SUPERSAMPLE"]

#: Sub-pixels per pixel side when integrating profiles.
SUPERSAMPLE = 3


def grid(size, pixel_scale):
    """Supersampled ``(x, y)`` coordinates in arcsec, centred on the stamp centre."""
    n = size * SUPERSAMPLE
    axis = (np.arange(n) + 0.5) / SUPERSAMPLE - size / 2.0
    x, y = np.meshgrid(axis * pixel_scale, axis * pixel_scale)
    return x, y


def _rotate(x, y, x0, y0, q, phi):
    cos, sin = np.cos(phi), np.sin(phi)
    dx, dy = x - x0, y - y0
    u = cos * dx + sin * dy
    v = -sin * dx + cos * dy
    return u, v / max(q, 1e-3)


def sersic(x, y, *, r_eff, n, q=1.0, phi=0.0, x0=0.0, y0=0.0):
    """Sersic surface brightness (peak-free units) on the given coordinates."""
    u, v = _rotate(x, y, x0, y0, q, phi)
    radius = np.sqrt(u * u + v * v)
    b_n = 2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n)
    return np.exp(-b_n * ((radius / r_eff) ** (1.0 / n) - 1.0))


def gaussian_ring(x, y, *, radius, width, q=1.0, phi=0.0, x0=0.0, y0=0.0):
    """An elliptical annulus with a Gaussian radial profile."""
    u, v = _rotate(x, y, x0, y0, q, phi)
    return np.exp(-0.5 * ((np.sqrt(u * u + v * v) - radius) / width) ** 2)


def normalised(image):
    """Bin supersampled pixels back to the stamp grid; unit total flux."""
    n = image.shape[0] // SUPERSAMPLE
    binned = image.reshape(n, SUPERSAMPLE, n, SUPERSAMPLE).mean(axis=(1, 3))
    total = binned.sum()
    return (binned / total).astype(np.float32) if total > 0 else binned.astype(np.float32)
