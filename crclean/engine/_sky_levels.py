"""An image in sky-noise sigma, with the pixels the post-network steps must not trust or judge.

`crclean.engine._axis_tracks` and `crclean.engine._star_twins` both judge pixels
against the sky the mask network was normalised with, and both keep away from
missing pixels, known defects and saturation.
"""

import numpy as np

__all__ = ["PLATEAU", "sky_levels"]

PLATEAU = 5
"""Pixels within 0.1% of a frame's highest value that make it its saturation level, when no SATURATE is known."""


def sky_levels(image, *, saturation=None, defects=None, sky=None):
    """``(z, untrusted, top_level)`` of a 2-D image.

    Parameters
    ----------
    image : numpy.ndarray
        2-D, in any linear units; NaN for missing pixels.
    saturation : float, optional
        Saturation level in the image's units; without it the frame's highest
        value stands for it when `PLATEAU` pixels or more share it (where
        saturated stars and bleed trails sit).
    defects : numpy.ndarray of bool, optional
        Known bad pixels (a DQ array's).
    sky : tuple of numpy.ndarray, optional
        ``(background, rms)`` of the image (`crclean.engine.background_mesh`
        of its NaN-filled pixels), when the mask network measured them;
        measured here otherwise.

    Returns
    -------
    z : numpy.ndarray of float32
        ``(image - background) / rms``, zero where untrusted.
    untrusted : numpy.ndarray of bool
        Missing pixels and known defects.
    top_level : numpy.ndarray of bool
        Pixels at the saturation level.
    """
    from crclean.engine._background import background_mesh
    from crclean.engine._masker import _fill_non_finite

    image = np.asarray(image, np.float32)
    finite = np.isfinite(image)
    if sky is None:
        # The sky mesh needs every pixel; the filled ones are set aside below, as untrusted.
        sky = background_mesh(_fill_non_finite(image)[0])
    background, rms = sky
    untrusted = ~finite if defects is None else ~finite | np.asarray(defects, bool)
    with np.errstate(invalid="ignore"):
        z = ((image - background) / rms).astype(np.float32, copy=False)
        z[untrusted] = 0.0
        if saturation is not None:
            top_level = image >= saturation
        elif finite.any():
            # Saturated stars and bleeds share the frame's top value (the full well or the ADC's limit);
            # a frame whose highest pixel has no company has no such plateau, and its top is often a track.
            top_level = image >= 0.999 * np.max(image[finite])
            if np.count_nonzero(top_level) < PLATEAU:
                top_level[:] = False
        else:
            top_level = np.zeros(image.shape, bool)
    return z, untrusted, top_level
