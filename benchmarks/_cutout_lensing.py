"""Ray shooting for the out-of-family cutout benchmark, written here from the formulae.

Shares no code with crclean's training simulator (``crclean.training.lenses``,
lenstronomy's EPL) nor with the tile benchmark (``_independent_lenses.py``,
lenstronomy's EPL and shear classes): the deflections are coded from the
papers, the source is a GalSim profile drawn on a fine source-plane grid and
read at the traced positions by bilinear interpolation.

- Mass: a singular isothermal ellipsoid (Kormann, Schneider & Bartelmann
  1994) in the closed form of Keeton & Kochanek (1998), normalised so that
  ``theta_e`` is the Einstein radius of the circular limit; external shear;
  optionally an isothermal satellite (a perturber the training lenses lack).
- Images: rays shot through a grid ``oversample`` times finer than the
  pixels, summed back to pixels, so pixels integrate the lensed light.
- Image multiplicity is counted on the noise-free, unconvolved lensed image
  (connected regions of a compact source), to label doubles and quads.

References
----------
Kormann, R., Schneider, P. & Bartelmann, M. 1994, A&A 284, 285.
Keeton, C. R. & Kochanek, C. S. 1998, ApJ 495, 157.
Rowe, B. et al. 2015, Astron. Comput. 10, 121 (GalSim).
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["Deflector", "count_images", "image_grid", "lensed_image"]

#: Source-plane pixel (arcsec) on which the source profile is drawn before it is read at the traced rays.
SOURCE_PIXEL = 0.01


@dataclass(frozen=True)
class Deflector:
    """A singular isothermal ellipsoid with external shear and an optional isothermal satellite.

    Angles in arcsec, position angles in radians (from +x towards +y).
    """

    theta_e: float
    q: float = 1.0
    angle: float = 0.0
    gamma1: float = 0.0
    gamma2: float = 0.0
    satellite_theta_e: float = 0.0
    satellite_x: float = 0.0
    satellite_y: float = 0.0

    def deflection(self, x, y):
        """Deflection ``(alpha_x, alpha_y)`` at image-plane positions ``(x, y)`` (arcsec, lens at the origin)."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        cos, sin = np.cos(self.angle), np.sin(self.angle)
        # Into the frame of the ellipsoid's major axis, where Keeton & Kochanek's formulae hold.
        u, v = cos * x + sin * y, -sin * x + cos * y
        q = min(self.q, 1.0 - 1e-6)  # the circular limit is the q -> 1 limit of the same formulae
        root = np.sqrt(1.0 - q * q)
        psi = np.maximum(np.sqrt(q * q * u * u + v * v), 1e-12)
        norm = self.theta_e * np.sqrt(q) / root
        alpha_u = norm * np.arctan(root * u / psi)
        alpha_v = norm * np.arctanh(np.clip(root * v / psi, -1 + 1e-15, 1 - 1e-15))
        alpha_x = cos * alpha_u - sin * alpha_v + self.gamma1 * x + self.gamma2 * y
        alpha_y = sin * alpha_u + cos * alpha_v + self.gamma2 * x - self.gamma1 * y
        if self.satellite_theta_e > 0:
            dx, dy = x - self.satellite_x, y - self.satellite_y
            r = np.maximum(np.hypot(dx, dy), 1e-12)
            alpha_x = alpha_x + self.satellite_theta_e * dx / r
            alpha_y = alpha_y + self.satellite_theta_e * dy / r
        return alpha_x, alpha_y

    def convergence(self, x, y):
        """Surface density in units of the critical one (the ellipsoid alone), for checking the deflection."""
        cos, sin = np.cos(self.angle), np.sin(self.angle)
        u, v = cos * np.asarray(x) + sin * np.asarray(y), -sin * np.asarray(x) + cos * np.asarray(y)
        q = min(self.q, 1.0 - 1e-6)
        return self.theta_e * np.sqrt(q) / (2.0 * np.sqrt(q * q * u * u + v * v))


def image_grid(size, pixel_scale, oversample=1):
    """Positions (arcsec) of the centres of a ``size``-pixel square's (sub)pixels, the origin at its centre."""
    n = size * oversample
    axis = (np.arange(n) - (n - 1) / 2.0) * pixel_scale / oversample
    return np.meshgrid(axis, axis)


def _source_stamp(source, half_size):
    """The GalSim ``source`` as surface brightness on a `SOURCE_PIXEL` grid ``2 * half_size`` wide."""
    n = int(np.ceil(2 * half_size / SOURCE_PIXEL)) | 1
    stamp = source.drawImage(nx=n, ny=n, scale=SOURCE_PIXEL, method="no_pixel")
    return stamp.array / SOURCE_PIXEL ** 2


def lensed_image(deflector, source, source_x, source_y, *, size, pixel_scale, half_size, oversample=4):
    """The lensed source, without PSF, as flux per pixel of a ``size``-pixel cutout centred on the lens.

    Parameters
    ----------
    deflector : Deflector
    source : galsim.GSObject
        The unlensed source profile, centred at its own origin.
    source_x, source_y : float
        Its position in the source plane (arcsec from the lens).
    size : int
    pixel_scale : float
    half_size : float
        Half the side (arcsec) of the source-plane stamp; light beyond it is lost.
    oversample : int, optional
        Rays per pixel side.

    Returns
    -------
    pixels : numpy.ndarray
        ``(size, size)`` flux per pixel.
    fine : numpy.ndarray
        The same at ``oversample`` times finer sampling (surface brightness), for `count_images`.
    """
    from scipy.ndimage import map_coordinates

    x, y = image_grid(size, pixel_scale, oversample)
    alpha_x, alpha_y = deflector.deflection(x, y)
    stamp = _source_stamp(source, half_size)
    centre = (stamp.shape[0] - 1) / 2.0
    columns = (x - alpha_x - source_x) / SOURCE_PIXEL + centre
    rows = (y - alpha_y - source_y) / SOURCE_PIXEL + centre
    fine = map_coordinates(stamp, [rows.ravel(), columns.ravel()], order=1, cval=0.0).reshape(x.shape)
    sub_area = (pixel_scale / oversample) ** 2
    pixels = (fine * sub_area).reshape(size, oversample, size, oversample).sum(axis=(1, 3))
    return pixels, fine


def count_images(fine, *, threshold=0.05, min_share=0.02):
    """Separate images of a compact source: connected regions above ``threshold`` of the peak.

    A region holding less than ``min_share`` of the lensed flux (a sliver of
    a faint counter-image at a tangential caustic's tip) is not counted.
    """
    from scipy.ndimage import label

    if not np.any(fine > 0):
        return 0
    regions, n = label(fine > threshold * fine.max())
    shares = np.bincount(regions.ravel(), weights=fine.ravel())[1:] / fine.sum()
    return int(np.sum(shares >= min_share)) if n else 0
