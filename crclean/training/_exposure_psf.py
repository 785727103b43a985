"""The PSF of a simulated exposure: the profile its stars are drawn with, and its shape as a network is told it.

The shape is measured as `crclean.engine._psf_shape` measures a real image's stars, so that training
and run time tell a network the same thing.
"""

import numpy as np

from crclean.training import _scene

__all__ = ["detector_psf", "exposure_psf_shape"]

#: Half-side of the stamp a star's shape is measured in (`crclean.engine._psf_shape.measure_psf_shape`'s ``radius``).
_STAMP_RADIUS = 10


def detector_psf(prof, fwhm):
    """The PSF of a detector at ``fwhm``: ``(profile, oversample, kernel radius)`` (`crclean.training._scene`)."""
    if prof.psf == "space":
        profile = _scene.space_profile(fwhm)
        oversample, psf_radius = 6, int(np.ceil(4 * fwhm))
    else:
        profile = _scene.moffat_profile(fwhm, prof.moffat_beta)
        # Sharp Moffat PSFs (space-like) need the finer grid and a wider stamp.
        oversample, psf_radius = (6 if fwhm < 2 else 3 if fwhm < 3.5 else 2), int(np.ceil(max(2 * fwhm, 4)))
    if prof.psf_axis_ratio < 1:
        profile = _scene.elongated(profile, prof.psf_axis_ratio, prof.psf_angle)
    if prof.psf_lumps:
        profile = _scene.lumpy(profile, [(dx * fwhm, dy * fwhm, w, s) for dx, dy, w, s in prof.psf_lumps])
    return profile, oversample, psf_radius


def exposure_psf_shape(exposure):
    """``exposure``'s PSF as its pixels show it: a noise-free star's adaptive and third moments, or None.

    The same measure `crclean.engine._psf_shape.measure_psf_shape` makes on a
    real image's stars, on the same stamps (21 px square, centred on the
    star's brightest pixel), so a network told the PSF's shape in training is
    told it the same way at run time.

    Returns
    -------
    crclean.engine._psf_shape.PSFShape or None
    """
    from crclean.engine._psf_shape import adaptive_moments, shape_of_stars, third_moments

    profile, oversample, _ = detector_psf(exposure.detector, exposure.fwhm)
    moments, skews = [], []
    # Stars land at any sub-pixel phase, and an undersampled star's pixels depend on it: take the median.
    for dx, dy in ((0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.5, 0.5), (0.25, 0.25)):
        star = _scene.render_stars((41, 41), [20.0 + dx], [20.0 + dy], [1.0], profile, fwhm=exposure.fwhm,
                                   oversample=oversample)
        y, x = np.unravel_index(np.argmax(star), star.shape)
        y, x = min(max(y, _STAMP_RADIUS), 40 - _STAMP_RADIUS), min(max(x, _STAMP_RADIUS), 40 - _STAMP_RADIUS)
        stamp = star[y - _STAMP_RADIUS:y + _STAMP_RADIUS + 1, x - _STAMP_RADIUS:x + _STAMP_RADIUS + 1]
        measured = adaptive_moments(stamp)
        if measured is not None:
            moments.append(measured)
            skews.append(third_moments(stamp, measured))
    return shape_of_stars(np.array(moments), skews=np.array(skews)) if moments else None
