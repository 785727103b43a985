"""Seeded synthetic exposures with exact cosmic-ray truth, shared by the tests."""

import numpy as np


def synthetic_exposure(shape=(300, 400), *, seed=0, sky=800.0, gain=4.0, readnoise=7.0,
                       n_stars=15, n_rays=30):
    """A DECam-like calibrated frame in ADU with stars and short CR tracks.

    Returns
    -------
    image : numpy.ndarray
        float32, ADU.
    truth : numpy.ndarray
        bool, pixels that received cosmic-ray charge.
    """
    rng = np.random.default_rng(seed)
    ny, nx = shape
    image = rng.poisson(sky * gain, shape) / gain + rng.normal(0.0, readnoise / gain, shape)
    yy, xx = np.mgrid[:ny, :nx]
    sigma = 1.5
    for _ in range(n_stars):
        y0, x0 = rng.uniform(10, ny - 10), rng.uniform(10, nx - 10)
        flux = rng.uniform(2e3, 5e4)
        image += flux / (2 * np.pi * sigma**2) * np.exp(-((yy - y0) ** 2 + (xx - x0) ** 2) / (2 * sigma**2))
    truth = np.zeros(shape, dtype=bool)
    for _ in range(n_rays):
        y, x = rng.integers(5, ny - 5), rng.integers(5, nx - 15)
        length = rng.integers(1, 10)
        image[y, x : x + length] += rng.uniform(200, 3000)
        truth[y, x : x + length] = True
    return image.astype(np.float32), truth
