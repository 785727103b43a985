"""Compact lenses, doubles and quads, for banks built with ``compact_fraction`` or ``multiple_image_fraction``.

The first banks drew Einstein radii uniformly in 0.5-3 arcsec and extended
sources close to the caustics, so nearly every training lens is an arc or a
ring. A survey's lenses are mostly otherwise: the Einstein radii of
galaxy-scale lenses that LSST or Euclid can find peak below 1 arcsec,
near the seeing (Collett 2015), and a compact source (a compact
star-forming galaxy, or a quasar's host) shows as two or four images rather
than an arc. The image multiplicity follows from where the source sits:
outside the tangential caustic but inside the radial one it is imaged
twice, inside the tangential caustic four times (Schneider, Ehlers & Falco
1992; Kormann et al. 1994 for the SIE's caustics).

``'compact'`` lenses draw theta_E from 0.4-1.0 arcsec and sources of
0.05-0.25 arcsec. ``'double'`` and ``'quad'`` lenses draw a compact source
(0.01-0.06 arcsec) and its offset, and keep the draw only if the lens
equation has that many bright images (`count_images`). A double's source
sits 0.2-0.7 theta_E from the lens centre, where an isothermal lens gives
flux ratios of 1.5-6 (``(1 + b) / (1 - b)``): the doubles a survey can
recognise, whose counter-image is not lost under the lens light (Oguri &
Marshall 2010 for the flux ratios of lensed quasars). The number of
images is counted by triangle mapping (Schramm & Kayser 1987): each cell of
the image-plane grid is split into two triangles, mapped to the source
plane, and an image is a connected group of triangles that cover the
source's centre.

References
----------
Collett, T. E. 2015, ApJ 811, 20.
Kormann, R., Schneider, P. & Bartelmann, M. 1994, A&A 284, 285.
Oguri, M. & Marshall, P. J. 2010, MNRAS 405, 2579.
Schneider, P., Ehlers, J. & Falco, E. E. 1992, Gravitational Lenses (Springer).
Schramm, T. & Kayser, R. 1987, A&A 174, 361.
"""

import numpy as np

__all__ = ["CONFIGURATIONS", "draw_configuration", "count_images", "configuration_draws"]

#: Lens configurations a bank can hold; ``'extended'`` is the first banks' arc or ring.
CONFIGURATIONS = ("extended", "compact", "double", "quad")
#: Einstein radii (arcsec) of compact lenses, and their sources' radii.
COMPACT_THETA_E, COMPACT_SOURCE = (0.4, 1.0), (0.05, 0.25)
#: Source radii (arcsec) of doubles and quads, and their offsets from the lens centre in theta_E.
POINT_SOURCE, DOUBLE_OFFSET, QUAD_OFFSET = (0.01, 0.06), (0.2, 0.7), (0.0, 0.2)
#: Images fainter than this magnification are not counted (a power-law lens's faint central image).
MIN_MAGNIFICATION = 0.1
#: Draws of a double's or quad's source before giving up (the last draw is then kept, and counted).
MAX_TRIES = 12


def draw_configuration(rng, compact_fraction, multiple_image_fraction):
    """``'double'`` or ``'quad'`` (half each) for a ``multiple_image_fraction`` of lenses, ``'compact'`` for a
    ``compact_fraction``, else ``'extended'``. One uniform draw, and one more for a double or quad."""
    draw = rng.random()
    if draw < multiple_image_fraction:
        return "double" if rng.random() < 0.5 else "quad"
    return "compact" if draw < multiple_image_fraction + compact_fraction else "extended"


def configuration_draws(rng, configuration, theta_e_range):
    """``(theta_e, r_source, offset range in theta_E or None)`` for one lens of ``configuration``.

    ``None`` as the offset range means the first banks' source offset
    (close to the caustics, so that most sources form arcs).
    """
    if configuration == "compact":
        return rng.uniform(*COMPACT_THETA_E), rng.uniform(*COMPACT_SOURCE), None
    if configuration == "extended":
        return rng.uniform(*theta_e_range), rng.uniform(0.08, 0.45), None
    offsets = DOUBLE_OFFSET if configuration == "double" else QUAD_OFFSET
    return rng.uniform(*theta_e_range), rng.uniform(*POINT_SOURCE), offsets


def count_images(x, y, beta_x, beta_y, source):
    """Number of images of the point ``source`` (arcsec) with magnification of at least `MIN_MAGNIFICATION`.

    Parameters
    ----------
    x, y : numpy.ndarray
        Image-plane grid (2-D, regular; arcsec).
    beta_x, beta_y : numpy.ndarray
        Where each grid point maps in the source plane (same shape).
    source : (float, float)

    Returns
    -------
    int
    """
    from scipy.ndimage import label

    sx, sy = source
    bx, by = np.asarray(beta_x).reshape(x.shape) - sx, np.asarray(beta_y).reshape(x.shape) - sy
    cell_area = abs((x[0, 1] - x[0, 0]) * (y[1, 0] - y[0, 0]))
    covered = np.zeros((x.shape[0] - 1, x.shape[1] - 1), bool)
    magnification = np.zeros(covered.shape)
    corners = {"a": (bx[:-1, :-1], by[:-1, :-1]), "b": (bx[:-1, 1:], by[:-1, 1:]),
               "c": (bx[1:, :-1], by[1:, :-1]), "d": (bx[1:, 1:], by[1:, 1:])}
    for first, second, third in (("a", "b", "c"), ("b", "d", "c")):
        (x1, y1), (x2, y2), (x3, y3) = corners[first], corners[second], corners[third]
        # Twice the signed area of the mapped triangle, and of its sub-triangles with the source at the origin.
        area = (x2 - x1) * (y3 - y1) - (x3 - x1) * (y2 - y1)
        w1, w2, w3 = x2 * y3 - x3 * y2, x3 * y1 - x1 * y3, x1 * y2 - x2 * y1
        inside = ((w1 >= 0) & (w2 >= 0) & (w3 >= 0) & (area > 0)) | ((w1 <= 0) & (w2 <= 0) & (w3 <= 0) & (area < 0))
        covered |= inside
        magnification = np.where(inside, np.maximum(magnification, cell_area / np.maximum(np.abs(area), 1e-12)),
                                 magnification)
    groups, count = label(covered, structure=np.ones((3, 3)))
    if not count:
        return 0
    brightest = np.array([magnification[groups == index].max() for index in range(1, count + 1)])
    return int((brightest >= MIN_MAGNIFICATION).sum())
