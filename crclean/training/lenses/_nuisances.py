"""Detector and sky nuisances for lens training scenes (``[scene] nuisances = true``).

A survey image is not only galaxies: cosmic rays that a coadd's outlier
rejection missed or a single epoch kept, satellite and aircraft trails, and
bad detector columns. None is a lens, and a finder that never saw them can
take a sharp track across a galaxy for an arc (issue 29: a cosmic ray
crossing a galaxy made a 0.68 candidate on crclean's own example frame).

Drawn per band, since a multi-band tile's bands are taken at different
times and a trail or a cosmic ray is in one of them only:

- cosmic rays, in 25% of images (58% of three-band scenes have some): Poisson, 2 per 128 x 128 window on
  average; spots of 1-3 pixels and straight tracks of 3-25 pixels at any
  angle, 10-2000 sky sigma per pixel, never smoothed by the PSF (they hit
  the detector, not the sky; Groom 2002 for their rates and lengths);
- a satellite trail, in 3% (about 9% of three-band scenes): a straight band across the image, as wide as
  the PSF and up to twice it (defocused: low orbits are out of focus; Tyson
  et al. 2020), 3-300 sky sigma at its peak;
- a bad column, in 5%: one or two adjacent columns along the whole sky-subtracted image,
  hot (+5 to +50 sigma) or dead (-5 to -50: a dead column reads zero, far
  below a subtracted sky).

The cosmic rays and the column are drawn after the noise and the trail
before it (it is sky light, with its photon noise); none changes the truth
boxes.

References
----------
Groom, D. 2002, Exp. Astron. 14, 45.
Tyson, J. A. et al. 2020, AJ 160, 226.
"""

import numpy as np

__all__ = ["add_trail", "add_detector_nuisances", "COSMIC_SHARE", "TRAIL_SHARE", "COLUMN_SHARE"]

#: Shares of images (per band) with cosmic rays, a satellite trail and a bad column.
COSMIC_SHARE, TRAIL_SHARE, COLUMN_SHARE = 0.25, 0.03, 0.05
#: Mean cosmic rays per 128 x 128 pixels, in images that have them.
COSMIC_RATE = 2.0


def add_trail(rng, canvas, fwhm_pixels, sigma):
    """A satellite trail across ``canvas`` (before the noise), in `TRAIL_SHARE` of calls; a new array."""
    if rng.random() >= TRAIL_SHARE:
        return canvas
    ny, nx = canvas.shape
    angle, width = rng.uniform(0, np.pi), fwhm_pixels * rng.uniform(1.0, 2.0) / 2.355
    cx, cy = rng.uniform(0, nx), rng.uniform(0, ny)
    yy, xx = np.mgrid[0:ny, 0:nx]
    distance = (xx - cx) * np.sin(angle) - (yy - cy) * np.cos(angle)
    peak = sigma * float(np.exp(rng.uniform(np.log(3.0), np.log(300.0))))
    return canvas + peak * np.exp(-0.5 * (distance / width) ** 2)


def _track(rng, ny, nx):
    """Pixels ``(rows, cols)`` of one cosmic ray: a spot of 1-3 pixels or a straight track of 3-25."""
    y0, x0 = rng.uniform(0, ny), rng.uniform(0, nx)
    if rng.random() < 0.4:
        length, angle = 0.0, 0.0
        extra = int(rng.integers(0, 3))
    else:
        length, angle, extra = rng.uniform(3.0, 25.0), rng.uniform(0, np.pi), 0
    steps = np.linspace(0.0, length, max(int(np.ceil(length * 2)), 1))
    rows = np.round(y0 + steps * np.sin(angle)).astype(int)
    cols = np.round(x0 + steps * np.cos(angle)).astype(int)
    if extra:  # a spot's neighbours
        rows = np.concatenate([rows, rows + rng.integers(-1, 2, extra)])
        cols = np.concatenate([cols, cols + rng.integers(-1, 2, extra)])
    keep = (rows >= 0) & (rows < ny) & (cols >= 0) & (cols < nx)
    return rows[keep], cols[keep]


def add_detector_nuisances(rng, image, sigma):
    """Cosmic rays and a bad column on ``image`` (after the noise), each in its share of calls; a new array.

    Parameters
    ----------
    rng : numpy.random.Generator
    image : numpy.ndarray
        One band, in sky-noise units of ``sigma``.
    sigma : float

    Returns
    -------
    numpy.ndarray
    """
    image = np.array(image, copy=True)
    ny, nx = image.shape
    if rng.random() < COSMIC_SHARE:
        for _ in range(rng.poisson(COSMIC_RATE * ny * nx / 128 ** 2)):
            rows, cols = _track(rng, ny, nx)
            # Charge per pixel varies along a track (Landau fluctuations): each pixel its own draw.
            image[rows, cols] += sigma * np.exp(rng.uniform(np.log(10.0), np.log(2000.0), rows.size))
    if rng.random() < COLUMN_SHARE:
        column = int(rng.integers(nx))
        columns = slice(column, min(column + 1 + int(rng.random() < 0.3), nx))
        level = sigma * rng.uniform(5.0, 50.0) * (1 if rng.random() < 0.5 else -1)
        if level < 0:
            image[:, columns] = level  # a dead column holds no signal at all
        else:
            image[:, columns] += level
    return image
