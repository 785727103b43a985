"""More look-alike kinds for banks built with ``extra_negatives``: the galaxies lens finders take for lenses.

The first banks drew four kinds of look-alike (rings, spirals, close pairs
and edge-on disks). On lenses and look-alikes from a simulator crclean does
not train on (docs/lenses.md), the worst false positives were kinds those
four do not cover, and doubles scored like a galaxy with a star beside it.
Each kind here is drawn from what the literature says such galaxies look
like, on the supersampled grids of `crclean.training.lenses._profiles`:

- ``polar_ring``: an early-type host, flattened, with a ring of gas and
  young stars orbiting over its poles (Whitmore et al. 1990; Moiseev et al.
  2011), seen at any inclination, with the ring's dust dimming the host
  where it passes in front;
- ``open_spiral``: a late-type spiral with two or three loose arms of pitch
  30-55 degrees (Kennicutt 1981 measures up to about 40 for Sc-Sd; wider
  for flocculent and tidally disturbed arms), each a thin band that winds
  only 90-220 degrees, often knotted, about a small bulge: arcs around a
  galaxy;
- ``star_pair``: a galaxy with one or two stars 0.5-3 arcsec away, the
  commonest mimic of a doubly imaged quasar or compact source (e.g. the
  contaminants of Agnello et al. 2015); a second star is on the far side
  in half of them, as a double's counter-image would be;
- ``merger``: two nuclei with antennae-like tidal tails (Toomre & Toomre
  1972), or, in 40%, an elliptical with interleaved shells, thin concentric
  arcs on alternating sides (Malin & Carter 1983; Quinn 1984);
- ``blend``: two or three unrelated galaxies projected within 1.5 arcsec;
- ``dusty_edge_on``: an edge-on disk cut by its dust lane, so that it
  shows as two parallel streaks about a bulge (e.g. Kregel et al. 2002).

Each returns ``(image, young)`` on the stamp grid, unnormalised: young light
is the ring, arms, knots, tails and stars (coloured blue in multi-band
scenes); the rest is old. Stars are put among the young light because a
star beside a galaxy is only a look-alike where it is as blue as a lensed
image.

References
----------
Agnello, A. et al. 2015, MNRAS 448, 1446.
Kennicutt, R. C. 1981, AJ 86, 1847.
Kregel, M., van der Kruit, P. C. & de Grijs, R. 2002, MNRAS 334, 646.
Malin, D. F. & Carter, D. 1983, ApJ 274, 534.
Moiseev, A. V. et al. 2011, MNRAS 418, 244.
Quinn, P. J. 1984, ApJ 279, 596.
Toomre, A. & Toomre, J. 1972, ApJ 178, 623.
Whitmore, B. C. et al. 1990, AJ 100, 1489.
"""

import numpy as np

from crclean.training.lenses._profiles import SUPERSAMPLE, gaussian_ring, normalised, sersic

__all__ = ["EXTRA_NEGATIVE_KINDS", "extra_lookalike"]


def _rotated(x, y, phi):
    """Coordinates along (u) and across (v) position angle ``phi``."""
    return np.cos(phi) * x + np.sin(phi) * y, -np.sin(phi) * x + np.cos(phi) * y


def _point(x, y, px, py):
    """A unit point source at ``(px, py)`` arcsec: one supersampled pixel, so one stamp pixel after binning."""
    image = np.zeros_like(x)
    step = x[0, 1] - x[0, 0]
    col = int(np.clip(np.round((px - x[0, 0]) / step), 0, x.shape[1] - 1))
    row = int(np.clip(np.round((py - y[0, 0]) / step), 0, x.shape[0] - 1))
    image[row, col] = float(SUPERSAMPLE ** 2)
    return image


def _polar_ring(rng, x, y):
    phi = rng.uniform(0, np.pi)
    r_host = rng.uniform(0.4, 1.4)
    host = sersic(x, y, r_eff=r_host, n=rng.uniform(2.0, 4.5), q=rng.uniform(0.3, 0.65), phi=phi)
    # The ring orbits over the host's poles: its major axis near the host's minor axis.
    ring_phi = phi + np.pi / 2 + rng.normal(0.0, 0.2)
    # Rings reach 1-3 host radii (Whitmore et al. 1990); a thin ring keeps the surface brightness of an arc.
    radius, q_ring = rng.uniform(0.8, 2.0) * r_host + 0.4, rng.uniform(0.15, 0.7)
    ring = gaussian_ring(x, y, radius=radius, width=rng.uniform(0.06, 0.18), q=q_ring, phi=ring_phi)
    u, v = _rotated(x, y, ring_phi)
    angles = rng.uniform(0, 2 * np.pi, rng.integers(0, 7))
    for angle in angles:  # HII regions along the ring
        ku, kv = radius * np.cos(angle), radius * q_ring * np.sin(angle)
        ring = ring + rng.uniform(0.5, 2.0) * np.exp(-((u - ku) ** 2 + (v - kv) ** 2) / (2 * 0.08 ** 2))
    # Where the ring's near side crosses the host, its dust dims the host (in front: v > 0 here).
    near = np.where(v > 0, gaussian_ring(x, y, radius=radius, width=0.12, q=q_ring, phi=ring_phi), 0.0)
    host = host * (1.0 - rng.uniform(0.0, 0.6) * near)
    young = normalised(ring) * rng.uniform(0.25, 0.6)
    return young + normalised(host) * rng.uniform(0.4, 0.75), young


def _open_spiral(rng, x, y):
    phi, q = rng.uniform(0, np.pi), rng.uniform(0.4, 1.0)
    u, v = _rotated(x, y, phi)
    v = v / q
    radius, theta = np.hypot(u, v) + 1e-3, np.arctan2(v, u)
    pitch = np.tan(np.radians(rng.uniform(30.0, 55.0)))
    n_arms, start = int(rng.integers(2, 4)), rng.uniform(0.3, 0.9)
    arms = np.zeros_like(x)
    for arm in range(n_arms):
        # Log spiral r = start * exp((angle - angle0) * tan(pitch)), for 90-220 degrees of winding.
        angle0 = 2 * np.pi * arm / n_arms + rng.normal(0.0, 0.3)
        winding = (theta - angle0) % (2 * np.pi)
        on_arm = start * np.exp(winding * pitch)
        # 90-220 degrees of winding, but no further out than 1.5-4 arcsec: open arms grow fast with angle.
        extent = min(np.radians(rng.uniform(90.0, 220.0)), np.log(rng.uniform(1.5, 4.0) / start) / pitch)
        fade = np.exp(-0.5 * (winding / extent) ** 8)  # a soft end to the arm
        width = rng.uniform(0.06, 0.18)
        arms = arms + rng.uniform(0.5, 1.0) * fade * np.exp(-0.5 * ((radius - on_arm) / width) ** 2)
        for knot in rng.uniform(0.15, 0.9, rng.integers(0, 5)) * extent:  # knots along the arm
            kr, ka = start * np.exp(knot * pitch), angle0 + knot
            arms = arms + rng.uniform(0.5, 2.0) * np.exp(-((u - kr * np.cos(ka)) ** 2 + (v - kr * np.sin(ka)) ** 2)
                                                        / (2 * 0.08 ** 2))
    disk = np.exp(-radius / rng.uniform(0.4, 1.2))
    bulge = sersic(x, y, r_eff=rng.uniform(0.1, 0.4), n=rng.uniform(1.0, 4.0), q=q, phi=phi)
    young = normalised(arms) * rng.uniform(0.4, 0.8)
    return young + normalised(disk) * rng.uniform(0.0, 0.3) + normalised(bulge) * rng.uniform(0.05, 0.4), young


def _star_pair(rng, x, y):
    phi, q = rng.uniform(0, np.pi), rng.uniform(0.4, 1.0)
    galaxy = normalised(sersic(x, y, r_eff=rng.uniform(0.2, 1.0), n=rng.uniform(1.0, 4.5), q=q, phi=phi))
    angle, distance = rng.uniform(0, 2 * np.pi), rng.uniform(0.5, 3.0)
    stars = normalised(_point(x, y, distance * np.cos(angle), distance * np.sin(angle))) * rng.uniform(0.1, 2.0)
    if rng.random() < 0.5:  # a second star on the far side, as a double's counter-image would be
        angle2, distance2 = angle + np.pi + rng.normal(0.0, 0.4), rng.uniform(0.4, 1.0) * distance
        stars = stars + normalised(_point(x, y, distance2 * np.cos(angle2), distance2 * np.sin(angle2))) \
            * rng.uniform(0.05, 1.0)
    return galaxy + stars, stars


def _merger(rng, x, y):
    phi = rng.uniform(0, np.pi)
    if rng.random() < 0.4:  # a shell galaxy: interleaved shells on alternating sides
        host = normalised(sersic(x, y, r_eff=rng.uniform(0.4, 1.2), n=rng.uniform(3.0, 5.0), q=rng.uniform(0.6, 1.0),
                                 phi=phi))
        shells = np.zeros_like(x)
        u, _ = _rotated(x, y, phi)
        for index, shell_radius in enumerate(np.sort(rng.uniform(0.8, 4.0, rng.integers(2, 6)))):
            side = u > 0 if index % 2 == 0 else u < 0
            shells = shells + rng.uniform(0.5, 1.0) * gaussian_ring(x, y, radius=shell_radius, width=0.1) * side
        young = normalised(shells) * rng.uniform(0.05, 0.3)
        return host + young, young
    separation, angle = rng.uniform(0.5, 2.5), rng.uniform(0, 2 * np.pi)
    dx, dy = 0.5 * separation * np.cos(angle), 0.5 * separation * np.sin(angle)
    first = normalised(sersic(x, y, r_eff=rng.uniform(0.3, 0.9), n=rng.uniform(1.0, 4.0), q=rng.uniform(0.5, 1.0),
                              phi=phi, x0=dx, y0=dy))
    second = normalised(sersic(x, y, r_eff=rng.uniform(0.2, 0.7), n=rng.uniform(1.0, 4.0), q=rng.uniform(0.5, 1.0),
                               phi=rng.uniform(0, np.pi), x0=-dx, y0=-dy))
    tails = np.zeros_like(x)
    sense = rng.choice([-1.0, 1.0])
    for sign in (1.0, -1.0):  # two tails, flung out in opposite directions and curving the same way
        bend = rng.uniform(1.5, 4.0)
        centre_angle = angle + sense * np.pi / 2
        cx, cy = sign * dx + sign * bend * np.cos(centre_angle), sign * dy + sign * bend * np.sin(centre_angle)
        arc = gaussian_ring(x, y, radius=bend, width=rng.uniform(0.12, 0.35), x0=cx, y0=cy)
        tails = tails + arc * (np.hypot(x - sign * dx, y - sign * dy) < rng.uniform(1.5, 4.5)) * rng.uniform(0.3, 1.0)
    young = normalised(tails) * rng.uniform(0.1, 0.45) if tails.any() else np.zeros_like(first)
    return first + second * rng.uniform(0.3, 1.0) + young, young


def _blend(rng, x, y):
    image, young = 0.0, 0.0
    for index in range(int(rng.integers(2, 4))):
        offset = 0.0 if index == 0 else rng.uniform(0.3, 1.5)
        angle = rng.uniform(0, 2 * np.pi)
        disky = rng.random() < 0.5
        galaxy = normalised(sersic(x, y, r_eff=rng.uniform(0.15, 1.0), n=rng.uniform(0.7, 1.5) if disky else
                                   rng.uniform(2.0, 4.5), q=rng.uniform(0.2, 1.0), phi=rng.uniform(0, np.pi),
                                   x0=offset * np.cos(angle), y0=offset * np.sin(angle))) * rng.uniform(0.2, 1.0)
        image = image + galaxy
        young = young + galaxy * disky  # the disk galaxies of a blend are the blue ones
    return image, young * np.ones_like(image)


def _dusty_edge_on(rng, x, y):
    phi = rng.uniform(0, np.pi)
    length, thickness = rng.uniform(1.2, 3.5), rng.uniform(0.15, 0.35)
    u, v = _rotated(x, y, phi)
    disk = np.exp(-np.abs(u) / (length / 1.678)) / np.cosh(v / thickness) ** 2
    # The dust lane: an opaque midplane narrower than the disk, a little off centre (the disk's tilt).
    lane = np.exp(-0.5 * ((v - rng.normal(0.0, 0.3) * thickness) / (rng.uniform(0.4, 0.8) * thickness)) ** 2)
    disk = disk * (1.0 - rng.uniform(0.6, 0.95) * lane)
    bulge = sersic(x, y, r_eff=rng.uniform(0.2, 0.5), n=rng.uniform(1.0, 4.0), q=rng.uniform(0.5, 0.9), phi=phi)
    bulge = bulge * (1.0 - rng.uniform(0.3, 0.8) * lane)
    young = normalised(disk) * rng.uniform(0.6, 0.9)
    return young + normalised(bulge) * rng.uniform(0.1, 0.4), young


_BUILDERS = {"polar_ring": _polar_ring, "open_spiral": _open_spiral, "star_pair": _star_pair, "merger": _merger,
             "blend": _blend, "dusty_edge_on": _dusty_edge_on}

#: The kinds `extra_lookalike` draws, in the order banks take turns over them.
EXTRA_NEGATIVE_KINDS = tuple(_BUILDERS)


def extra_lookalike(rng, kind, x, y):
    """One look-alike of ``kind`` on the supersampled grid ``(x, y)`` (arcsec), unit flux, and its young light.

    Parameters
    ----------
    rng : numpy.random.Generator
    kind : str
        One of `EXTRA_NEGATIVE_KINDS`.
    x, y : numpy.ndarray
        A grid from `crclean.training.lenses._profiles.grid`.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The image on the stamp grid (float32, unit sum) and its young part in
        the same units, never above the image.
    """
    if kind not in _BUILDERS:
        raise ValueError(f"kind must be one of {EXTRA_NEGATIVE_KINDS}, got {kind!r}")
    image, young = _BUILDERS[kind](rng, x, y)
    total = float(np.sum(image))
    image = np.asarray(image, np.float32) / total
    return image, np.minimum(np.asarray(young, np.float32) / total, image)
