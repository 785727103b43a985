"""Per-event variations of simulated cosmic-ray hits, drawn on top of the physical model.

Each function draws nothing when its share is 0, so exposures made without it
keep their random streams (crclean's older training data stays reproducible).
"""

import numpy as np

__all__ = ["heavy_ion_boost", "move_onto_anchors", "sharpening", "hits_on_star_cores", "defect_anchors"]


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


def hits_on_star_cores(rng, stars, fraction, *, fwhm, max_sigma_px, bleeding=0.0):
    """Compact hits on the cores of a ``fraction`` of ``stars``, about as bright as each star's peak.

    Hits land uniformly on the sky, so on a star they are faint or bright
    against its peak pixel in any proportion; hits drawn with the usual charge
    are mostly faint against bright stars, and a network that only saw those
    learned to flag nothing on a star's core, missing even a lone pixel that
    doubles a well-sampled star's peak. Here the hit's brightest pixel is
    0.2-5 times the star's peak (log-uniform), within ~0.4 FWHM of its centre:
    half lone spots, half short bars of 1-6 px at any angle, each as sharp as
    a thin sensor's (0) to ``max_sigma_px`` of diffusion. A ``bleeding`` share
    carries an alpha particle's 3e5-2e6 e- instead, enough to saturate and
    bleed: a saturated run on a faint star is a cosmic ray, not the star's bleed.

    Parameters
    ----------
    rng : numpy.random.Generator
    stars : tuple of numpy.ndarray
        ``(x, y, peak)``: centres and peak-pixel charges (e-) of the stars to choose from.
    fraction : float
        Share of the stars hit. Draws nothing when 0.
    fwhm : float
        PSF FWHM in pixels.
    max_sigma_px : float
        Largest diffusion sigma in pixels.
    bleeding : float, optional
        Share of the hits that saturate and bleed. Draws nothing when 0.

    Returns
    -------
    tuple of numpy.ndarray
        ``(x, y, charge, sigma)`` packets for `crclean.training._cosmic_sim.render_charge`.
    """
    x, y, peak = (np.asarray(a, float) for a in stars)
    empty = (np.zeros(0),) * 4
    if fraction <= 0 or x.size == 0:
        return empty
    hit = rng.uniform(size=x.size) < fraction
    n = int(hit.sum())
    if n == 0:
        return empty
    ratio = np.exp(rng.uniform(np.log(0.2), np.log(5.0), n))
    x0 = x[hit] + rng.normal(0.0, 0.4 * fwhm, n)
    y0 = y[hit] + rng.normal(0.0, 0.4 * fwhm, n)
    sigma = rng.uniform(0.0, 1.0, n) * max_sigma_px
    length = np.where(rng.uniform(size=n) < 0.5, 0.0, rng.uniform(1.0, 6.0, n))
    angle = rng.uniform(0.0, np.pi, n)
    packets = []
    steps_per_hit = np.maximum((4 * length).astype(int), 1)
    for i, steps in enumerate(steps_per_hit):
        # The brightest pixel of a spot holds ~1 / (2 pi sigma^2) of its charge,
        # of a bar ~1 / (sqrt(2 pi) sigma) of its charge per pixel of length.
        t = np.linspace(-0.5, 0.5, steps) * length[i]
        spread = max(1.0, 2 * np.pi * sigma[i] ** 2) if steps == 1 else max(1.0, np.sqrt(2 * np.pi) * sigma[i])
        total = ratio[i] * peak[hit][i] * spread * max(length[i], 1.0)
        packets.append((x0[i] + t * np.cos(angle[i]), y0[i] + t * np.sin(angle[i]),
                        np.full(steps, total / steps), np.full(steps, sigma[i])))
    x, y, charge, sigma = (np.concatenate(a) for a in zip(*packets))
    if bleeding > 0:
        # Drawn last, so hits made without it keep their streams.
        event = np.repeat(np.arange(n), steps_per_hit)
        alpha = rng.uniform(size=n) < bleeding
        alpha_total = np.exp(rng.uniform(np.log(3e5), np.log(2e6), n))
        charge = np.where(alpha[event], alpha_total[event] / steps_per_hit[event], charge)
    return x, y, charge, sigma


def defect_anchors(bad_columns, saturated, spread=1.0):
    """Anchors (`move_onto_anchors`) on defects: ``(x, y, weights, spread)``, or None when there are none.

    Every pixel of ``bad_columns`` and of ``saturated`` (a saturated star's core and bleed trail) can be
    picked; each of the two kinds present takes an equal share, so that a long bad column does not leave
    the few saturated stars of an exposure without hits, nor the other way round.
    """
    kinds = [np.nonzero(mask) for mask in (bad_columns, saturated) if mask.any()]
    if not kinds:
        return None
    y = np.concatenate([k[0] for k in kinds]).astype(float)
    x = np.concatenate([k[1] for k in kinds]).astype(float)
    weights = np.concatenate([np.full(k[0].size, 1.0 / (k[0].size * len(kinds))) for k in kinds])
    return x, y, weights / weights.sum(), float(spread)
