"""Moments of a star's light: adaptive (elliptical-Gaussian-weighted) second moments, and the third
moments (coma and trefoil) under the same weight, for `crclean.engine._psf_shape`.

numpy only, many stamps at once (numpy's per-call overhead, not arithmetic, was most of the time one by one).

References
----------
Bernstein, G. M. & Jarvis, M. 2002, AJ 123, 583 (adaptive moments).
Okura, Y., Umetsu, K. & Futamase, T. 2007, ApJ 660, 995 (spin-1 and spin-3 moments).
"""

import numpy as np

__all__ = ["adaptive_moments", "adaptive_moments_of_stamps", "third_moments", "third_moments_of_stamps"]


def adaptive_moments(stamp, iterations=50):
    """(Mxx, Myy, Mxy) of the elliptical Gaussian matched to ``stamp``'s light (pixels^2), or None.

    Each step weights the light by the current Gaussian W, takes the weighted
    moments M, and recovers the light's own covariance C from
    C^-1 = M^-1 - W^-1 (exact for a Gaussian); the next weight is C, kept at
    least half a pixel wide so that an undersampled star, most of its light
    in one pixel, cannot draw the weight onto that pixel (Bernstein & Jarvis
    2002, section 3). The shape is the one the pixels show (the pixel's own
    width included), which is what a network sees.
    """
    measured = adaptive_moments_of_stamps(np.asarray(stamp)[None], iterations)[0]
    return None if np.isnan(measured[0]) else tuple(float(value) for value in measured)


def adaptive_moments_of_stamps(stamps, iterations=50):
    """`adaptive_moments` of each of ``stamps`` (n, size, size) at once: (n, 3), rows of NaN where it fails.

    2 x 2 matrices are held as their three entries (xx, yy, xy) and inverted in closed form.
    """
    n, size = stamps.shape[0], stamps.shape[1]
    offsets = np.arange(size, dtype=np.float64) - size // 2
    dy, dx = np.meshgrid(offsets, offsets, indexing="ij")
    light = np.asarray(stamps, dtype=np.float64)
    result = np.full((n, 3), np.nan)
    weight = np.tile([1.0, 1.0, 0.0], (n, 1))  # (xx, yy, xy) of W
    centre = np.zeros((n, 2))
    active = np.arange(n)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(iterations):
            if active.size == 0:
                break
            inverse = _inverse(weight[active])
            weighted = _weighted(light[active], inverse, centre[active], dx, dy)
            total = weighted.sum(axis=(1, 2))
            moved = np.stack([(weighted * dx).sum(axis=(1, 2)), (weighted * dy).sum(axis=(1, 2))], axis=1)
            moved /= total[:, None]
            ux, uy = dx - moved[:, 0, None, None], dy - moved[:, 1, None, None]
            measured = np.stack([(weighted * ux * ux).sum(axis=(1, 2)), (weighted * uy * uy).sum(axis=(1, 2)),
                                 (weighted * ux * uy).sum(axis=(1, 2))], axis=1) / total[:, None]
            own_inverse = _inverse(measured) - inverse
            own = _inverse(own_inverse)
            failed = ~(total > 0)
            failed |= ~(np.abs(moved).max(axis=1) <= 2.0)  # wandered off the peak
            failed |= ~(_determinant(measured) > 1e-9)
            # Sharper than any Gaussian seen through this weight: not a star's light.
            failed |= ~((_determinant(own_inverse) > 0) & (own_inverse[:, 0] + own_inverse[:, 1] > 0))
            failed |= ~(own[:, 0] + own[:, 1] <= size * size)  # wider than the stamp
            following = _widened(own, 0.25)
            done = ~failed & (np.abs(following - weight[active]).max(axis=1)
                              < 1e-5 * (weight[active, 0] + weight[active, 1]))
            result[active[done]] = own[done]
            centre[active], weight[active] = moved, following
            active = active[~failed & ~done]
    return result


def third_moments(stamp, moments):
    """``(coma1, coma2, trefoil1, trefoil2)`` of a star's light (`third_moments_of_stamps`), or NaNs.

    ``moments`` are the star's `adaptive_moments`; the stamp is centred on its peak pixel.
    """
    stamp = np.asarray(stamp, dtype=np.float64)
    return tuple(float(v) for v in third_moments_of_stamps(stamp[None], np.asarray(moments, float)[None])[0])


def third_moments_of_stamps(stamps, moments, iterations=10):
    """Coma and trefoil of each of ``stamps`` (n, size, size), whose adaptive moments are ``moments`` (n, 3).

    The light is weighted by the Gaussian of its own second moments (the
    adaptive weight), centred where the weighted light's first moment
    vanishes. With w = u + iv, (u, v) the offset from that centre whitened by
    the second moments (so an elliptical star is as round as a circular one),
    coma is <w |w|^2> and trefoil <w^3> over the weighted light, each divided
    by <|w|^2>^(3/2): zero for any Gaussian (or other point-symmetric) star,
    independent of its size, elongation and brightness. x is the column axis.

    Returns
    -------
    numpy.ndarray
        (n, 4): real and imaginary parts of coma, then of trefoil; NaN where the weighted light is not positive.
    """
    n, size = stamps.shape[0], stamps.shape[1]
    offsets = np.arange(size, dtype=np.float64) - size // 2
    dy, dx = np.meshgrid(offsets, offsets, indexing="ij")
    light = np.asarray(stamps, dtype=np.float64)
    covariance = _widened(np.asarray(moments, dtype=np.float64), 0.25)
    inverse = _inverse(covariance)
    centre = np.zeros((n, 2))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(iterations):
            weighted = _weighted(light, inverse, centre, dx, dy)
            centre = np.clip(np.stack([(weighted * dx).sum(axis=(1, 2)), (weighted * dy).sum(axis=(1, 2))], axis=1)
                             / weighted.sum(axis=(1, 2))[:, None], -2.0, 2.0)
        weighted = _weighted(light, inverse, centre, dx, dy)
        total = weighted.sum(axis=(1, 2))
        ux, uy = dx - centre[:, 0, None, None], dy - centre[:, 1, None, None]
        # Whitening by the inverse square root of the covariance S: sqrt(S) = (S + sqrt(det S) I) / t,
        # t = sqrt(trace S + 2 sqrt(det S)), for any symmetric positive-definite 2 x 2 matrix.
        root_det = np.sqrt(_determinant(covariance))
        trace_term = np.sqrt(covariance[:, 0] + covariance[:, 1] + 2.0 * root_det)
        root = (covariance + np.stack([root_det, root_det, np.zeros(n)], axis=1)) / trace_term[:, None]
        wx, wy, wxy = (v[:, None, None] for v in _inverse(root).T)
        w = (wx * ux + wxy * uy) + 1j * (wxy * ux + wy * uy)
        spread = (weighted * np.abs(w) ** 2).sum(axis=(1, 2)) / total
        coma = (weighted * w * np.abs(w) ** 2).sum(axis=(1, 2)) / total / spread**1.5
        trefoil = (weighted * w**3).sum(axis=(1, 2)) / total / spread**1.5
    result = np.stack([coma.real, coma.imag, trefoil.real, trefoil.imag], axis=1)
    result[~((total > 0) & (spread > 0))] = np.nan
    return result


def _weighted(light, inverse, centre, dx, dy):
    """``light`` (n, size, size) times the Gaussians of inverse covariances ``inverse`` (n, 3) at ``centre`` (n, 2)."""
    ix, iy, ixy = (v[:, None, None] for v in inverse.T)
    ux, uy = dx - centre[:, 0, None, None], dy - centre[:, 1, None, None]
    return light * np.exp(-0.5 * (ix * ux * ux + 2.0 * ixy * ux * uy + iy * uy * uy))


def _determinant(m):
    return m[:, 0] * m[:, 1] - m[:, 2] * m[:, 2]


def _inverse(m):
    """Inverses of symmetric 2 x 2 matrices held as (xx, yy, xy) rows."""
    det = _determinant(m)
    return np.stack([m[:, 1] / det, m[:, 0] / det, -m[:, 2] / det], axis=1)


def _widened(m, least):
    """The matrices with every eigenvalue raised to at least ``least`` (the same eigenvectors)."""
    half_sum, half_diff = 0.5 * (m[:, 0] + m[:, 1]), 0.5 * (m[:, 0] - m[:, 1])
    radius = np.hypot(half_diff, m[:, 2])
    high, low = np.maximum(half_sum + radius, least), np.maximum(half_sum - radius, least)
    # Unit eigenvector (cos t, sin t) of the larger eigenvalue: tan 2t = 2 xy / (xx - yy).
    angle = 0.5 * np.arctan2(m[:, 2], half_diff)
    c2, s2, cs = np.cos(angle) ** 2, np.sin(angle) ** 2, np.cos(angle) * np.sin(angle)
    return np.stack([high * c2 + low * s2, high * s2 + low * c2, (high - low) * cs], axis=1)
