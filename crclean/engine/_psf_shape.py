"""The shape of an image's PSF, measured on its stars: size, elongation and direction.

A mask network judges a pixel from a few dozen pixels around it, and there a
star stretched by the frame's PSF and a short, diffuse cosmic-ray track look
alike (crclean-ccd-v12 flagged the cores of a whole frame of elongated stars;
v14, trained with elongated PSFs, then missed tracks that lay along galaxies).
What tells them apart is global: every star of a frame is stretched the same
way, a track need not be. This module measures that shape once per image.

Method: adaptive (elliptical-Gaussian-weighted) second moments of bright,
unsaturated, isolated peaks (Bernstein & Jarvis 2002), combined over stars by
the median of their size and ellipticity components over the tightest group
of peaks in size (cosmic rays are sharper than any star of the frame and
scatter in size, galaxies wider). numpy only, so a mask run does not load scipy.

References
----------
Bernstein, G. M. & Jarvis, M. 2002, AJ 123, 583 (adaptive moments).
Bertin, E. & Arnouts, S. 1996, A&AS 117, 393 (windowed moments in SExtractor).
"""

from dataclasses import dataclass

import numpy as np

from crclean.engine._background import background_mesh

__all__ = ["PSFShape", "adaptive_moments", "ellipticity", "measure_psf_shape"]

_GAUSSIAN_FWHM = 2.0 * np.sqrt(2.0 * np.log(2.0))
_SHARPEST = 0.04  # pixels^2: the least variance per axis a star's light shows
_LEAST_AXIS_RATIO = 0.3  # guiding errors and astigmatism stretch stars up to about 2:1; 3:1 is not a PSF


@dataclass(frozen=True)
class PSFShape:
    """A PSF's size and shape, as its stars show them.

    Attributes
    ----------
    fwhm : float
        FWHM of the matched elliptical Gaussian in pixels, the geometric mean of its two axes'.
    axis_ratio : float
        Minor over major axis, in (0, 1].
    angle : float
        Direction of the major axis, radians from the x (column) axis, in [0, pi).
    n_stars : int
        Stars measured.
    """

    fwhm: float
    axis_ratio: float
    angle: float
    n_stars: int

    @property
    def ellipticity(self):
        """``(e1, e2)``: ``(a^2 - b^2) / (a^2 + b^2)`` of the axes, times ``cos 2 angle`` and ``sin 2 angle``."""
        q2 = self.axis_ratio**2
        e = (1.0 - q2) / (1.0 + q2)
        return e * np.cos(2.0 * self.angle), e * np.sin(2.0 * self.angle)


def measure_psf_shape(image, *, min_peak=20.0, max_stars=200, min_stars=5, radius=10, background=None, rms=None):
    """Measure the PSF of ``image`` on its bright, unsaturated, isolated stars.

    Parameters
    ----------
    image : numpy.ndarray
        2-D, finite, in any linear units.
    min_peak : float, optional
        Faintest peak used, in sigma of the local sky noise above the background.
    max_stars : int, optional
        At most this many of the brightest peaks are measured (those measured as stars).
    min_stars : int, optional
        With fewer usable stars the shape is unknown (None).
    radius : int, optional
        Half-side in pixels of the stamp each star is measured in; no other
        peak may lie within it.
    background, rms : numpy.ndarray, optional
        Maps from `crclean.engine.background_mesh` (measured here if not given).

    Returns
    -------
    PSFShape or None
    """
    image = np.asarray(image, dtype=np.float32)
    if background is None or rms is None:
        background, rms = background_mesh(image)
    z = (image - background) / rms
    peaks = _candidate_peaks(z, image, min_peak=min_peak, radius=radius)
    moments = []
    for y, x in peaks:
        stamp = z[y - radius:y + radius + 1, x - radius:x + radius + 1]
        measured = adaptive_moments(stamp)
        # Narrower than a pixel (sigma under 0.2 px): a lone hot or cosmic-ray pixel, not a star; more
        # elongated than any PSF (axis ratio under 0.3): noise peaks along a hot column, a track.
        if measured is not None and measured[0] + measured[1] > 2 * _SHARPEST and _plausible(measured):
            moments.append(measured)
            if len(moments) == max_stars:
                break
    if len(moments) < min_stars:
        return None
    shape = _combine(np.array(moments))
    return shape if shape.n_stars >= min_stars else None


#: Peaks looked at, brightest first, before giving up: a dense space frame has tens of thousands of hits.
_MAX_PEAKS_TRIED = 20000


def _candidate_peaks(z, image, *, min_peak, radius):
    """Yield (row, column) of isolated, unsaturated local maxima above ``min_peak``, brightest first."""
    ny, nx = z.shape
    if ny <= 2 * radius + 2 or nx <= 2 * radius + 2:
        return
    core = z[1:-1, 1:-1]
    is_peak = core > min_peak
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                is_peak &= core > z[1 + dy:ny - 1 + dy, 1 + dx:nx - 1 + dx]
    rows, cols = np.nonzero(is_peak)
    rows, cols = rows + 1, cols + 1
    inside = (rows >= radius) & (rows < ny - radius) & (cols >= radius) & (cols < nx - radius)
    rows, cols = rows[inside], cols[inside]
    order = np.argsort(-z[rows, cols])[:_MAX_PEAKS_TRIED]
    top = image.max()
    for y, x in zip(rows[order], cols[order]):
        window = np.s_[y - radius:y + radius + 1, x - radius:x + radius + 1]
        # The frame's top level is where saturated stars and bleeds sit (full well or ADC limit).
        if (image[window] >= top).any():
            continue
        # A flat top (a saturated core whose pixels differ by the read noise, a bleed trail, a track of
        # even charge): a star's neighbouring pixels hold less than 98% of its peak for any FWHM up to 10 px.
        if np.count_nonzero(z[y - 1:y + 2, x - 1:x + 2] >= 0.98 * z[y, x]) > 1:
            continue
        # A lone hot or cosmic-ray pixel: a star, even one of FWHM 1 px, spills a tenth of its peak or more
        # into the four pixels beside it (on average); hot pixels can outnumber the bright stars.
        if z[[y - 1, y + 1, y, y], [x, x, x - 1, x + 1]].mean() < 0.1 * z[y, x]:
            continue
        if _lone_source(z[window], threshold=0.25 * min_peak):
            yield y, x


def _lone_source(stamp, *, threshold):
    """Whether ``stamp``'s light above ``threshold`` falls off from its centre in every direction.

    A pixel brighter than its neighbour one step nearer the centre (by more
    than the noise and 5% of the peak) belongs to something else: another
    star, a galaxy, a cosmic ray on the wing.
    """
    centre = stamp.shape[0] // 2
    offsets = np.arange(stamp.shape[0]) - centre
    dy, dx = np.meshgrid(offsets, offsets, indexing="ij")
    inner = stamp[centre + dy - np.sign(dy), centre + dx - np.sign(dx)]
    bump = (stamp > threshold) & (stamp > inner + 0.05 * stamp[centre, centre] + 3.0)
    return not bump.any()


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
    size = stamp.shape[0]
    offsets = np.arange(size, dtype=np.float64) - size // 2
    dy, dx = np.meshgrid(offsets, offsets, indexing="ij")
    light = np.asarray(stamp, dtype=np.float64)
    weight = np.eye(2)
    centre = np.zeros(2)
    for _ in range(iterations):
        inverse = np.linalg.inv(weight)
        ux, uy = dx - centre[0], dy - centre[1]
        r2 = inverse[0, 0] * ux * ux + 2.0 * inverse[0, 1] * ux * uy + inverse[1, 1] * uy * uy
        weighted = light * np.exp(-0.5 * r2)
        total = weighted.sum()
        if not total > 0:
            return None
        centre = np.array([(weighted * dx).sum(), (weighted * dy).sum()]) / total
        if np.abs(centre).max() > 2.0:
            return None  # wandered off the peak
        ux, uy = dx - centre[0], dy - centre[1]
        measured = np.array([[(weighted * ux * ux).sum(), (weighted * ux * uy).sum()],
                             [(weighted * ux * uy).sum(), (weighted * uy * uy).sum()]]) / total
        if not np.linalg.det(measured) > 1e-9:
            return None
        own_inverse = np.linalg.inv(measured) - inverse
        if not (np.linalg.det(own_inverse) > 0 and np.trace(own_inverse) > 0):
            return None  # sharper than any Gaussian seen through this weight: not a star's light
        own = np.linalg.inv(own_inverse)
        if np.trace(own) > size * size:
            return None  # wider than the stamp
        values, vectors = np.linalg.eigh(own)
        following = (vectors * np.maximum(values, 0.25)) @ vectors.T
        done = np.abs(following - weight).max() < 1e-5 * np.trace(weight)
        weight = following
        if done:
            return float(own[0, 0]), float(own[1, 1]), float(own[0, 1])
    return None


def _axis_ratio(e):
    """Minor over major axis of an ellipse whose ellipticity ``(a^2 - b^2) / (a^2 + b^2)`` is ``e``."""
    e = min(float(e), 0.99)
    return float(np.sqrt((1.0 - e) / (1.0 + e)))


def _plausible(moments):
    """Whether second moments are no more elongated than a PSF gets (axis ratio at least `_LEAST_AXIS_RATIO`)."""
    return _axis_ratio(np.hypot(*ellipticity(*moments))) >= _LEAST_AXIS_RATIO


def ellipticity(mxx, myy, mxy):
    """``(e1, e2)`` of second moments: ``((Mxx - Myy), 2 Mxy) / (Mxx + Myy)``; x is the column axis."""
    return (mxx - myy) / (mxx + myy), 2.0 * mxy / (mxx + myy)


def _shrunk(e1, e2):
    """The median ``(e1, e2)`` of the stars, shrunk towards round by its uncertainty.

    A few stars, or an undersampled PSF (whose measured shape changes with
    where a star falls on the pixel grid), or cosmic rays and compact galaxies
    taken for stars, scatter in ellipticity; the median of a handful of them
    can be stretched by chance. Positive-part James-Stein shrinkage by
    ``(3 sigma / |e|)^2``, sigma the median's standard error from the stars'
    spread, leaves a shape that every star shows as it is and takes one the
    stars do not agree on to round (what a network is told when the shape is
    unknown).
    """
    n = e1.size
    median = np.array([np.median(e1), np.median(e2)])
    # Standard error of a median: 1.2533 sigma / sqrt(n) for Gaussian scatter, sigma from the MAD.
    spread = 1.4826 * np.array([np.median(np.abs(e1 - median[0])), np.median(np.abs(e2 - median[1]))])
    error2 = float(np.mean((1.2533 * spread) ** 2)) / n
    size2 = float(median @ median)
    factor = max(0.0, 1.0 - 9.0 * error2 / size2) if size2 > 0 else 0.0
    return median * factor


def _combine(moments):
    """The median shape of the stars among the measured peaks: the tightest group in size.

    Every star of a frame has the PSF's size; cosmic rays, hot pixels and
    galaxies scatter over sizes. So the stars are the largest group of peaks
    within 15% of one another in size (the stellar locus of a size-magnitude
    diagram), ties going to the wider group (cosmic rays are sharper than
    stars); then peaks far from that group's median size are dropped. The
    shape is their median, shrunk towards round as far as they disagree (`_shrunk`).
    """
    mxx, myy, mxy = moments.T
    size = np.sqrt(np.maximum(mxx * myy - mxy * mxy, 1e-12))  # sigma^2 of the round equivalent
    e1, e2 = ellipticity(mxx, myy, mxy)
    log_size = np.log(size)
    neighbours = (np.abs(log_size[:, None] - log_size[None, :]) < np.log(1.15)).sum(axis=1)
    densest = max(range(size.size), key=lambda i: (neighbours[i], size[i]))
    keep = np.abs(log_size - log_size[densest]) < np.log(1.15)
    for _ in range(3):
        centre = np.median(size[keep])
        spread = 1.4826 * np.median(np.abs(size[keep] - centre)) + 0.02 * centre
        keep = np.abs(size - centre) <= 3.0 * spread
    sigma2, (e1, e2) = np.median(size[keep]), _shrunk(e1[keep], e2[keep])
    return PSFShape(fwhm=float(_GAUSSIAN_FWHM * np.sqrt(sigma2)), axis_ratio=_axis_ratio(np.hypot(e1, e2)),
                    angle=float(0.5 * np.arctan2(e2, e1) % np.pi), n_stars=int(keep.sum()))
