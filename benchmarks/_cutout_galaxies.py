"""GalSim galaxies for the out-of-family cutout benchmark: lensed sources, lens light and look-alikes.

Every object is a list of parts, each a GalSim profile (unconvolved, flux a
share of the whole) with its own colour, so a blue star-forming ring keeps
its red nucleus. Structures GalSim has no profile for (rings, spiral arms,
tidal tails) are chains of small Gaussians laid along the curve, with
knot-to-knot brightness scatter, as star-forming regions are. Nothing here
comes from crclean or from the tile benchmark (``_independent_galaxies.py``,
numpy profiles); the shapes are drawn from broad ranges that the training
simulator does not use (polar rings, galaxy-star pairs, three-galaxy
blends, GalSim's inclined exponential disks).

Colours are ``(g - r, r - i)`` in magnitudes; `band_ratios` turns them into
fluxes relative to r.

References
----------
Rowe, B. et al. 2015, Astron. Comput. 10, 121 (GalSim).
Whitmore, B. C. et al. 1990, AJ 100, 1489 (polar-ring galaxies).
Appleton, P. N. & Struck-Marcell, C. 1996, Fund. Cosmic Phys. 16, 111 (ring galaxies).
Toomre, A. & Toomre, J. 1972, ApJ 178, 623 (tidal tails).
"""

import galsim
import numpy as np

__all__ = ["NON_LENS_BUILDERS", "any_colour", "band_ratios", "lens_light", "lensed_source", "star_colour"]


def band_ratios(colour, bands):
    """Flux in each band relative to r for a ``(g - r, r - i)`` colour."""
    g_r, r_i = colour
    magnitude = {"g": g_r, "r": 0.0, "i": -r_i}
    return np.array([10 ** (-0.4 * magnitude[band]) for band in bands])


def any_colour(rng):
    """A colour from the whole range galaxies and arcs span, red or blue, for lenses and sources of every colour."""
    return float(rng.uniform(-0.3, 1.7)), float(rng.uniform(-0.2, 0.8))


def _red(rng):
    g_r = rng.uniform(0.9, 1.6)
    return float(g_r), float(0.2 + 0.3 * (g_r - 0.9) + rng.uniform(0.0, 0.2))


def _blue(rng):
    g_r = rng.uniform(-0.1, 0.5)
    return float(g_r), float(rng.uniform(0.0, 0.3))


def star_colour(rng):
    """Stellar-locus colours, turn-off stars to M dwarfs."""
    g_r = rng.uniform(0.2, 1.5)
    return float(g_r), float(0.05 + 0.4 * g_r + (0.8 * (g_r - 1.2) if g_r > 1.2 else 0.0))


def _sersic(n, hlr, q, angle, flux=1.0):
    return galsim.Sersic(n=float(n), half_light_radius=float(hlr), flux=float(flux)).shear(
        q=float(q), beta=float(angle) * galsim.radians)


def _knot_chain(rng, xs, ys, sigma, flux):
    """Gaussians of width ``sigma`` at ``(xs, ys)``, with lognormal knot brightness, ``flux`` in all."""
    weights = rng.lognormal(0.0, 0.5, len(xs))
    weights *= flux / weights.sum()
    return galsim.Sum([galsim.Gaussian(sigma=float(sigma), flux=float(w)).shift(float(x), float(y))
                       for x, y, w in zip(xs, ys, weights)])


def _incline(xs, ys, q, angle):
    """Points of a face-on pattern seen with axis ratio ``q``, major axis at ``angle``."""
    ys = ys * q
    return np.cos(angle) * xs - np.sin(angle) * ys, np.sin(angle) * xs + np.cos(angle) * ys


def lensed_source(rng, *, compact=False):
    """An unlensed source: a Sersic body and, for most, star-forming knots; ``(profile, half-size arcsec)``."""
    hlr = rng.uniform(0.03, 0.08) if compact else rng.uniform(0.1, 0.6)
    body = _sersic(rng.uniform(0.5, 2.0), hlr, rng.uniform(0.4, 1.0), rng.uniform(0, np.pi))
    if compact or rng.random() < 0.4:
        return body, max(0.5, 8 * hlr)
    knots = galsim.RandomKnots(int(rng.integers(5, 25)), half_light_radius=float(1.5 * hlr), flux=1.0,
                               rng=galsim.BaseDeviate(int(rng.integers(2 ** 31))))
    knots = galsim.Convolve(knots, galsim.Gaussian(sigma=float(rng.uniform(0.02, 0.06))))
    share = rng.uniform(0.2, 0.6)
    return (1 - share) * body + share * knots, max(0.5, 8 * hlr)


def lens_light(rng, *, mass_angle, compact=False):
    """A lens galaxy's light, aligned with its mass to within 20 degrees."""
    hlr = rng.uniform(0.3, 0.8) if compact else rng.uniform(0.5, 1.8)
    angle = mass_angle + rng.normal(0.0, np.radians(10.0))
    return _sersic(rng.uniform(2.0, 5.0), hlr, rng.uniform(0.5, 1.0), angle)


def _elliptical(rng):
    return [(_sersic(rng.uniform(3.0, 5.5), rng.uniform(0.4, 2.0), rng.uniform(0.5, 1.0), rng.uniform(0, np.pi)),
             _red(rng))]


def _spiral(rng):
    """A two- or three-armed log spiral of knots on an exponential disk with a bulge."""
    scale, q, angle = rng.uniform(0.7, 2.0), rng.uniform(0.55, 1.0), rng.uniform(0, np.pi)
    pitch, arms = np.radians(rng.uniform(12, 30)), int(rng.choice([2, 2, 3]))
    phi = np.linspace(0, rng.uniform(3.5, 7.0), 40)
    radius = 0.3 * scale * np.exp(np.tan(pitch) * phi)
    keep = radius < 3.0 * scale
    xs = np.concatenate([radius[keep] * np.cos(phi[keep] + 2 * np.pi * k / arms) for k in range(arms)])
    ys = np.concatenate([radius[keep] * np.sin(phi[keep] + 2 * np.pi * k / arms) for k in range(arms)])
    xs, ys = _incline(xs, ys, q, angle)
    arm_share, bulge_share = rng.uniform(0.25, 0.5), rng.uniform(0.1, 0.35)
    disk = galsim.Exponential(scale_radius=float(scale), flux=float(1 - arm_share - bulge_share)).shear(
        q=float(q), beta=float(angle) * galsim.radians)
    return [(disk, (float(rng.uniform(0.45, 0.75)), 0.25)),
            (_sersic(rng.uniform(2, 4), rng.uniform(0.2, 0.5), rng.uniform(0.7, 1.0), angle, bulge_share), _red(rng)),
            (_knot_chain(rng, xs, ys, rng.uniform(0.1, 0.25), arm_share), _blue(rng))]


def _ring_points(rng, radius, q, angle, count):
    t = np.linspace(0, 2 * np.pi, count, endpoint=False) + rng.uniform(0, 2 * np.pi)
    xs, ys = radius * np.cos(t), radius * np.sin(t)
    return _incline(xs, ys, q, angle)


def _ring(rng):
    """A collisional ring galaxy: a knotty blue ring, offset from a redder nucleus, in a faint disk."""
    radius, q, angle = rng.uniform(0.8, 3.5), rng.uniform(0.6, 1.0), rng.uniform(0, np.pi)
    xs, ys = _ring_points(rng, radius, q, angle, int(40 + 20 * radius))
    ring_share, disk_share = rng.uniform(0.3, 0.7), rng.uniform(0.0, 0.25)
    nucleus = _sersic(rng.uniform(1, 4), rng.uniform(0.15, 0.5), rng.uniform(0.6, 1), angle,
                      1 - ring_share - disk_share).shift(*(rng.normal(0, 0.15 * radius, 2)))
    parts = [(nucleus, _red(rng)), (_knot_chain(rng, xs, ys, rng.uniform(0.08, 0.3), ring_share), _blue(rng))]
    if disk_share > 0:
        parts.append((galsim.Exponential(scale_radius=float(0.6 * radius), flux=float(disk_share)).shear(
            q=float(q), beta=float(angle) * galsim.radians), (0.6, 0.3)))
    return parts


def _polar_ring(rng):
    """An S0 host with a ring of gas and young stars nearly at right angles to its disk."""
    angle = rng.uniform(0, np.pi)
    host = _sersic(rng.uniform(2, 4), rng.uniform(0.5, 1.5), rng.uniform(0.25, 0.5), angle)
    ring_angle = angle + np.pi / 2 + rng.normal(0, np.radians(10))
    radius = rng.uniform(1.2, 3.0)
    xs, ys = _ring_points(rng, radius, rng.uniform(0.15, 0.45), ring_angle, int(40 + 20 * radius))
    share = rng.uniform(0.2, 0.5)
    return [(host * (1 - share), _red(rng)), (_knot_chain(rng, xs, ys, rng.uniform(0.1, 0.25), share), _blue(rng))]


def _tail(rng, x0, y0, direction, length):
    """A curved tidal tail leaving ``(x0, y0)``."""
    s = np.linspace(0.3, length, int(12 + 6 * length))
    bend = rng.uniform(-0.6, 0.6) / length
    heading = direction + bend * s
    return x0 + np.cumsum(np.cos(heading)) * (s[1] - s[0]), y0 + np.cumsum(np.sin(heading)) * (s[1] - s[0])


def _merger(rng):
    """Two galaxies 0.8-3 arcsec apart with one or two tidal tails."""
    separation, direction = rng.uniform(0.8, 3.0), rng.uniform(0, 2 * np.pi)
    offset = 0.5 * separation * np.array([np.cos(direction), np.sin(direction)])
    ratio, tail_share = rng.uniform(0.3, 1.0), rng.uniform(0.1, 0.3)
    first, second = (1 - tail_share) / (1 + ratio), (1 - tail_share) * ratio / (1 + ratio)
    parts = [(_sersic(rng.uniform(1, 4), rng.uniform(0.3, 1.0), rng.uniform(0.4, 1), rng.uniform(0, np.pi),
                      first).shift(*offset), (float(rng.uniform(0.3, 1.0)), 0.35)),
             (_sersic(rng.uniform(1, 4), rng.uniform(0.3, 1.0), rng.uniform(0.4, 1), rng.uniform(0, np.pi),
                      second).shift(*(-offset)), (float(rng.uniform(0.3, 1.0)), 0.35))]
    for k in range(int(rng.integers(1, 3))):
        start = offset if k == 0 else -offset
        xs, ys = _tail(rng, start[0], start[1], direction + (0 if k == 0 else np.pi) + rng.normal(0, 0.8),
                       rng.uniform(1.5, 4.0))
        parts.append((_knot_chain(rng, xs, ys, rng.uniform(0.15, 0.35), tail_share / (k + 1)), _blue(rng)))
    return parts


def _blend(rng):
    """Two or three unrelated galaxies of any colour overlapping in projection."""
    parts = []
    for _ in range(int(rng.integers(2, 4))):
        position = rng.uniform(0.4, 2.5) * np.array([np.cos(a := rng.uniform(0, 2 * np.pi)), np.sin(a)])
        profile = _sersic(rng.uniform(0.7, 4), rng.uniform(0.2, 1.0), rng.uniform(0.3, 1), rng.uniform(0, np.pi),
                          rng.uniform(0.3, 1.0))
        parts.append((profile.shift(*position), any_colour(rng)))
    return parts


def _edge_on(rng):
    """An inclined exponential disk (GalSim's, with a vertical scale height) and a small bulge."""
    angle = rng.uniform(0, np.pi)
    disk = galsim.InclinedExponential(float(rng.uniform(80, 89.5)) * galsim.degrees,
                                      half_light_radius=float(rng.uniform(0.8, 2.5)),
                                      scale_h_over_r=float(rng.uniform(0.05, 0.15)))
    disk = disk.rotate(float(angle) * galsim.radians)
    share = rng.uniform(0.05, 0.3)
    return [(disk * (1 - share), (float(rng.uniform(0.5, 0.9)), 0.35)),
            (_sersic(3, rng.uniform(0.2, 0.5), 0.8, angle, share), _red(rng))]


def _galaxy_star(rng):
    """A galaxy with one or two stars 0.8-3 arcsec away (a double-image look-alike)."""
    parts = _elliptical(rng) if rng.random() < 0.6 else _blend(rng)[:1]
    for _ in range(int(rng.integers(1, 3))):
        position = rng.uniform(0.8, 3.0) * np.array([np.cos(a := rng.uniform(0, 2 * np.pi)), np.sin(a)])
        parts.append((galsim.DeltaFunction(flux=float(rng.uniform(0.1, 1.5))).shift(*position), star_colour(rng)))
    return parts


#: Non-lens category -> builder returning ``[(profile, colour), ...]``.
NON_LENS_BUILDERS = {
    "elliptical": _elliptical, "spiral": _spiral, "ring": _ring, "polar_ring": _polar_ring, "merger": _merger,
    "blend": _blend, "edge_on": _edge_on, "galaxy_star": _galaxy_star,
}
