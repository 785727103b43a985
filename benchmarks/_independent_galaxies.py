"""Galaxies that are not lenses, for the independent benchmark simulator.

Part of ``_independent_lenses.py`` (see its docstring): analytic profiles
written here, sharing no code with crclean's training simulator. Each builder
takes a numpy Generator and returns ``profile(dx, dy)`` (arcsec offsets from
the centre) with the extent (arcsec) a stamp must cover.

For colour tiles each profile also carries ``profile.parts(dx, dy)``, which
returns ``(components, transmission)``: a dict of named components (a ring
galaxy's ``disk``, ``ring``, ``clumps``, ``nucleus``; a spiral's ``bulge``,
``disk``, ``arms``; ...) that add up to the profile, and a dust transmission
to multiply them by (``None`` without dust). ``GALAXY_COLOURS`` draws an SED
for each component name; the numbers are documented in
``_independent_lenses.py``. Drawing a builder takes the same random draws as
before, and ``profile`` returns the same floats, so single-band tiles are
unchanged.

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


def _summed(parts):
    """``profile(dx, dy)``: the sum of ``parts(dx, dy)``'s components times its transmission; carries ``.parts``.

    The components are added in order, exactly as the single-band profiles
    always added them, so the single-band tiles stay bit for bit the same.
    """
    def profile(dx, dy):
        pieces, transmission = parts(dx, dy)
        image = sum(pieces.values())
        return image if transmission is None else image * transmission

    profile.parts = parts
    return profile


def _one_part(profile):
    """``profile`` with a ``.parts`` of one component, ``"galaxy"``, and no dust."""
    profile.parts = lambda dx, dy: ({"galaxy": profile(dx, dy)}, None)
    return profile


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

    def parts(dx, dy):
        along, across = _rotate(dx, dy, angle)
        across = across / q  # into the disk plane: the ring is circular there
        r = np.hypot(along, across)
        knots = sum(f * _unit(np.exp(-((along - radius * np.cos(a)) ** 2 + (across - radius * np.sin(a)) ** 2)
                                     / (2.0 * s ** 2))) for a, s, f in zip(clump_angle, clump_sigma, clump_flux))
        pieces = {"disk": w_disk * _unit(np.exp(-r / disk_scale)),
                  "ring": w_ring * _unit(np.exp(-0.5 * ((r - radius) / width) ** 2)),
                  "clumps": w_clumps * _unit(knots)}
        if w_nucleus:
            pieces["nucleus"] = w_nucleus * _unit(_sersic(dx, dy, r_nucleus, 2.5, 0.8 + 0.2 * q, angle))
        return pieces, None

    profile = _summed(parts)
    # What benchmarks/lens_rings.py sorts the flagged rings by; an attribute, so no draw changes.
    profile.truth = {"ring_radius": float(radius),
                     "nucleus_share": float(w_nucleus / (w_disk + w_ring + w_clumps + w_nucleus))}
    return profile, radius + 4.0 * width + 0.6


def _spiral_galaxy(rng):
    """Exponential disk modulated by two logarithmic-spiral arms, plus a Sersic bulge."""
    disk_scale = rng.uniform(0.5, 1.5)
    q, angle = rng.uniform(0.3, 1.0), rng.uniform(0.0, np.pi)
    pitch = np.radians(rng.uniform(10.0, 30.0)) * rng.choice([-1.0, 1.0])
    phase, arm_width, contrast = rng.uniform(0.0, np.pi), rng.uniform(0.25, 0.5), rng.uniform(0.5, 0.9)
    w_bulge, n_bulge, r_bulge = rng.uniform(0.05, 0.35), rng.uniform(1.5, 4.0), disk_scale * rng.uniform(0.15, 0.35)

    def envelope_and_arms(dx, dy):
        along, across = _rotate(dx, dy, angle)
        across = across / q
        r = np.hypot(along, across)
        arm_angle = np.log(np.maximum(r, 1e-3) / disk_scale) / np.tan(pitch) + phase
        offset = (np.arctan2(across, along) - arm_angle + np.pi / 2.0) % np.pi - np.pi / 2.0  # two arms, pi apart
        arms = np.exp(-0.5 * (offset / arm_width) ** 2)
        strength = contrast * (1.0 - np.exp(-(r / (0.7 * disk_scale)) ** 2))  # arms start outside the bulge
        return np.exp(-r / disk_scale), strength, arms

    def bulge(dx, dy):
        return w_bulge * _unit(_sersic(dx, dy, r_bulge, n_bulge, 0.8, angle))

    def profile(dx, dy):
        envelope, strength, arms = envelope_and_arms(dx, dy)
        disk = envelope * ((1.0 - strength) + 2.0 * strength * arms)
        return (1.0 - w_bulge) * _unit(disk) + bulge(dx, dy)

    def parts(dx, dy):
        # The disk split into its smooth part and the arms' excess, which take different colours.
        envelope, strength, arms = envelope_and_arms(dx, dy)
        smooth, armed = envelope * (1.0 - strength), envelope * (2.0 * strength * arms)
        scale = (1.0 - w_bulge) / (smooth.sum() + armed.sum())
        return {"bulge": bulge(dx, dy), "disk": smooth * scale, "arms": armed * scale}, None

    profile.parts = parts
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

    def parts(dx, dy):
        galaxy_1 = _unit(_sersic(dx + ox, dy + oy, **first))
        galaxy_2 = _unit(_sersic(dx - ox, dy - oy, **second))
        r = np.hypot(dx - cx, dy - cy)
        along = (sense * (np.arctan2(dy - cy, dx - cx) - (to_centre + np.pi))) % (2.0 * np.pi)
        fade = np.exp(-along / (0.6 * span)) * 0.5 * (1.0 - np.tanh((along - span) / (0.08 * span)))
        tail = np.exp(-0.5 * ((r - curvature_radius) / tail_width) ** 2) * fade
        return {"galaxy_1": galaxy_1, "galaxy_2": ratio * galaxy_2, "tail": w_tail * (1.0 + ratio) * _unit(tail)}, None

    return _summed(parts), 0.5 * separation + 2.0 * curvature_radius + 1.0


def _edge_on(rng):
    """Thin exponential-like disk (axis ratio 0.08-0.2) with a bulge and, in half, a dust lane."""
    r_eff, q, angle = rng.uniform(0.8, 3.0), rng.uniform(0.08, 0.2), rng.uniform(0.0, np.pi)
    n_disk, w_bulge, n_bulge = rng.uniform(0.8, 1.2), rng.uniform(0.0, 0.3), rng.uniform(2.0, 4.0)
    r_bulge, q_bulge = r_eff * rng.uniform(0.15, 0.3), rng.uniform(0.5, 0.9)
    lane_depth = rng.uniform(0.3, 0.8) if rng.random() < 0.5 else 0.0
    lane_width = r_eff * q * rng.uniform(0.15, 0.35)

    def parts(dx, dy):
        pieces = {"disk": (1.0 - w_bulge) * _unit(_sersic(dx, dy, r_eff, n_disk, q, angle)),
                  "bulge": w_bulge * _unit(_sersic(dx, dy, r_bulge, n_bulge, q_bulge, angle))}
        across = _rotate(dx, dy, angle)[1]
        return pieces, 1.0 - lane_depth * np.exp(-0.5 * (across / lane_width) ** 2)

    return _summed(parts), 4.0 * r_eff


def _elliptical(rng):
    """Bright early-type galaxy: Sersic n 3-5.5, no arcs."""
    r_eff, n = _log_uniform(rng, 0.6, 3.0), rng.uniform(3.0, 5.5)
    q, angle = rng.uniform(0.5, 1.0), rng.uniform(0.0, np.pi)
    return _one_part(lambda dx, dy: _sersic(dx, dy, r_eff, n, q, angle)), 6.0 * r_eff


def _field_galaxy(rng):
    """Sersic galaxy of random index, size and axis ratio."""
    r_eff, n = _log_uniform(rng, 0.15, 1.5), rng.uniform(0.5, 4.0)
    q, angle = rng.uniform(0.2, 1.0), rng.uniform(0.0, np.pi)
    return _one_part(lambda dx, dy: _sersic(dx, dy, r_eff, n, q, angle)), max(5.0 * r_eff, 1.5)


NEGATIVE_BUILDERS = {"ring": _ring_galaxy, "spiral": _spiral_galaxy, "merger": _merger, "edge_on": _edge_on}


# --- Colours ------------------------------------------------------------------------------------
# A spectral energy distribution (SED) here is four AB magnitudes, one per band of BANDS, relative to r
# (m_band - m_r); only differences between bands matter. The numbers and their sources are in the
# docstring of _independent_lenses.py.

BANDS = ("g", "r", "i", "z")
WAVELENGTHS = np.array([480.0, 640.0, 780.0, 920.0])  # nm, effective wavelengths of DECam-like g, r, i, z

# Passive (red-sequence) galaxies' observed g-r, r-i, i-z against redshift: the 4000 A break crosses
# g/r near z 0.4, r/i near z 0.7 and i/z near z 1, reddening one colour after the other.
_RED_SEQUENCE_Z = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
_RED_SEQUENCE = np.array([[0.95, 1.20, 1.45, 1.65, 1.80, 1.85, 1.90, 1.95, 2.00, 2.05],   # g-r
                          [0.40, 0.45, 0.50, 0.60, 0.80, 1.00, 1.15, 1.25, 1.30, 1.35],   # r-i
                          [0.27, 0.30, 0.33, 0.36, 0.40, 0.45, 0.50, 0.58, 0.68, 0.80]])  # i-z


def _sed(g_r, r_i, i_z):
    """The SED with these colours."""
    return np.array([g_r, 0.0, -r_i, -r_i - i_z])


def _red_sequence_sed(rng, z_low, z_high):
    """A passive galaxy at redshift uniform in ``[z_low, z_high]``, with 0.05 mag scatter per colour."""
    z = rng.uniform(z_low, z_high)
    colours = np.array([np.interp(z, _RED_SEQUENCE_Z, row) for row in _RED_SEQUENCE]) + rng.normal(0.0, 0.05, 3)
    return _sed(*colours)


def _nearby_sed(rng, g_r):
    """A galaxy at z < 0.3 with this g-r: r-i and i-z follow the galaxy locus, with 0.03 mag scatter."""
    return _sed(g_r, 0.05 + 0.4 * g_r + rng.normal(0.0, 0.03), 0.3 * g_r + rng.normal(0.0, 0.03))


def _star_forming_sed(z, beta, balmer_break):
    """A star-forming galaxy at redshift ``z``: power law ``f_lambda ~ lambda**beta``, a break, IGM absorption.

    ``beta`` is the ultraviolet slope (-2 is flat in f_nu: zero colours);
    bands whose rest-frame wavelength lies beyond 400 nm are brighter by
    ``balmer_break`` mag (the Balmer/4000 A break); above z 2.2 the Lyman
    alpha forest eats into g, up to 0.6 mag at z 3.
    """
    magnitudes = -2.5 * (beta + 2.0) * np.log10(WAVELENGTHS / WAVELENGTHS[1])
    magnitudes = magnitudes - balmer_break * (WAVELENGTHS / (1.0 + z) > 400.0)
    magnitudes[0] += 0.6 * np.clip((z - 2.2) / 0.8, 0.0, 1.0)
    return magnitudes - magnitudes[1]


def _ring_colours(rng):
    """Blue star-forming ring and clumps (very blue in 30%), redder disk and nucleus."""
    ring = rng.uniform(-0.05, 0.15) if rng.random() < 0.3 else rng.uniform(0.15, 0.5)
    return {"disk": _nearby_sed(rng, rng.uniform(0.5, 0.85)), "ring": _nearby_sed(rng, ring),
            "clumps": _nearby_sed(rng, ring - rng.uniform(0.0, 0.15)),
            "nucleus": _nearby_sed(rng, rng.uniform(0.65, 0.95))}


def _spiral_colours(rng):
    """Blue arms, an intermediate smooth disk, a red bulge."""
    return {"arms": _nearby_sed(rng, rng.uniform(0.15, 0.45)), "disk": _nearby_sed(rng, rng.uniform(0.45, 0.7)),
            "bulge": _nearby_sed(rng, rng.uniform(0.7, 0.95))}


def _merger_colours(rng):
    """Two galaxies of any type and a bluish tidal tail (star formation triggered in the tail)."""
    return {"galaxy_1": _nearby_sed(rng, rng.uniform(0.3, 0.95)), "galaxy_2": _nearby_sed(rng, rng.uniform(0.3, 0.95)),
            "tail": _nearby_sed(rng, rng.uniform(0.15, 0.6))}


def _edge_on_colours(rng):
    """Disk and bulge before dust; the dust lane reddens them through its transmission (see make_tile)."""
    return {"disk": _nearby_sed(rng, rng.uniform(0.5, 0.8)), "bulge": _nearby_sed(rng, rng.uniform(0.75, 0.95))}


def _elliptical_colours(rng):
    """Drawn exactly like the lens galaxies' colours, so colour alone cannot tell them apart."""
    return {"galaxy": _red_sequence_sed(rng, 0.3, 0.8)}


def _field_colours(rng):
    """Passive at z 0.1-1 (35%) or star-forming at z 0.1-2.5 (65%): the whole range of galaxy colours."""
    if rng.random() < 0.35:
        return {"galaxy": _red_sequence_sed(rng, 0.1, 1.0)}
    z, beta, balmer_break = rng.uniform(0.1, 2.5), rng.uniform(-2.3, 0.5), rng.uniform(0.05, 0.4)
    return {"galaxy": _star_forming_sed(z, beta, balmer_break)}


# One colour recipe per galaxy kind: rng -> {part name: SED}, the names of the builder's ``profile.parts``.
GALAXY_COLOURS = {"ring": _ring_colours, "spiral": _spiral_colours, "merger": _merger_colours,
                  "edge_on": _edge_on_colours, "elliptical": _elliptical_colours, "field": _field_colours}
