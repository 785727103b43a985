"""More PSF shapes for training scenes (``[scene] psf_families = true``).

Training scenes were seen through a Moffat profile or, for a share of them,
a Gaussian, both round. Real seeing-limited PSFs also follow the Kolmogorov
turbulence spectrum, whose wings lie between the two (Fried 1966; Racine
1996 for how such PSFs compare with Moffat profiles), and are rarely round:
tracking, wind shake and optics stretch them by a few per cent to some ten
per cent. A finder that saw one round family can take a stretched star or a
lens galaxy with unfamiliar wings for something else.

References
----------
Fried, D. L. 1966, J. Opt. Soc. Am. 56, 1372.
Racine, R. 1996, PASP 108, 699.
"""

import numpy as np

__all__ = ["kolmogorov_kernel", "stretched", "KOLMOGOROV_SHARE", "STRETCHED_SHARE", "STRETCHED_AXIS_RATIOS"]

#: Share of scenes seen through a Kolmogorov PSF; the rest keep the Moffat/Gaussian draw.
KOLMOGOROV_SHARE = 1.0 / 3.0
#: Share of scenes whose PSF, of any family, is stretched.
STRETCHED_SHARE = 0.5
#: Axis ratios of stretched PSFs (ellipticity (1 - q) / (1 + q) up to about 0.11).
STRETCHED_AXIS_RATIOS = (0.8, 1.0)

# FWHM of a long-exposure Kolmogorov PSF in units of lambda / r0 (Fried 1966).
_FWHM_PER_LAMBDA_OVER_R0 = 0.976


def kolmogorov_kernel(fwhm_pixels, *, size=None):
    """Unit-sum long-exposure Kolmogorov PSF with the given FWHM (pixels).

    Its optical transfer function is ``exp(-3.44 (f lambda / r0) ** (5/3))``
    with ``f`` in cycles per pixel and ``lambda / r0 = FWHM / 0.976``; the
    PSF is its inverse Fourier transform on a grid four times the kernel's
    side, cut to ``size`` (default ``2 ceil(3 FWHM) + 1``, a little wider than
    the Moffat kernel's, for the heavier wings).
    """
    size = size or int(2 * np.ceil(3.0 * fwhm_pixels) + 1)
    n = 4 * size
    frequency = np.hypot(*np.meshgrid(np.fft.fftfreq(n), np.fft.fftfreq(n)))
    transfer = np.exp(-3.44 * (frequency * fwhm_pixels / _FWHM_PER_LAMBDA_OVER_R0) ** (5.0 / 3.0))
    psf = np.fft.fftshift(np.real(np.fft.ifft2(transfer)))
    start = n // 2 - size // 2
    kernel = np.clip(psf[start:start + size, start:start + size], 0.0, None)
    return kernel / kernel.sum()


def stretched(kernel, axis_ratio, angle):
    """``kernel`` stretched along ``angle`` (radians) to ``axis_ratio``, its area kept; unit sum.

    The major axis grows by ``axis_ratio ** -0.5`` and the minor shrinks by
    ``axis_ratio ** 0.5``, so the geometric-mean width (and the seeing drawn
    for the scene) stays the same.
    """
    from scipy.ndimage import affine_transform

    if not 0 < axis_ratio <= 1:
        raise ValueError(f"axis_ratio must be within (0, 1], got {axis_ratio!r}")
    cos, sin = np.cos(angle), np.sin(angle)
    rotation = np.array([[cos, -sin], [sin, cos]])
    # affine_transform maps each output pixel (row, col) to the input position it samples: shrink by the
    # stretch along the major axis. Columns are x, rows are y, so the rotation acts on (x, y) reversed.
    scale = np.diag([np.sqrt(axis_ratio), 1.0 / np.sqrt(axis_ratio)])
    xy_matrix = rotation @ scale @ rotation.T
    matrix = xy_matrix[::-1, ::-1]
    centre = (np.array(kernel.shape) - 1) / 2.0
    out = affine_transform(kernel, matrix, offset=centre - matrix @ centre, order=1, mode="constant", cval=0.0)
    out = np.clip(out, 0.0, None)
    return out / out.sum()
