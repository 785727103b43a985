"""Centred candidate stamps for training the lens vetter (the second stage).

The detector proposes candidates centred, give or take a few pixels, on
whatever it found: mostly lenses, bright ellipticals, ring galaxies,
spirals, pairs, edge-on disks, field galaxies, stars and bleed trails. The
vetter is shown the same: a scene from `compose_scene` with one such object
near the middle of a stamp, neighbours around it, and the detector's input
scaling.
"""

import numpy as np

from crclean.lenses._normalise import normalise_image
from crclean.training.lenses._scene import compose_scene
from crclean.training.lenses._stamps import NEGATIVE_KINDS

__all__ = ["CENTRE_WEIGHTS", "vetting_stamp", "vetting_set"]

#: What sits in the middle of a negative stamp, and how often.
CENTRE_WEIGHTS = {"ring": 0.15, "spiral": 0.12, "pair": 0.12, "edge_on": 0.08, "elliptical": 0.2, "field": 0.2,
                  "star": 0.05, "sky": 0.08}


def _normalised(rng, scene):
    """The detector's input scaling with the runtime's leftover pedestal and sigma error (`sample_window`)."""
    n = scene.image.shape[0]
    yy, xx = np.mgrid[0:n, 0:n] / n - 0.5
    residual = rng.normal(0, 0.1) + rng.normal(0, 0.1) * xx + rng.normal(0, 0.1) * yy
    return normalise_image(scene.image + residual * scene.sigma, scene.sigma * rng.uniform(0.85, 1.15))


def vetting_stamp(rng, bank, *, size=64, canvas=128, jitter=5, positive=None, **scene_options):
    """One stamp with a lens (label 1) or something else (label 0) near its centre.

    Parameters
    ----------
    rng : numpy.random.Generator
    bank : StampBank
    size : int, optional
        Stamp side (pixels).
    canvas : int, optional
        Side of the scene the stamp is cut from, so neighbours and PSF wings reach in.
    jitter : int, optional
        The stamp centre is off the object's by up to this many pixels per axis.
    positive : bool, optional
        Lens or not; a fair coin when None.
    scene_options
        Passed to `compose_scene` (PSF, noise and brightness ranges).

    Returns
    -------
    stamp : numpy.ndarray
        ``(size, size)`` float32.
    label : int
    kind : str
        ``'lens'`` or what sits in the middle of a negative stamp.
    """
    positive = bool(rng.random() < 0.5) if positive is None else positive
    # Hard-negative kinds the bank lacks (a tiny bank) are not drawn.
    kinds = [k for k in CENTRE_WEIGHTS if k not in NEGATIVE_KINDS or k in set(bank.negative_kinds)]
    weights = np.array([CENTRE_WEIGHTS[k] for k in kinds])
    kind = "lens" if positive else kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
    low, high = size // 2 + jitter, canvas - size // 2 - jitter
    scene_options = {key: tuple(value) if isinstance(value, list) else value for key, value in scene_options.items()}
    while True:
        counts = {"n_lenses": int(kind == "lens"), "n_negatives": rng.poisson(0.5) + int(kind in NEGATIVE_KINDS),
                  "n_field": rng.poisson(4.0) + int(kind == "field"), "n_stars": rng.poisson(1.0) + int(kind == "star"),
                  "n_ellipticals": rng.poisson(0.5) + int(kind == "elliptical")}
        options = dict(scene_options)
        if kind in NEGATIVE_KINDS and counts["n_negatives"] == 1:
            options["negative_kinds"] = (kind,)
        scene = compose_scene(rng, bank, (canvas, canvas), **counts, **options)
        if kind == "lens":
            centres = [((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in scene.boxes]
        elif kind == "sky":
            centres = [tuple(rng.uniform(low, high, 2))]
        else:
            centres = [(o["x"], o["y"]) for o in scene.objects if o["kind"] == kind]
        centres = [(x, y) for x, y in centres if low <= x <= high and low <= y <= high]
        if centres:
            break
    x, y = centres[0]
    x0 = int(round(x + rng.integers(-jitter, jitter + 1))) - size // 2
    y0 = int(round(y + rng.integers(-jitter, jitter + 1))) - size // 2
    return _normalised(rng, scene)[y0:y0 + size, x0:x0 + size].copy(), int(kind == "lens"), kind


def vetting_set(seed, bank, n, *, size=64, progress=None, **scene_options):
    """``n`` stamps (half lenses) seeded by ``seed``: ``(stamps (n, size, size) float32, labels, kinds)``."""
    rng = np.random.default_rng(seed)
    stamps, labels, kinds = np.empty((n, size, size), np.float32), np.empty(n, np.int64), []
    for index in range(n):
        stamps[index], labels[index], kind = vetting_stamp(rng, bank, size=size, positive=index % 2 == 0,
                                                           **scene_options)
        kinds.append(kind)
        if progress is not None:
            progress(index + 1)
    return stamps, labels, np.array(kinds)
