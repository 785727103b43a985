"""Galaxies that are not lenses, for the independent benchmark simulator.

Part of ``_independent_lenses.py`` (see its docstring): analytic profiles
written here, sharing no code with crclean's training simulator. Each builder
takes a numpy Generator and returns ``profile(dx, dy)`` (arcsec offsets from
the centre) with the extent (arcsec) a stamp must cover.

References
----------
Sersic, J. L. 1963, Bol. Asoc. Argentina Astron. 6, 41.
"""

import numpy as np
from scipy.special import gamma as gamma_function, gammaincinv

NEGATIVE_KINDS = ("ring", "spiral", "merger", "edge_on")
NEGATIVE_WEIGHTS = (0.4, 0.2, 0.2, 0.2)  # rings look most like Einstein rings


def _log_uniform(rng, low, high, size=None):
    """Draws uniform in log between ``low`` and ``high``."""
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def _unit(image):
    """``image`` scaled to unit sum."""
    return image / image.sum()


def _rotate(dx, dy, angle):
    """Coordinates along and across an axis at ``angle`` (radians from +x)."""
    cos, sin = np.cos(angle), np.sin(angle)
    return dx * cos + dy * sin, -dx * sin + dy * cos


def _sersic(dx, dy, r_eff, n, q, angle):
    """Sersic (1963) surface brightness, 1 at the centre; ``r_eff`` along the major axis."""
    along, across = _rotate(dx, dy, angle)
    radius = np.sqrt(along ** 2 + (across / q) ** 2)
    return np.exp(-gammaincinv(2.0 * n, 0.5) * (radius / r_eff) ** (1.0 / n))


def _sersic_flux(r_eff, n, q):
    """Total flux of `_sersic` (its analytic integral)."""
    b = gammaincinv(2.0 * n, 0.5)
    return 2.0 * np.pi * q * n * r_eff ** 2 * gamma_function(2.0 * n) / b ** (2.0 * n)


def _ring_galaxy(rng, clumps=True):
    """Exponential disk, Gaussian annulus of radius 1-4 arcsec with 3-8 clumps, nucleus in 60%.

    ``clumps=False`` gives the clumps' light to the smooth annulus after the
    same draws, so the same generator state gives the same galaxy without
    its knots (``benchmarks/lens_rings.py``).
    """
    radius = rng.uniform(1.0, 4.0)
    width = radius * rng.uniform(0.06, 0.18)
    disk_scale = radius * rng.uniform(0.2, 0.5)
    q, angle = rng.uniform(0.5, 1.0), rng.uniform(0.0, np.pi)
    n_clumps = int(rng.integers(3, 9))
    clump_angle = rng.uniform(0.0, 2.0 * np.pi, n_clumps)
    clump_sigma = rng.uniform(0.1, 0.3, n_clumps)
    clump_flux = rng.uniform(0.3, 1.0, n_clumps)
    w_disk, w_ring, w_clumps = rng.uniform(0.1, 0.4), rng.uniform(0.3, 0.6), rng.uniform(0.1, 0.35)
    w_nucleus = rng.uniform(0.05, 0.3) if rng.random() < 0.6 else 0.0
    r_nucleus = rng.uniform(0.15, 0.4)
    if not clumps:
        w_ring, w_clumps = w_ring + w_clumps, 0.0

    def profile(dx, dy):
        along, across = _rotate(dx, dy, angle)
        across = across / q  # into the disk plane: the ring is circular there
        r = np.hypot(along, across)
        knots = sum(f * _unit(np.exp(-((along - radius * np.cos(a)) ** 2 + (across - radius * np.sin(a)) ** 2)
                                     / (2.0 * s ** 2))) for a, s, f in zip(clump_angle, clump_sigma, clump_flux))
        image = (w_disk * _unit(np.exp(-r / disk_scale)) + w_ring * _unit(np.exp(-0.5 * ((r - radius) / width) ** 2))
                 + w_clumps * _unit(knots))
        if w_nucleus:
            image = image + w_nucleus * _unit(_sersic(dx, dy, r_nucleus, 2.5, 0.8 + 0.2 * q, angle))
        return image

    return profile, radius + 4.0 * width + 0.6


def _spiral_galaxy(rng):
    """Exponential disk modulated by two logarithmic-spiral arms, plus a Sersic bulge."""
    disk_scale = rng.uniform(0.5, 1.5)
    q, angle = rng.uniform(0.3, 1.0), rng.uniform(0.0, np.pi)
    pitch = np.radians(rng.uniform(10.0, 30.0)) * rng.choice([-1.0, 1.0])
    phase, arm_width, contrast = rng.uniform(0.0, np.pi), rng.uniform(0.25, 0.5), rng.uniform(0.5, 0.9)
    w_bulge, n_bulge, r_bulge = rng.uniform(0.05, 0.35), rng.uniform(1.5, 4.0), disk_scale * rng.uniform(0.15, 0.35)

    def profile(dx, dy):
        along, across = _rotate(dx, dy, angle)
        across = across / q
        r = np.hypot(along, across)
        arm_angle = np.log(np.maximum(r, 1e-3) / disk_scale) / np.tan(pitch) + phase
        offset = (np.arctan2(across, along) - arm_angle + np.pi / 2.0) % np.pi - np.pi / 2.0  # two arms, pi apart
        arms = np.exp(-0.5 * (offset / arm_width) ** 2)
        strength = contrast * (1.0 - np.exp(-(r / (0.7 * disk_scale)) ** 2))  # arms start outside the bulge
        disk = np.exp(-r / disk_scale) * ((1.0 - strength) + 2.0 * strength * arms)
        return (1.0 - w_bulge) * _unit(disk) + w_bulge * _unit(_sersic(dx, dy, r_bulge, n_bulge, 0.8, angle))

    return profile, 5.0 * disk_scale


def _merger(rng):
    """Two overlapping Sersic galaxies and a curved tidal tail leaving the first."""
    separation, direction = rng.uniform(0.6, 2.5), rng.uniform(0.0, 2.0 * np.pi)
    first = dict(r_eff=rng.uniform(0.3, 1.2), n=rng.uniform(1.0, 4.0), q=rng.uniform(0.4, 1.0),
                 angle=rng.uniform(0.0, np.pi))
    second = dict(r_eff=rng.uniform(0.3, 1.2), n=rng.uniform(1.0, 4.0), q=rng.uniform(0.4, 1.0),
                  angle=rng.uniform(0.0, np.pi))
    ratio, w_tail = rng.uniform(0.3, 1.0), rng.uniform(0.1, 0.3)
    # The tail leaves the first galaxy along a circle that passes through it: curved like an arc,
    # but one-sided, fading outward, and attached to a galaxy that is not at its centre of curvature.
    curvature_radius = rng.uniform(1.5, 4.0)
    to_centre = rng.uniform(0.0, 2.0 * np.pi)
    span, tail_width = np.radians(rng.uniform(60.0, 160.0)), rng.uniform(0.15, 0.4)
    sense = rng.choice([-1.0, 1.0])
    ox, oy = 0.5 * separation * np.cos(direction), 0.5 * separation * np.sin(direction)
    cx, cy = -ox + curvature_radius * np.cos(to_centre), -oy + curvature_radius * np.sin(to_centre)

    def profile(dx, dy):
        galaxy_1 = _unit(_sersic(dx + ox, dy + oy, **first))
        galaxy_2 = _unit(_sersic(dx - ox, dy - oy, **second))
        r = np.hypot(dx - cx, dy - cy)
        along = (sense * (np.arctan2(dy - cy, dx - cx) - (to_centre + np.pi))) % (2.0 * np.pi)
        fade = np.exp(-along / (0.6 * span)) * 0.5 * (1.0 - np.tanh((along - span) / (0.08 * span)))
        tail = np.exp(-0.5 * ((r - curvature_radius) / tail_width) ** 2) * fade
        return galaxy_1 + ratio * galaxy_2 + w_tail * (1.0 + ratio) * _unit(tail)

    return profile, 0.5 * separation + 2.0 * curvature_radius + 1.0


def _edge_on(rng):
    """Thin exponential-like disk (axis ratio 0.08-0.2) with a bulge and, in half, a dust lane."""
    r_eff, q, angle = rng.uniform(0.8, 3.0), rng.uniform(0.08, 0.2), rng.uniform(0.0, np.pi)
    n_disk, w_bulge, n_bulge = rng.uniform(0.8, 1.2), rng.uniform(0.0, 0.3), rng.uniform(2.0, 4.0)
    r_bulge, q_bulge = r_eff * rng.uniform(0.15, 0.3), rng.uniform(0.5, 0.9)
    lane_depth = rng.uniform(0.3, 0.8) if rng.random() < 0.5 else 0.0
    lane_width = r_eff * q * rng.uniform(0.15, 0.35)

    def profile(dx, dy):
        image = ((1.0 - w_bulge) * _unit(_sersic(dx, dy, r_eff, n_disk, q, angle))
                 + w_bulge * _unit(_sersic(dx, dy, r_bulge, n_bulge, q_bulge, angle)))
        across = _rotate(dx, dy, angle)[1]
        return image * (1.0 - lane_depth * np.exp(-0.5 * (across / lane_width) ** 2))

    return profile, 4.0 * r_eff


def _elliptical(rng):
    """Bright early-type galaxy: Sersic n 3-5.5, no arcs."""
    r_eff, n = _log_uniform(rng, 0.6, 3.0), rng.uniform(3.0, 5.5)
    q, angle = rng.uniform(0.5, 1.0), rng.uniform(0.0, np.pi)
    return (lambda dx, dy: _sersic(dx, dy, r_eff, n, q, angle)), 6.0 * r_eff


def _field_galaxy(rng):
    """Sersic galaxy of random index, size and axis ratio."""
    r_eff, n = _log_uniform(rng, 0.15, 1.5), rng.uniform(0.5, 4.0)
    q, angle = rng.uniform(0.2, 1.0), rng.uniform(0.0, np.pi)
    return (lambda dx, dy: _sersic(dx, dy, r_eff, n, q, angle)), max(5.0 * r_eff, 1.5)


NEGATIVE_BUILDERS = {"ring": _ring_galaxy, "spiral": _spiral_galaxy, "merger": _merger, "edge_on": _edge_on}
