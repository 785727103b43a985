"""Take back the network's flags on stars that the frame's other stars explain.

A mask network judges a pixel from the few dozen pixels around it, and there
the core of a star with an unusual PSF (elongated by guiding, bent into a
crescent, with a spur) can look like a hit: crclean-ccd-v28 flags the cores
of whole frames of such stars (docs/benchmarks.md). What tells them apart is
global: every star of a frame has the frame's PSF, and a hit need not.

So each bright peak the network flagged is compared with its twins, the
unflagged stars of the same frame whose stamps look most like it. Each twin,
scaled to the peak, predicts it, and their median is the prediction. How far
such a prediction misses a star (its photon noise, the twins' own noise, where
the stars fall on the pixel grid) is measured on the frame's library stars
against their own twins, as a function of brightness, so that no gain need be
known. Where the peak is a star of that shape within that noise over its
whole footprint, the flagged blobs on it that the prediction explains are a
star's light, and are taken back. A hit on a star shows as an excess the
prediction does not explain, and stays flagged.

A star near the frame's edge is judged on the part of its stamp inside the
frame: its twins are chosen, scaled and compared there. Such stars matter: the
network sees past the edge a mirror image of the frame, where an elongated
star cut by the edge folds into a chevron, and it flags many of them whole.

The test needs stars wider than hits: where the frame's stars are
undersampled (a space telescope's), a compact hit and a star look alike to
it, and it takes nothing back. It takes back nothing of a flag that reaches
beyond a star's stamp, nor from frames with too few unflagged stars. numpy
only, so a mask run does not load scipy.

References
----------
Rhoads, J. E. 2000, PASP 112, 703 (cosmic rays told from stars by the PSF).
Bernstein, G. M. & Jarvis, M. 2002, AJ 123, 583 (adaptive moments, for the stars' width).
"""

import numpy as np

__all__ = ["explained_star_flags", "star_twin_flags"]

RADIUS = 4
"""Least half-width of a star's stamp in pixels (9 x 9), at which the frame's stars are measured."""

STAMP_FWHMS = 1.5
"""A star's stamp reaches this many FWHM from its peak: its core and inner wings, where a network's flags on
a star lie."""

MAX_RADIUS = 8
"""Most half-width of a star's stamp in pixels."""

PEAK_SIGMA = 20.0
"""A peak this bright over the sky (sky sigma) is judged; fainter ones are too noisy for a shape."""

TWINS = 7
"""Unflagged stars that predict each peak."""

LIBRARY = 400
"""The brightest unflagged peaks a frame's twins are drawn from."""

LEAST_FWHM = 2.7
"""Pixels: the frame's stars (median adaptive-moment FWHM of the library, pixel included) must be at least this
wide; a compact hit, 1-2 px across, then differs from a star in its wings."""

EDGE_GAP = 2
"""A peak on the frame's outermost this many rows or columns is not judged: it may be the cut flank of a star
whose peak lies outside the frame, which no twin centred on its own peak matches."""

SHARPEST = 3.4
"""Most a library star's peak may stand above each of its four neighbours: a Gaussian star of FWHM 1.5 px
(exp(4 ln 2 / 1.5^2)). Unflagged hot pixels and columns would otherwise fill the library of a raw frame
without a DQ."""

LEAST_AXIS_RATIO = 0.3
"""Peaks more elongated than this (minor over major axis) are lines, not stars, for the frame's FWHM."""

MISFIT = 2.5
"""Mean squared residual over a star's footprint (in its noise) above which the twins do not explain the peak."""

SPREAD = 0.15
"""Spread of the twins' predictions at the peak over the prediction above which they do not agree on it."""

EXPLAINED_SIGMA = 3.0
"""A flagged blob whose every pixel's excess over the prediction stays under this is a star's light."""

_CHI2_MEDIAN = 0.455
"""Median of a chi-square variable with one degree of freedom."""


def star_twin_flags(image, mask, *, saturation=None, defects=None, sky=None):
    """Flags of ``mask`` on stars of ``image`` that the frame's unflagged stars explain: to take back.

    Parameters
    ----------
    image : numpy.ndarray
        2-D, in any linear units; NaN for missing pixels.
    mask : numpy.ndarray of bool
        What the network flagged.
    saturation : float, optional
        Saturation level in the image's units (see `crclean.engine._sky_levels.sky_levels`).
    defects : numpy.ndarray of bool, optional
        Known bad pixels: no stamp that holds one is judged.
    sky : tuple of numpy.ndarray, optional
        ``(background, rms)`` the network was normalised with; measured again when None.

    Returns
    -------
    numpy.ndarray of bool
        A subset of ``mask``.
    """
    from crclean.engine._sky_levels import sky_levels

    z, untrusted, top_level = sky_levels(image, saturation=saturation, defects=defects, sky=sky)
    return explained_star_flags(z, mask, untrusted | top_level)


def explained_star_flags(z, mask, unusable):
    """`star_twin_flags` of an image already in sky sigma (`crclean.engine._sky_levels.sky_levels`).

    ``unusable`` holds the pixels no judged stamp may hold: missing, defective and saturated ones.
    """
    z, mask, unusable, outside, inside = _padded(z, mask, unusable)
    take_back = np.zeros(mask.shape, bool)
    candidates = _bright_peaks(z, margin=inside[0].start + EDGE_GAP)
    # The stars' width, from stamps of the smallest size; then stamps that hold a star's core and inner wings.
    fwhm = _frame_fwhm(z, mask, unusable, outside, candidates)
    if fwhm < LEAST_FWHM:
        return take_back[inside]
    radius = int(np.clip(np.ceil(STAMP_FWHMS * fwhm), RADIUS, MAX_RADIUS))
    peaks, stamps, flags, library, seen = _peaks_and_library(z, mask, unusable, outside, candidates, radius)
    if len(library) <= TWINS:
        return take_back[inside]
    # Judged: flagged peaks with a flagged blob that lies inside the stamp (seen one pixel wider, so that a blob
    # reaching the stamp's edge counts when it stops there).
    flagged = np.flatnonzero(flags.any(axis=(1, 2)))
    if flagged.size == 0:
        return take_back[inside]
    blobs = np.zeros(flags.shape, np.int64)
    wider = _stamps(mask, peaks[0][flagged], peaks[1][flagged], radius + 1)
    blobs[flagged] = _blobs_inside(wider)[:, 1:-1, 1:-1]
    judged = np.flatnonzero(blobs.any(axis=(1, 2)))
    if judged.size == 0:
        return take_back[inside]
    units = stamps / np.linalg.norm(stamps, axis=1, keepdims=True)
    noise = _noise_model(stamps, units, library)
    width = 2 * radius + 1
    for start in range(0, judged.size, 2048):
        chunk = judged[start:start + 2048]
        pulls, stars = _against_twins(stamps[chunk], units, library, noise, exclude=chunk, seen=seen[chunk])
        for i, pull, is_star in zip(chunk, pulls.reshape(-1, width, width), stars):
            if not is_star:
                continue
            for label in np.unique(blobs[i][blobs[i] > 0]):
                blob = blobs[i] == label
                if pull[blob].max() < EXPLAINED_SIGMA:
                    y0, x0 = peaks[0][i] - radius, peaks[1][i] - radius
                    take_back[y0:y0 + width, x0:x0 + width] |= blob
    return (take_back & mask)[inside]


def _padded(z, mask, unusable):
    """``z``, ``mask`` and ``unusable`` padded so that every stamp, and the flags one pixel beyond it, fits;
    ``outside``, the padding, which no comparison uses and no flag covers; and the slices of the frame."""
    pad = MAX_RADIUS + 2
    inside = (slice(pad, -pad), slice(pad, -pad))
    outside = np.ones((z.shape[0] + 2 * pad, z.shape[1] + 2 * pad), bool)
    outside[inside] = False
    return (np.pad(z, pad), np.pad(np.asarray(mask, bool), pad), np.pad(np.asarray(unusable, bool), pad), outside,
            inside)


def _bright_peaks(z, margin):
    """Rows and columns of the local maxima (5 x 5) above `PEAK_SIGMA`, ``margin`` px or more from the edges."""
    local_max = z >= _running_max(_running_max(z, 0), 1)
    bright = (z >= PEAK_SIGMA) & local_max
    bright[:margin] = bright[-margin:] = False
    bright[:, :margin] = bright[:, -margin:] = False
    return np.nonzero(bright)


def _peaks_and_library(z, mask, untrusted, outside, candidates, radius, *, sharpest=None):
    """The peaks whose stamp of ``radius`` can be trusted, their stamps (n, p), flags (n, w, w) and pixels
    inside the frame (n, p), and the library: the brightest `LIBRARY` of them with their whole stamp inside,
    no flag in it (a flagged peak may be a hit, and small hits are each other's twins) and no sharper than
    ``sharpest`` (default `SHARPEST`) allows."""
    sharpest = SHARPEST if sharpest is None else sharpest
    trusted = ~_stamps(untrusted, *candidates, radius).any(axis=(1, 2))
    peaks = candidates[0][trusted], candidates[1][trusted]
    stamps = _stamps(z, *peaks, radius).reshape(len(peaks[0]), (2 * radius + 1) ** 2).astype(np.float64)
    flags = _stamps(mask, *peaks, radius)
    # A peak far above any of its four neighbours is no star (a hot pixel or column, a compact hit) whatever
    # the PSF.
    rows, cols = peaks
    neighbours = np.minimum.reduce([z[rows - 1, cols], z[rows + 1, cols], z[rows, cols - 1], z[rows, cols + 1]])
    if np.isfinite(sharpest):
        star_like = z[peaks] <= sharpest * np.maximum(neighbours, 0.0)
    else:
        star_like = np.ones(len(rows), bool)
    seen = ~_stamps(outside, *peaks, radius).reshape(stamps.shape)
    usable = ~flags.any(axis=(1, 2)) & star_like & seen.all(axis=1)
    by_brightness = np.argsort(-z[peaks], kind="stable")
    return peaks, stamps, flags, by_brightness[usable[by_brightness]][:LIBRARY], seen


def _frame_fwhm(z, mask, untrusted, outside, candidates):
    """Median FWHM (pixels) of the frame's unflagged peaks, from the elliptical Gaussians matched to their
    9 x 9 stamps (geometric mean of the axes); 0 when the frame has too few.

    Sharp peaks count here (the test is to stay off frames whose stars are as compact as hits, and a cut on
    sharpness would keep only their widest stars); lines (axis ratio under 0.3: hot columns, trails) do not.
    """
    from crclean.engine._moments import adaptive_moments_of_stamps

    _, stamps, _, library, _ = _peaks_and_library(z, mask, untrusted, outside, candidates, RADIUS, sharpest=np.inf)
    if len(library) <= TWINS:
        return 0.0
    width = 2 * RADIUS + 1
    xx, yy, xy = adaptive_moments_of_stamps(stamps[library].reshape(-1, width, width)).T
    with np.errstate(invalid="ignore"):
        half_trace, root = (xx + yy) / 2.0, np.sqrt(((xx - yy) / 2.0) ** 2 + xy ** 2)
        round_enough = half_trace - root >= LEAST_AXIS_RATIO ** 2 * (half_trace + root)
        fwhm = 2.0 * np.sqrt(2.0 * np.log(2.0)) * (xx * yy - xy ** 2) ** 0.25
    fwhm = fwhm[np.isfinite(fwhm) & round_enough]
    return float(np.median(fwhm)) if fwhm.size else 0.0


def _blobs_inside(flags):
    """Labels (n, w, w) of each stamp's 8-connected flagged blobs that do not touch its outer ring; 0 elsewhere.

    A blob on the ring may reach beyond the stamp, where the twins cannot speak for it.
    """
    n, width = flags.shape[0], flags.shape[1]
    labels = np.where(flags, np.arange(1, width * width + 1).reshape(width, width), 0)
    for _ in range(width * width):
        padded = np.pad(labels, ((0, 0), (1, 1), (1, 1)))
        spread = labels.copy()
        for dy in range(3):
            for dx in range(3):
                np.maximum(spread, padded[:, dy:dy + width, dx:dx + width], out=spread)
        spread[~flags] = 0
        if np.array_equal(spread, labels):
            break
        labels = spread
    ring = np.ones((width, width), bool)
    ring[1:-1, 1:-1] = False
    on_ring = np.zeros((n, width * width + 1), bool)
    np.put_along_axis(on_ring, labels[:, ring], True, axis=1)
    return np.where(np.take_along_axis(on_ring, labels.reshape(n, -1), axis=1).reshape(labels.shape), 0, labels)


def _running_max(z, axis, half=2):
    """Maximum over ``2 * half + 1`` pixels along ``axis``."""
    out = z.copy()
    n = z.shape[axis]
    for shift in range(1, half + 1):
        ahead = [slice(None)] * 2
        behind = [slice(None)] * 2
        ahead[axis], behind[axis] = slice(shift, n), slice(0, n - shift)
        np.maximum(out[tuple(behind)], z[tuple(ahead)], out=out[tuple(behind)])
        np.maximum(out[tuple(ahead)], z[tuple(behind)], out=out[tuple(ahead)])
    return out


def _stamps(a, rows, cols, radius):
    dy, dx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    return a[rows[:, None, None] + dy, cols[:, None, None] + dx]


def _predict(stamps, twins, use):
    """Median and robust spread of the twins (n, k, p), each scaled to its stamp by least squares on ``use``."""
    scale = np.einsum("nkp,np->nk", twins, stamps * use) / np.maximum(
        np.einsum("nkp,nkp,np->nk", twins, twins, use.astype(np.float64)), 1e-12)
    predictions = [scale[:, k, None] * twins[:, k] for k in range(twins.shape[1])]
    prediction = _median(predictions)
    spread = 1.4826 * _median([np.abs(one - prediction) for one in predictions])
    return prediction, spread


def _median(planes):
    """Element-wise median of a few same-shaped arrays (an odd number of them).

    Sorted by odd-even transposition, pairs of whole arrays at a time: numpy's median over a short axis of a
    large array spends its time per row.
    """
    planes = list(planes)
    for round_ in range(len(planes)):
        for i in range(round_ % 2, len(planes) - 1, 2):
            planes[i], planes[i + 1] = np.minimum(planes[i], planes[i + 1]), np.maximum(planes[i], planes[i + 1])
    return planes[len(planes) // 2]


def _twins_of(stamps, units, library, exclude, seen=None):
    """(n, TWINS, p) unit stamps of the library stars most like each of ``stamps``, never the stamp itself.

    Likeness is the cosine over the pixels ``seen`` (n, p) of each stamp, default all.
    """
    if seen is None:
        similarity = (stamps / np.linalg.norm(stamps, axis=1, keepdims=True)) @ units[library].T
    else:
        visible = np.where(seen, stamps, 0.0)
        norms = np.linalg.norm(visible, axis=1, keepdims=True) * np.sqrt(seen @ (units[library] ** 2).T)
        similarity = (visible @ units[library].T) / np.maximum(norms, 1e-12)
    similarity[exclude[:, None] == library[None, :]] = -np.inf
    best = np.argsort(-similarity, axis=1, kind="stable")[:, :TWINS]
    return units[library][best]


def _against_twins(stamps, units, library, noise, exclude, seen):
    """Each stamp's excess over its twins' prediction (in its noise) on the pixels ``seen``, 0 elsewhere, and
    whether the twins explain it."""
    twins = _twins_of(stamps, units, library, exclude, seen)
    use = seen.copy()
    for _ in range(3):
        prediction, spread = _predict(stamps, twins, use)
        light = np.maximum(prediction, 0.0)
        pull = np.where(seen, (stamps - prediction) / np.sqrt(1.0 + noise[0] * light + (noise[1] * light) ** 2), 0.0)
        # The fit leaves out the three pixels most above the prediction: a hit on the star, if any.
        use = seen.copy()
        np.put_along_axis(use, np.argsort(-pull, axis=1)[:, :3], False, axis=1)
    # Judged over the footprint, where the twins predict light: the sky around would dilute a misfit.
    footprint = use & (prediction > 2.0)
    misfit = np.sum(np.where(footprint, pull ** 2, 0.0), axis=1) / np.maximum(footprint.sum(axis=1), 1)
    centre = stamps.shape[1] // 2
    agree = spread[:, centre] <= SPREAD * np.maximum(prediction[:, centre], 1e-9)
    return pull, (misfit <= MISFIT) & agree & (footprint.sum(axis=1) >= 5)


def _noise_model(stamps, units, library):
    """``(shot, mismatch)``: a star's pixel differs from its twins' prediction P (sky sigma) with variance
    ``1 + shot * P + (mismatch * P) ** 2``, as the library stars show against their own twins.

    The shot term is the star's photon noise (the gain in the image's units need not be known); the mismatch
    term is how far twins at other sub-pixel positions, and with their own noise, miss a star's shape.
    Fitted to the median squared residual (over that of a chi-square variable with one degree of freedom) in
    bins of P.
    """
    twins = _twins_of(stamps[library], units, library, library)
    prediction, _ = _predict(stamps[library], twins, np.ones(stamps[library].shape, bool))
    residual = (stamps[library] - prediction).ravel()
    prediction = prediction.ravel()
    edges = np.geomspace(2.0, max(float(prediction.max()), 4.0), 12)
    levels, variances, counts = [], [], []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (prediction >= low) & (prediction < high)
        if np.count_nonzero(inside) >= 20:
            levels.append(np.median(prediction[inside]))
            variances.append(np.median(residual[inside] ** 2) / _CHI2_MEDIAN - 1.0)
            counts.append(np.count_nonzero(inside))
    if len(levels) < 2:
        return 0.0, 0.0
    levels, variances, weights = np.array(levels), np.array(variances), np.sqrt(counts)
    # Least squares on the variance over P^2, so that faint and bright bins weigh alike; each term alone
    # where the pair would need a negative one.
    terms = np.stack([1.0 / levels, np.ones_like(levels)], axis=1) * weights[:, None]
    target = variances / levels ** 2 * weights
    shot, mismatch_squared = np.linalg.lstsq(terms, target, rcond=None)[0]
    if shot < 0 or mismatch_squared < 0:
        fits = [max(float(np.dot(terms[:, k], target) / np.dot(terms[:, k], terms[:, k])), 0.0) for k in (0, 1)]
        misfits = [np.sum((target - fits[k] * terms[:, k]) ** 2) for k in (0, 1)]
        shot, mismatch_squared = (fits[0], 0.0) if misfits[0] <= misfits[1] else (0.0, fits[1])
    return float(shot), float(np.sqrt(mismatch_squared))
