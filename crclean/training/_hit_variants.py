"""Per-event variations of simulated cosmic-ray hits, drawn on top of the physical model.

Each function draws nothing when its share is 0, so exposures made without it
keep their random streams (crclean's older training data stays reproducible).
"""

import numpy as np

__all__ = ["heavy_ion_boost", "move_onto_anchors", "sharpening"]


#: Galactic cosmic-ray nuclei heavier than protons, by charge Z: helium, the
#: CNO group, Ne-Si and iron, weighted roughly by abundance times the chance
#: of being noticed (Simpson 1983, ARNPS 33, 323). Energy loss scales as Z^2.
_HEAVY_ION_Z = np.array([2, 6, 8, 10, 12, 14, 26])
_HEAVY_ION_P = np.array([0.55, 0.12, 0.12, 0.05, 0.05, 0.05, 0.06])


def heavy_ion_boost(rng, n, fraction):
    """Per-event charge factors: Z^2 for a ``fraction`` of events, 1 otherwise.

    Draws nothing when ``fraction`` is 0, so exposures without them keep their streams.
    """
    if fraction <= 0 or n == 0:
        return np.ones(n)
    heavy = rng.uniform(size=n) < fraction
    z = rng.choice(_HEAVY_ION_Z, n, p=_HEAVY_ION_P)
    return np.where(heavy, z.astype(float) ** 2, 1.0)


def sharpening(rng, n, fraction):
    """Per-event factors on the diffusion width: 0-0.2 for a ``fraction`` of events, 1 otherwise.

    Charge made where the drift field is strong, in thin fully depleted or
    back-illuminated sensors, hardly spreads: a bright hit is then a bar or a
    lone pixel with no wings. Draws nothing when ``fraction`` is 0.
    """
    if fraction <= 0 or n == 0:
        return np.ones(n)
    sharp = rng.uniform(size=n) < fraction
    return np.where(sharp, rng.uniform(0.0, 0.2, n), 1.0)


def move_onto_anchors(x0, y0, rng, anchors, fraction):
    """Start a ``fraction`` of events on anchors (sources), within ~1.5 px.

    ``anchors`` is ``(x, y)``: every source equally likely, jitter 1.5 px; or
    ``(x, y, weights, spread)``: sources drawn with probability ``weights``
    (summing to 1) and jittered by ``spread`` px, so that hits fall anywhere
    on a source's core and wings. Draws nothing when ``anchors`` is None, so
    exposures without anchors keep their random streams.
    """
    if anchors is None or fraction <= 0 or len(anchors[0]) == 0 or x0.size == 0:
        return x0, y0
    moved = rng.uniform(size=x0.size) < fraction
    if len(anchors) > 2:
        pick = rng.choice(len(anchors[0]), x0.size, p=anchors[2])
        jitter = rng.normal(0.0, anchors[3], (2, x0.size))
    else:
        pick = rng.integers(0, len(anchors[0]), x0.size)
        jitter = rng.normal(0.0, 1.5, (2, x0.size))
    x0 = np.where(moved, np.asarray(anchors[0])[pick] + jitter[0], x0)
    y0 = np.where(moved, np.asarray(anchors[1])[pick] + jitter[1], y0)
    return x0, y0
