"""Wider families of lens galaxies and lensed sources, for banks built with ``varied_lenses``.

The first banks drew every lens galaxy as one Sersic profile of index
2.5-5 and every source as one Sersic disk with round-ish clumps. A finder
trained on those alone may learn those two shapes instead of lensing, and
then miss lenses drawn by a simulator (or a sky) that makes them otherwise.
These families widen both:

- Lens light: about 40% of lens galaxies have a bulge and a disk of their
  own axis ratio, as S0 and spiral lenses do (spiral lenses: Treu et al.
  2011, the SWELLS sample), and another 15% a single low-index profile
  (n 1-2.5). The shares are a choice for variety, not a measured census.
- Sources: about 35% are irregular, several blobs of their own size and
  brightness scattered about a centre, as high-redshift star-forming
  galaxies are (Elmegreen et al. 2007, clump-clusters and chains); another
  15% are thin, elongated disks, which lens into long thin arcs.

Each new kind of lens needs its look-alike (v24 in docs/lens-experiments.md: lenses
widened alone made ring galaxies score as lenses), so `chance_alignment`
builds the unlensed counterpart from the same parts.

Everything here works on source-plane coordinates (``beta``) or image-plane
grids from `crclean.training.lenses._profiles.grid`; fluxes are relative.

References
----------
Elmegreen, D. M. et al. 2007, ApJ 658, 763.
Jacobs, C. et al. 2019, ApJS 243, 17.
Petrillo, C. E. et al. 2019, MNRAS 484, 3879.
Treu, T. et al. 2011, MNRAS 417, 1601.
"""

import numpy as np

from crclean.training.lenses._profiles import normalised, sersic

__all__ = ["draw_source_family", "source_light", "clumpy_source", "lens_light", "chance_alignment", "ellipticity"]

#: Shares of the source families (the rest draw the original single disk).
IRREGULAR_SHARE, ELONGATED_SHARE = 0.35, 0.15
#: Shares of the lens-light families (the rest draw the original single Sersic).
BULGE_DISK_SHARE, DISKY_SHARE = 0.40, 0.15


def draw_source_family(rng):
    """``'irregular'``, ``'elongated'`` or ``'disk'`` (the original family), by their shares."""
    draw = rng.random()
    if draw < IRREGULAR_SHARE:
        return "irregular"
    return "elongated" if draw < IRREGULAR_SHARE + ELONGATED_SHARE else "disk"


def ellipticity(rng, sigma):
    """lenstronomy's ``(e1, e2)``, each normal with width ``sigma`` and clipped to +-0.5."""
    e1, e2 = np.clip(rng.normal(0.0, sigma, 2), -0.5, 0.5)
    return float(e1), float(e2)


def _axis_ratio_to_e(q, phi):
    """lenstronomy's ``(e1, e2)`` for axis ratio ``q`` at position angle ``phi``."""
    e = (1.0 - q) / (1.0 + q)
    return e * np.cos(2 * phi), e * np.sin(2 * phi)


def source_light(rng, family, beta_x, beta_y, centre, r_source):
    """Unnormalised surface brightness of a source of ``family`` at source-plane positions.

    ``'irregular'``: 2-5 blobs (Sersic n 0.5-1.5, half-light radii 0.03-0.25
    arcsec), scattered with a spread of ``r_source`` about ``centre``, each
    with its own brightness and shape. ``'elongated'``: one thin disk of axis
    ratio 0.15-0.4 and radius ``r_source`` to twice that.
    """
    from lenstronomy.LightModel.Profiles.sersic import SersicElliptic

    profile = SersicElliptic()
    sx, sy = centre
    if family == "elongated":
        e1, e2 = _axis_ratio_to_e(rng.uniform(0.15, 0.4), rng.uniform(0, np.pi))
        return profile.function(beta_x, beta_y, amp=1.0, R_sersic=r_source * rng.uniform(1.0, 2.0),
                                n_sersic=rng.uniform(0.5, 1.5), e1=e1, e2=e2, center_x=sx, center_y=sy)
    if family != "irregular":
        raise ValueError(f"unknown source family {family!r}")
    light = np.zeros_like(beta_x)
    for _ in range(int(rng.integers(2, 6))):
        bx, by = rng.normal(0.0, r_source, 2)
        e1, e2 = _axis_ratio_to_e(rng.uniform(0.4, 1.0), rng.uniform(0, np.pi))
        radius = rng.uniform(0.03, 0.25)
        # Amplitude per unit area, so that a small blob is not brighter in total than a large one.
        light = light + profile.function(beta_x, beta_y, amp=rng.uniform(0.2, 1.0) * (0.1 / radius) ** 2,
                                         R_sersic=radius, n_sersic=rng.uniform(0.5, 1.5), e1=e1, e2=e2,
                                         center_x=sx + bx, center_y=sy + by)
    return light


def clumpy_source(rng, family, beta_x, beta_y, centre, r_source, *, smooth_fraction=0.0, clump_radii=(0.02, 0.07)):
    """A source of ``family`` with 0-5 star-forming clumps (none for a ``smooth_fraction`` of them), unnormalised.

    The ``'disk'`` family is one elliptical Sersic of n 0.7-2.5; clumps are
    exponential knots of radius ``clump_radii`` scattered about ``centre``
    by ``r_source``. Lensed sources and the unlensed background galaxies
    of `chance_alignment` are both drawn here, so they differ only in
    lensing.
    """
    from lenstronomy.LightModel.Profiles.sersic import Sersic, SersicElliptic

    sx, sy = centre
    if family == "disk":
        # Two ellipticity draws, one component from each: the first banks drew them so, and keeping
        # the order keeps every earlier bank's stamps.
        source = SersicElliptic().function(beta_x, beta_y, amp=1.0, R_sersic=r_source,
                                           n_sersic=rng.uniform(0.7, 2.5), e1=ellipticity(rng, 0.2)[0],
                                           e2=ellipticity(rng, 0.2)[1], center_x=sx, center_y=sy)
    else:
        source = source_light(rng, family, beta_x, beta_y, centre, r_source)
    n_clumps = rng.integers(0, 6)
    if smooth_fraction and rng.random() < smooth_fraction:
        n_clumps = 0
    for _ in range(n_clumps):
        cx, cy = rng.normal(0.0, r_source, 2)
        source = source + Sersic().function(beta_x, beta_y, amp=rng.uniform(0.5, 3.0),
                                            R_sersic=rng.uniform(*clump_radii), n_sersic=1.0,
                                            center_x=sx + cx, center_y=sy + cy)
    return source


def lens_light(rng, x, y, *, theta_e, q, phi, centre, varied):
    """A lens galaxy (unit flux) of half-light radius about ``theta_e``.

    Without ``varied``, and for the draws ``varied`` leaves to it, one
    Sersic profile of n 2.5-5 and half-light radius 0.4-1.2 theta_E (the
    first banks' lens galaxy, drawn as they drew it). With ``varied``,
    bulge plus disk: a bulge of n 3-5 and half-light radius 0.2-0.6
    theta_E, an exponential disk 1.5-4 times larger holding 20-60% of the
    light, with its own axis ratio (0.3-1, the disk seen at any
    inclination) and a position angle within 0.2 rad of the bulge's; or
    disky: one profile of n 1-2.5.
    """
    x0, y0 = centre
    draw = rng.random() if varied else 1.0
    if draw < BULGE_DISK_SHARE:
        r_bulge = theta_e * rng.uniform(0.2, 0.6)
        bulge = normalised(sersic(x, y, r_eff=r_bulge, n=rng.uniform(3.0, 5.0), q=q, phi=phi, x0=x0, y0=y0))
        disk = normalised(sersic(x, y, r_eff=r_bulge * rng.uniform(1.5, 4.0), n=1.0, q=rng.uniform(0.3, 1.0),
                                 phi=phi + rng.normal(0.0, 0.2), x0=x0, y0=y0))
        share = rng.uniform(0.2, 0.6)
        return (1.0 - share) * bulge + share * disk
    if draw < BULGE_DISK_SHARE + DISKY_SHARE:
        return normalised(sersic(x, y, r_eff=theta_e * rng.uniform(0.5, 1.5), n=rng.uniform(1.0, 2.5), q=q, phi=phi,
                                 x0=x0, y0=y0))
    return normalised(sersic(x, y, r_eff=theta_e * rng.uniform(0.4, 1.2), n=rng.uniform(2.5, 5.0), q=q, phi=phi,
                             x0=x0, y0=y0))


def chance_alignment(rng, x, y, *, varied, smooth_fraction=0.0):
    """A galaxy with one or two background galaxies beside it, not lensed (unit flux), and its young light.

    The commonest false lens in imaging searches is a chance alignment:
    blue star-forming galaxies projected near an early-type galaxy (Jacobs
    et al. 2019; Petrillo et al. 2019). Drawn here from the lenses' own
    parts, so that only lensing tells the two apart: a lens galaxy as
    `lens_light` (or the single Sersic) with a radius ``R`` drawn as theta_E
    is, and sources of the lenses' families placed 0.7-1.3 ``R`` away in
    the image plane itself, with no deflection: no tangential stretch, no
    counter-image, no shared curvature about the centre. Each source is
    1.5-3 times a lensed source's size, clumps included, as magnified
    images are, and is drawn by `clumpy_source` as the lensed sources are.
    """
    radius = rng.uniform(0.5, 3.0)
    q, phi = rng.uniform(0.6, 1.0), rng.uniform(0, np.pi)
    lens = lens_light(rng, x, y, theta_e=radius, q=q, phi=phi, centre=(0.0, 0.0), varied=varied)
    sources = np.zeros_like(lens)
    for _ in range(1 + int(rng.random() < 0.5)):
        angle, distance = rng.uniform(0, 2 * np.pi), radius * rng.uniform(0.7, 1.3)
        centre = (distance * np.cos(angle), distance * np.sin(angle))
        magnified = rng.uniform(1.5, 3.0)
        family = draw_source_family(rng) if varied else "disk"
        # The image plane itself, magnified as lensed images are, clumps included.
        light = clumpy_source(rng, family, x, y, centre, rng.uniform(0.08, 0.45) * magnified,
                              smooth_fraction=smooth_fraction, clump_radii=(0.02 * magnified, 0.07 * magnified))
        sources = sources + normalised(light) * rng.uniform(0.3, 1.0)
    sources = sources / sources.sum()
    lens_to_source = float(np.exp(rng.uniform(np.log(0.5), np.log(12.0))))
    image = lens * lens_to_source + sources
    total = float(image.sum())
    return image / total, sources / total
