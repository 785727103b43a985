"""The astronomical scene of a simulated CCD exposure, noise-free, in electrons.

Sky, stars and galaxies, and the long straight features that are not cosmic
rays (satellite trails, sky lines, sharp axis-aligned edges). A mask model
must learn to leave all of them alone (LA Cosmic's fine-structure test exists
for the same reason: van Dokkum 2001). The detector's own defects are in
`crclean.training._defects`.

Point spread functions are integrated over pixels by oversampling then
binning, which matters for the sharp, undersampled space PSF.

References
----------
.. [1] Moffat, A. F. J. 1969, A&A, 3, 455 (stellar profile).
.. [2] Sersic, J. L. 1963, BAAA, 6, 41; Ciotti, L., & Bertin, G. 1999, A&A,
   352, 447 (the ``b_n`` expansion used here).
.. [3] van Dokkum, P. G. 2001, "Cosmic-Ray Rejection by Laplacian Edge
   Detection", PASP, 113, 1420.
.. [4] Zhang, K., & Bloom, J. S. 2020, deepCR, ApJ, 889, 24.
"""

import numpy as np
from scipy.signal import fftconvolve

__all__ = [
    "moffat_profile",
    "space_profile",
    "elongated",
    "psf_kernel",
    "lumpy",
    "render_stars",
    "render_galaxies",
    "render_axis_edges",
    "render_trails",
]


def moffat_profile(fwhm, beta=3.0):
    """Return ``f(r2)``, an (unnormalised) Moffat profile of the given FWHM in pixels."""
    alpha2 = fwhm**2 / (4.0 * (2.0 ** (1.0 / beta) - 1.0))
    return lambda r2: (1.0 + r2 / alpha2) ** (-beta)


def space_profile(fwhm, halo_fraction=0.15, halo_fwhm_factor=4.0):
    """Return ``f(r2)`` for a sharp space PSF: a Gaussian core plus broad Moffat wings.

    Parameters
    ----------
    fwhm : float
        FWHM of the core in pixels (about 1-1.5 for an undersampled camera).
    halo_fraction : float, optional
        Share of the flux in the wings.
    halo_fwhm_factor : float, optional
        FWHM of the wings relative to the core.
    """
    sig2 = (fwhm / 2.3548) ** 2
    halo_fwhm = fwhm * halo_fwhm_factor
    halo = moffat_profile(halo_fwhm, beta=2.0)
    # Normalise each part to unit integral so halo_fraction is a flux share.
    core_norm = 1.0 / (2 * np.pi * sig2)
    alpha2 = halo_fwhm**2 / (4.0 * (2.0**0.5 - 1.0))
    halo_norm = 1.0 / (np.pi * alpha2)  # integral of a beta=2 Moffat is pi*alpha^2
    return lambda r2: ((1 - halo_fraction) * core_norm * np.exp(-0.5 * r2 / sig2)
                       + halo_fraction * halo_norm * halo(r2))


def elongated(profile, axis_ratio, angle):
    """``profile`` stretched into ellipses of minor-to-major ``axis_ratio``, the major axis at ``angle``.

    No PSF is quite round: astigmatism and coma, a tilted focal plane, wind
    shake and guiding errors stretch every star of a frame the same way, by a
    few per cent on a good night and up to about 2:1 when guiding slips. The
    ellipse keeps the round profile's area, so its FWHM is the geometric mean
    of the two axes' (a star's peak stays the same for the same flux).

    Returns
    -------
    callable
        ``f(r2)`` of the elliptical radius, with ``axes = (axis_ratio, angle)``
        for `_radius2` to use.
    """
    if not 0 < axis_ratio <= 1:
        raise ValueError(f"axis_ratio must be within (0, 1], got {axis_ratio!r}")

    def shape(r2):
        return profile(r2)

    shape.axes = (float(axis_ratio), float(angle))
    return shape


def lumpy(profile, lumps):
    """``profile`` as the sum of shifted, rescaled copies of itself: a PSF with structure in its core.

    Real PSFs are not all smooth ellipses: coma gives a star a bright side and a tail, trefoil three
    lobes, a telescope that jumped while tracking or a mis-stacked pair of exposures two cores. Such stars
    are sharper and lumpier than a Moffat of the same width, and a mask model that has only seen smooth
    stars may take their lumps for hits.

    Parameters
    ----------
    profile : callable
        ``f(r2)``, possibly `elongated`.
    lumps : sequence of (dx, dy, weight, scale)
        Offset of each copy in px, its share of the flux and its size relative to ``profile``.

    Returns
    -------
    callable
        ``profile`` with a ``lumps`` attribute that `_evaluate` sums over.
    """
    def shape(r2):
        return profile(r2)

    shape.inner = profile
    shape.lumps = tuple((float(dx), float(dy), float(w), float(s)) for dx, dy, w, s in lumps)
    return shape


def _evaluate(profile, dx, dy):
    """Surface brightness of ``profile`` at offsets (dx, dy), for round, `elongated` and `lumpy` profiles."""
    lumps = getattr(profile, "lumps", None)
    if lumps is None:
        return profile(_radius2(profile, dx, dy))
    # A copy of the profile scaled by s keeps its flux when its brightness is divided by s^2.
    return sum(w / s**2 * _evaluate(profile.inner, (dx - ox) / s, (dy - oy) / s) for ox, oy, w, s in lumps)


def _radius2(profile, dx, dy):
    """Squared radius at offsets (dx, dy): elliptical for a profile made by `elongated`."""
    axes = getattr(profile, "axes", None)
    if axes is None:
        return dx**2 + dy**2
    q, angle = axes
    major = dx * np.cos(angle) + dy * np.sin(angle)
    minor = -dx * np.sin(angle) + dy * np.cos(angle)
    # Along the major axis the radius is reached 1/sqrt(q) further out, along the minor sqrt(q) nearer.
    return q * major**2 + minor**2 / q


def _binned_stamp(profile, dx, dy, radius, oversample):
    """PSF centred at offset (dx, dy) from the stamp centre, pixel-integrated, sum 1."""
    n = 2 * radius + 1
    sub = (np.arange(n * oversample) + 0.5) / oversample - (radius + 0.5)
    stamp = _evaluate(profile, sub[None, :] - dx, sub[:, None] - dy).reshape(n, oversample, n, oversample)
    stamp = stamp.sum(axis=(1, 3))
    return stamp / stamp.sum()


def psf_kernel(profile, radius, oversample=1):
    """Centred PSF kernel on a grid ``oversample`` times finer than the pixels, sum 1."""
    n = (2 * radius + 1) * oversample
    sub = (np.arange(n) + 0.5) / oversample - (radius + 0.5)
    kernel = _evaluate(profile, sub[None, :], sub[:, None])
    return kernel / kernel.sum()


def _add_stamp(image, stamp, cy, cx):
    """Add ``stamp`` centred on integer pixel (cy, cx), clipping at the edges."""
    ry, rx = stamp.shape[0] // 2, stamp.shape[1] // 2
    y0, y1 = max(cy - ry, 0), min(cy + ry + 1, image.shape[0])
    x0, x1 = max(cx - rx, 0), min(cx + rx + 1, image.shape[1])
    if y0 < y1 and x0 < x1:
        image[y0:y1, x0:x1] += stamp[y0 - cy + ry : y1 - cy + ry, x0 - cx + rx : x1 - cx + rx]


def render_stars(shape, x, y, flux, profile, *, fwhm, oversample):
    """Noise-free image of point sources.

    Parameters
    ----------
    shape : tuple of int
        Image shape.
    x, y, flux : numpy.ndarray
        Positions in pixels and total fluxes in electrons.
    profile : callable
        ``f(r2)`` surface-brightness profile (see `moffat_profile`).
    fwhm : float
        PSF FWHM in pixels; sets the stamp size (bright stars get larger stamps
        so their wings are not cut).
    oversample : int
        Sub-pixels per pixel for the pixel integration.

    Returns
    -------
    numpy.ndarray
        float64 image in electrons.
    """
    image = np.zeros(shape)
    for xi, yi, fi in zip(x, y, flux):
        cx, cy = int(np.floor(xi + 0.5)), int(np.floor(yi + 0.5))
        radius = int(np.clip(2 * fwhm * (1 + np.log10(max(fi, 1e3) / 1e3)), 3 * fwhm, 80))
        stamp = _binned_stamp(profile, xi - cx, yi - cy, radius, oversample)
        _add_stamp(image, fi * stamp, cy, cx)
    return image


def _sersic_b(n):
    # Ciotti & Bertin (1999) asymptotic expansion, good to 1e-4 for n > 0.36.
    return 2 * n - 1 / 3 + 4 / (405 * n) + 46 / (25515 * n**2)


def render_galaxies(shape, params, psf, *, oversample):
    """Noise-free image of PSF-convolved Sersic galaxies.

    Parameters
    ----------
    shape : tuple of int
        Image shape.
    params : numpy.ndarray
        One row per galaxy: ``x, y, flux, r_eff (px), n, ellipticity, angle (rad)``.
    psf : numpy.ndarray
        PSF kernel sampled ``oversample`` times finer than the pixels (see `psf_kernel`).
    oversample : int
        Sub-pixels per pixel.

    Returns
    -------
    numpy.ndarray
        float64 image in electrons.
    """
    image = np.zeros(shape)
    psf_radius = psf.shape[0] // (2 * oversample)
    for x, y, flux, r_eff, n, ell, angle in params:
        cx, cy = int(np.floor(x + 0.5)), int(np.floor(y + 0.5))
        radius = int(np.clip(r_eff * (2 + n), 4, 50)) + psf_radius
        size = (2 * radius + 1) * oversample
        sub = (np.arange(size) + 0.5) / oversample - (radius + 0.5)
        dx, dy = sub[None, :] - (x - cx), sub[:, None] - (y - cy)
        major = dx * np.cos(angle) + dy * np.sin(angle)
        minor = (-dx * np.sin(angle) + dy * np.cos(angle)) / (1 - ell)
        r = np.hypot(major, minor)
        model = np.exp(-_sersic_b(n) * ((r / r_eff) ** (1 / n) - 1))
        model = fftconvolve(model, psf, mode="same")
        stamp = model.reshape(2 * radius + 1, oversample, 2 * radius + 1, oversample).sum((1, 3))
        _add_stamp(image, flux * np.clip(stamp, 0, None) / stamp.sum(), cy, cx)
    return image


def render_axis_edges(shape, *, rng, n, sky_sigma):
    """Noise-free light with sharp edges along the pixel axes (e-): steps and rectangles.

    Half of the features are amplifier steps: the frame split at a random row
    or column, one side raised by 2-30 sky sigma (amplifiers whose bias or gain
    differ); the others are rectangles 16-200 px a side raised by 3-50 sky sigma
    (a glow region, the lit side of a shadow's edge). Their edges are as sharp
    as a pixel, unlike anything the PSF draws, and run along an axis as grazing
    cosmic-ray tracks do; they are not cosmic rays.

    Parameters
    ----------
    shape : tuple of int
        Image shape.
    rng : numpy.random.Generator
        Random generator.
    n : int
        Number of features.
    sky_sigma : float
        Sky noise sigma in electrons.

    Returns
    -------
    numpy.ndarray
        float64 charge map.
    """
    ny, nx = shape
    out = np.zeros(shape)
    for _ in range(int(n)):
        if rng.uniform() < 0.5:
            axis, level = int(rng.integers(0, 2)), rng.uniform(2.0, 30.0) * sky_sigma
            cut = int(rng.integers(1, shape[axis]))
            side = (slice(cut, None), slice(None)) if axis == 0 else (slice(None), slice(cut, None))
            out[side] += level
        else:
            h, w = (int(v) for v in rng.integers(16, 201, 2))
            y0, x0 = int(rng.integers(-h // 2, ny)), int(rng.integers(-w // 2, nx))
            out[max(y0, 0):max(y0 + h, 0), max(x0, 0):max(x0 + w, 0)] += rng.uniform(3.0, 50.0) * sky_sigma
    return out


def render_trails(shape, *, rng, n, fwhm, sky_sigma, axis=None):
    """Noise-free satellite trails: straight bands across the image (e-).

    Each is a line through a random point at a random angle (a quarter lie
    along a row or column, like the sky lines of a long-slit frame or a
    bright star's diffraction spike), with a Gaussian cross-section 1-3 times
    the PSF's and a peak of 3-300 sky sigma that drifts along it. They are
    sources, not cosmic rays: a model must not take a long, smooth, PSF-wide
    line for a track.

    Parameters
    ----------
    shape : tuple of int
        Image shape.
    rng : numpy.random.Generator
        Random generator.
    n : int
        Number of trails.
    fwhm : float
        PSF FWHM in pixels.
    sky_sigma : float
        Sky noise sigma in electrons.
    axis : {None, 0, 1}, optional
        Lay every trail along rows (0) or columns (1), as the sky lines of a
        long-slit frame lie across its dispersion axis; None: as above.

    Returns
    -------
    numpy.ndarray
        float64 charge map.
    """
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    out = np.zeros(shape)
    for _ in range(int(n)):
        angle = rng.uniform(0, np.pi)
        if axis is not None:
            angle = axis * (np.pi / 2)
        elif rng.uniform() < 0.25:
            angle = rng.integers(0, 2) * (np.pi / 2)
        x0, y0 = rng.uniform(0, nx), rng.uniform(0, ny)
        sigma = fwhm / 2.3548 * rng.uniform(1.0, 3.0)
        peak = sky_sigma * np.exp(rng.uniform(np.log(3.0), np.log(300.0)))
        along = (xx - x0) * np.cos(angle) + (yy - y0) * np.sin(angle)
        across = -(xx - x0) * np.sin(angle) + (yy - y0) * np.cos(angle)
        drift = 1 + rng.uniform(-0.5, 0.5) * along / max(ny, nx)
        out += peak * np.clip(drift, 0.2, None) * np.exp(-0.5 * (across / sigma) ** 2)
    return out
