"""The shape of an image's PSF, measured on its stars: size, elongation, direction and lopsidedness.

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

An aberrated or poorly focused PSF is lopsided: a star with a spur or a
second lump, which a network that knows only the PSF's ellipse takes for a
hit on the star (crclean-ccd-v24 and v25, trained with such stars, then
missed real hits beside stars). Its coma and trefoil, the spin-1 and spin-3
third moments of the star's light in coordinates whitened by its adaptive
second moments (Okura, Umetsu & Futamase 2007 define the same spin
components for lensing flexion), tell a network whether a frame's stars
have such structure.

References
----------
Bernstein, G. M. & Jarvis, M. 2002, AJ 123, 583 (adaptive moments).
Bertin, E. & Arnouts, S. 1996, A&AS 117, 393 (windowed moments in SExtractor).
Okura, Y., Umetsu, K. & Futamase, T. 2007, ApJ 660, 995 (spin-1 and spin-3 moments).
"""

import functools
import itertools
from dataclasses import dataclass

import numpy as np

from crclean.engine._background import background_mesh
from crclean.engine._moments import adaptive_moments, adaptive_moments_of_stamps, third_moments, third_moments_of_stamps

__all__ = ["PSFShape", "adaptive_moments", "ellipticity", "measure_psf_shape", "network_inputs",
           "shape_of_stars", "third_moments"]

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
    skew : tuple of float
        ``(coma1, coma2, trefoil1, trefoil2)``: the PSF's third moments (`third_moments`);
        zeros for a PSF as symmetric as a Gaussian.
    """

    fwhm: float
    axis_ratio: float
    angle: float
    n_stars: int
    skew: tuple = (0.0, 0.0, 0.0, 0.0)

    @property
    def ellipticity(self):
        """``(e1, e2)``: ``(a^2 - b^2) / (a^2 + b^2)`` of the axes, times ``cos 2 angle`` and ``sin 2 angle``."""
        q2 = self.axis_ratio**2
        e = (1.0 - q2) / (1.0 + q2)
        return e * np.cos(2.0 * self.angle), e * np.sin(2.0 * self.angle)


#: FWHM (px) told to a network as size 0: log(FWHM / this) is the size plane.
_TYPICAL_FWHM = 3.0


#: The third moments are told to a network times this: a lumpy PSF's are 0.05-0.2, and a first
#: convolution's weights, which move about the learning rate per step, would take tens of thousands
#: of steps to make so small an input count.
_SKEW_SCALE = 10.0


#: Stars narrower than this (measured FWHM, px) are told no third moments. A star a pixel or two wide has
#: third moments that say where it fell on the pixel grid, not what its PSF is; and where a frame's
#: sharpest group of peaks is its cosmic rays (a dense space exposure's stellar locus can be 0.6 px wide),
#: their lopsided shapes would tell the network that the stars are lumpy (crclean-ccd-v27, told a dense
#: space frame's hits' third moments, missed faint two-pixel hits there).
_LEAST_SKEW_FWHM = 1.5

#: The most any third moment is told (before `_SKEW_SCALE`): about the largest of training's lumpy PSFs.
_MOST_SKEW = 0.5


def network_inputs(shape, *, with_size=False, with_skew=False):
    """What a network told the PSF (``psf_inputs``; `crclean.models.UNet`) is told of ``shape``.

    ``(e1, e2)``, then with ``with_size`` ``(log(FWHM / 3 px), 1)``, then with
    ``with_skew`` the four of `PSFShape.skew`, each within +-0.5 and zero for
    stars narrower than 1.5 px, times 10; for an unknown shape (None)
    zeros: a round, symmetric PSF, of unknown size.
    """
    if shape is None:
        return (0.0,) * (2 + 2 * with_size + 4 * with_skew)
    e1, e2 = shape.ellipticity
    told = [float(e1), float(e2)]
    if with_size:
        told += [float(np.log(shape.fwhm / _TYPICAL_FWHM)), 1.0]
    if with_skew:
        skew = np.clip(shape.skew, -_MOST_SKEW, _MOST_SKEW) if shape.fwhm >= _LEAST_SKEW_FWHM else np.zeros(4)
        told += [float(_SKEW_SCALE * value) for value in skew]
    return tuple(told)


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
    moments, skews = [], []
    # Measured a batch at a time, brightest first, until max_stars are in hand.
    while len(moments) < max_stars:
        batch = list(itertools.islice(peaks, _BATCH))
        if not batch:
            break
        stamps = np.stack([z[y - radius:y + radius + 1, x - radius:x + radius + 1] for y, x in batch])
        measured_moments = adaptive_moments_of_stamps(stamps)
        # Narrower than a pixel (sigma under 0.2 px): a lone hot or cosmic-ray pixel, not a star; more
        # elongated than any PSF (axis ratio under 0.3): noise peaks along a hot column, a track.
        usable = [i for i, measured in enumerate(measured_moments)
                  if measured[0] + measured[1] > 2 * _SHARPEST and _plausible(measured)]  # False for NaN
        if usable:
            moments.extend(measured_moments[usable])
            skews.extend(third_moments_of_stamps(stamps[usable], measured_moments[usable]))
    moments, skews = np.array(moments[:max_stars]), np.array(skews[:max_stars])
    if len(moments) < min_stars:
        return None
    stars = _stellar_locus(moments)
    if np.count_nonzero(stars) < min_stars:
        return None
    return shape_of_stars(moments[stars], shrink=True, skews=skews[stars])


#: Stamps measured together (numpy's per-call overhead, not arithmetic, was most of the time one by one).
_BATCH = 64

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
    inner = stamp[_one_step_in(stamp.shape[0])]
    bump = (stamp > threshold) & (stamp > inner + 0.05 * stamp[centre, centre] + 3.0)
    return not bump.any()


@functools.lru_cache(maxsize=4)
def _one_step_in(size):
    """Index arrays taking each pixel of a ``size`` x ``size`` stamp to its neighbour one step nearer the centre."""
    offsets = np.arange(size) - size // 2
    dy, dx = np.meshgrid(offsets, offsets, indexing="ij")
    return size // 2 + dy - np.sign(dy), size // 2 + dx - np.sign(dx)


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


def _shrunk(*components):
    """The median of each of the stars' ``components`` (``e1, e2`` or the four third moments), the
    vector shrunk towards zero (round, symmetric) by its uncertainty.

    A few stars, or an undersampled PSF (whose measured shape changes with
    where a star falls on the pixel grid), or cosmic rays and compact galaxies
    taken for stars, scatter in ellipticity; the median of a handful of them
    can be stretched by chance. Positive-part James-Stein shrinkage by
    ``(3 sigma / |e|)^2``, sigma the median's standard error from the stars'
    spread, leaves a shape that every star shows as it is and takes one the
    stars do not agree on to round (what a network is told when the shape is
    unknown).
    """
    n = components[0].size
    median = np.array([np.median(values) for values in components])
    # Standard error of a median: 1.2533 sigma / sqrt(n) for Gaussian scatter, sigma from the MAD.
    spread = 1.4826 * np.array([np.median(np.abs(values - centre)) for values, centre in zip(components, median)])
    error2 = float(np.mean((1.2533 * spread) ** 2)) / n
    size2 = float(median @ median)
    factor = max(0.0, 1.0 - 9.0 * error2 / size2) if size2 > 0 else 0.0
    return median * factor


def _stellar_locus(moments):
    """Which of the measured peaks are the frame's stars: the tightest group in size.

    Every star of a frame has the PSF's size; cosmic rays, hot pixels and
    galaxies scatter over sizes. So the stars are the largest group of peaks
    within 15% of one another in size (the stellar locus of a size-magnitude
    diagram), ties going to the wider group (cosmic rays are sharper than
    stars); then peaks far from that group's median size are dropped. The
    shape is their median, shrunk towards round as far as they disagree (`_shrunk`).

    Returns
    -------
    numpy.ndarray
        bool, one per row of ``moments``.
    """
    size = _sizes(moments)
    log_size = np.log(size)
    neighbours = (np.abs(log_size[:, None] - log_size[None, :]) < np.log(1.15)).sum(axis=1)
    densest = max(range(size.size), key=lambda i: (neighbours[i], size[i]))
    keep = np.abs(log_size - log_size[densest]) < np.log(1.15)
    for _ in range(3):
        centre = np.median(size[keep])
        spread = 1.4826 * np.median(np.abs(size[keep] - centre)) + 0.02 * centre
        keep = np.abs(size - centre) <= 3.0 * spread
    return keep


def _sizes(moments):
    """sigma^2 of the round equivalent of each (Mxx, Myy, Mxy) row: the square root of the determinant."""
    mxx, myy, mxy = moments.T
    return np.sqrt(np.maximum(mxx * myy - mxy * mxy, 1e-12))


def shape_of_stars(moments, *, shrink=False, skews=None):
    """The median PSF of stars measured as (Mxx, Myy, Mxy) rows (`adaptive_moments`).

    ``skews``, rows of `third_moments` of the same stars, give its `PSFShape.skew`.
    With ``shrink`` the ellipticity and skew are shrunk towards round and
    symmetric as far as the stars disagree (`_shrunk`).
    """
    moments = np.asarray(moments, dtype=np.float64)
    e1, e2 = ellipticity(*moments.T)
    e1, e2 = _shrunk(e1, e2) if shrink else (np.median(e1), np.median(e2))
    skew = (0.0,) * 4
    if skews is not None:
        skews = np.asarray(skews, dtype=np.float64)
        skews = skews[np.isfinite(skews).all(axis=1)]
        if len(skews):
            skew = tuple(float(v) for v in (_shrunk(*skews.T) if shrink else np.median(skews, axis=0)))
    return PSFShape(fwhm=float(_GAUSSIAN_FWHM * np.sqrt(np.median(_sizes(moments)))),
                    axis_ratio=_axis_ratio(np.hypot(e1, e2)), angle=float(0.5 * np.arctan2(e2, e1) % np.pi),
                    n_stars=len(moments), skew=skew)
