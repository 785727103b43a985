"""Score cutouts centred on candidate objects: one score per cutout.

A cutout of 64-128 pixels is mostly its central galaxy, so a background mesh
(`subtract_background`, 64-pixel boxes) reads the galaxy's light as sky and
its profile as noise, and the whole cutout reaches the network too faint.
Here the sky level and noise come from the cutout's border frame alone,
sigma-clipped with a median-absolute-deviation width (robust to the wings of
the central object and to neighbours reaching the border). The cutout,
normalised as in training, is centred in one model window whose margin is
filled with sky noise (drawn from a fixed seed, so a cutout always gets the
same score), and the detector runs on it in the finder's views. The
cutout's score is the best fused score of any box centred inside it,
whatever the cut, so cutouts can be ranked (AUROC) and a cut chosen later.

References
----------
Platt, J. C. 1999, "Probabilistic outputs for support vector machines" (the
score calibration the finder applies).
Solovyev, R., Wang, W. & Gabruseva, T. 2021, Image Vis. Comput. 107, 104117
(weighted boxes fusion of the views).
"""

import warnings
from dataclasses import dataclass

import numpy as np

from crclean.exceptions import InputError

__all__ = ["MAX_CUTOUT_WINDOWS", "MIN_CUTOUT_SIDE", "CutoutScore", "border_sky", "border_width", "score_cutouts"]

#: Smallest cutout side (pixels, at the model's scale) with enough border for a sky estimate.
MIN_CUTOUT_SIDE = 32

#: Largest cutout side, in model windows (at the model's scale); its central window is scored.
MAX_CUTOUT_WINDOWS = 2

#: Seed of the sky noise that fills the model window around a cutout.
PAD_SEED = 20261205

#: Detections weaker than this in every view count as no detection (score 0).
SCORE_FLOOR = 1e-3


@dataclass
class CutoutScore:
    """The best detection in one cutout.

    Attributes
    ----------
    score : float
        Calibrated score of the best box centred in the cutout; 0 without one.
    box : numpy.ndarray or None
        Its ``(x0, y0, x1, y1)`` pixel-edge box in the cutout's own pixels.
    sky_sigma : float
        The border's sky noise (first band), in the cutout's units.
    """

    score: float
    box: object
    sky_sigma: float


def border_width(shape):
    """Width in pixels of the border frame measured for the sky: an eighth of the short side, at least 4."""
    return max(4, min(shape[-2:]) // 8)


def border_sky(image, *, where="cutout"):
    """Sky level and noise from a cutout's border, sigma-clipped.

    Parameters
    ----------
    image : numpy.ndarray
        2-D pixels; NaN and inf are ignored.
    where : str, optional
        Names the cutout in errors.

    Returns
    -------
    subtracted : numpy.ndarray
        ``image - sky`` as float32, NaN where ``image`` was not finite.
    sigma : float
        Robust standard deviation (1.4826 x median absolute deviation) of
        the clipped border pixels.

    Raises
    ------
    InputError
        Fewer than 64 finite border pixels, or a border without noise.
    """
    from astropy.stats import sigma_clipped_stats

    data = np.asarray(image, dtype=np.float64)
    width = border_width(data.shape)
    frame = np.ones(data.shape, bool)
    frame[width:-width, width:-width] = False
    values = data[frame & np.isfinite(data)]
    if values.size < 64:
        raise InputError(f"{where}: only {values.size} finite pixels in its {width}-pixel border; the sky "
                         "cannot be measured (is the cutout mostly blank?)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        _, sky, sigma = sigma_clipped_stats(values, sigma=3.0, maxiters=10, stdfunc="mad_std")
    if not np.isfinite(sigma) or sigma <= 0:
        raise InputError(f"{where}: its border has no sky noise (constant pixels); crclean needs a cutout with "
                         "its noise, as observed")
    subtracted = data - sky
    subtracted[~np.isfinite(data)] = np.nan
    return subtracted.astype(np.float32), float(sigma)


def _prepare(finder, planes, scale, where):
    """One cutout ``(bands, ny, nx)`` -> what the window holds and how to map boxes back.

    Returns the normalised ``(bands, h, w)`` at the model's scale (at most
    one window), the input pixels per model pixel, the ``(y, x)`` model
    pixel where the kept part starts, and the first band's sky noise in the
    cutout's own pixels.
    """
    from crclean.lenses._finder import SCALE_TOLERANCE
    from crclean.lenses._normalise import normalise_image
    from crclean.lenses._resample import resample_to_scale

    spec = finder.spec
    fitted = [border_sky(plane, where=where) for plane in planes]
    work, sigmas = np.stack([band for band, _ in fitted]), [sigma for _, sigma in fitted]
    own_sigma, factor = sigmas[0], 1.0
    if abs(scale / spec.pixel_scale - 1) > SCALE_TOLERANCE:
        work, factor = resample_to_scale(work, scale, spec.pixel_scale)
        # Resampling averages pixels, so the noise is measured again on the new grid.
        sigmas = [border_sky(band, where=where)[1] for band in work]
    # A cutout a little larger than the window (e.g. 101 pixels at 0.263 arcsec) is scored on its centre.
    ny, nx = work.shape[-2:]
    y0, x0 = max(0, (ny - spec.tile_size) // 2), max(0, (nx - spec.tile_size) // 2)
    work = work[:, y0:y0 + spec.tile_size, x0:x0 + spec.tile_size]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        normalised = np.stack([normalise_image(band, sigma) for band, sigma in zip(work, sigmas)])
    return normalised, factor, (y0, x0), own_sigma


def _check_size(shape, scale, spec, where):
    """Refuse cutouts that are not 32 pixels to two windows a side at the model's scale, before any compute."""
    at_model = [int(round(n * scale / spec.pixel_scale)) for n in shape]
    largest = MAX_CUTOUT_WINDOWS * spec.tile_size
    if max(at_model) > largest or min(at_model) < MIN_CUTOUT_SIDE:
        at = f"{at_model[1]}x{at_model[0]} pixels at the model's {spec.pixel_scale} arcsec/pixel"
        fix = ("search larger images as tiles (without --cutouts-in)" if max(at_model) > largest else
               f"cut them at least {MIN_CUTOUT_SIDE * spec.pixel_scale:g} arcsec wide, so that their border holds sky")
        raise InputError(f"{where}: a cutout must be {MIN_CUTOUT_SIDE}-{largest} pixels a side at the model's scale, "
                         f"these are {at}; {fix}")


def _in_window(normalised, window, rng):
    """The cutout centred in a ``window``-pixel square of normalised sky noise, and its offset ``(y0, x0)``."""
    from crclean.lenses._normalise import normalise_image

    bands, ny, nx = normalised.shape
    # Noise of sigma 1 normalised like the cutout: what the margin of a larger image would hold.
    canvas = normalise_image(rng.normal(0.0, 1.0, (bands, window, window)), 1.0)
    y0, x0 = (window - ny) // 2, (window - nx) // 2
    canvas[:, y0:y0 + ny, x0:x0 + nx] = normalised
    return canvas, (y0, x0)


def score_cutouts(finder, cutouts, *, pixel_scale=None, where="cutout"):
    """Score each of a stack of cutouts with a loaded `LensFinder`.

    Parameters
    ----------
    finder : crclean.lenses.LensFinder
        Its model, views and device are used; its ``conf`` is not (every
        cutout gets its score).
    cutouts : numpy.ndarray
        ``(n, ny, nx)`` for a single-band model, ``(n, bands, ny, nx)`` for
        a multi-band one (bands in the model's order), each 32 pixels to two
        windows a side at the model's scale; one larger than a window is
        scored on its central window. Never modified.
    pixel_scale : float, optional
        Arcsec per pixel [default: the model's]; other scales are resampled.
    where : str, optional
        Names the stack in errors, as ``"{where} cutout {i}"``.

    Returns
    -------
    list of CutoutScore
        One per cutout, in order.

    Raises
    ------
    crclean.exceptions.InputError
        A cutout of the wrong shape, size, or without measurable sky.
    """
    import torch

    from crclean.lenses._views import VIEWS, fuse_views

    spec = finder.spec
    cutouts = np.asarray(cutouts)
    expected = 4 if spec.bands else 3
    if cutouts.ndim != expected or (spec.bands and cutouts.shape[1] != len(spec.bands)):
        layout = f"(n, {len(spec.bands)}, ny, nx)" if spec.bands else "(n, ny, nx)"
        raise InputError(f"{where}: lens model {spec.name!r} scores cutouts given as {layout}, got shape "
                         f"{cutouts.shape}")
    scale = spec.pixel_scale if pixel_scale is None else float(pixel_scale)
    _check_size(cutouts.shape[-2:], scale, spec, where)
    if finder.network is None or not hasattr(finder, "_torch_device"):
        finder.load()
    window = spec.tile_size
    results = []
    for start in range(0, len(cutouts), finder.batch_size):
        chunk = finder.without_cosmics(cutouts[start:start + finder.batch_size], where=f"{where} cutouts")
        prepared = [_prepare(finder, planes if spec.bands else planes[None], scale, f"{where} cutout {start + i}")
                    for i, planes in enumerate(chunk)]
        placed = [_in_window(normalised, window, np.random.default_rng(PAD_SEED)) for normalised, _, _, _ in prepared]
        batch = np.stack([canvas if spec.bands else canvas[0] for canvas, _ in placed])
        with torch.no_grad():
            per_view = [finder._window_detections(batch, view, window, floor=SCORE_FLOOR)
                        for view in VIEWS[:finder.views]]
        for index, ((normalised, factor, crop, sigma), (_, (y0, x0))) in enumerate(zip(prepared, placed)):
            found = [view_found[index] for view_found in per_view]
            boxes, scores = fuse_views(found) if finder.views > 1 else found[0]
            ny, nx = normalised.shape[-2:]
            centre_x, centre_y = (boxes[:, 0] + boxes[:, 2]) / 2 - x0, (boxes[:, 1] + boxes[:, 3]) / 2 - y0
            inside = (centre_x >= 0) & (centre_x < nx) & (centre_y >= 0) & (centre_y < ny)
            if not inside.any():
                results.append(CutoutScore(0.0, None, sigma))
                continue
            best = np.flatnonzero(inside)[np.argmax(scores[inside])]
            # Window pixels -> model pixels of the whole cutout -> the cutout's own pixels.
            shift = np.array([x0 - crop[1], y0 - crop[0]] * 2)
            box = (boxes[best] - shift) * factor
            results.append(CutoutScore(float(scores[best]), box, sigma))
    return results
