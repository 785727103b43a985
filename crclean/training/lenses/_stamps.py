"""Noise-free, unconvolved stamps: lenses (lenstronomy) and galaxies that are not.

Lenses: a singular isothermal ellipsoid with external shear (Kormann et al.
1994; lenstronomy's ``SIE`` + ``SHEAR``; or, in "wide" banks, a power-law
ellipsoid of varied slope), a Sersic lens galaxy, and a Sersic
source with star-forming clumps placed near the caustics, ray-traced with
lenstronomy (Birrer & Amara 2018). Einstein radii span 0.5-3 arcsec.

Hard negatives are what single-band lens searches confuse with arcs (e.g.
Jacobs et al. 2019; Petrillo et al. 2019): ring galaxies, spirals, mergers
and close pairs with tidal tails, and edge-on disks. Plain field galaxies and
stars fill the rest of the sky.

References
----------
Appleton, P. N. & Struck-Marcell, C. 1996, Fund. Cosmic Phys. 16, 111.
Birrer, S. & Amara, A. 2018, Phys. Dark Universe 22, 189 (lenstronomy).
Buta, R. & Combes, F. 1996, Fund. Cosmic Phys. 17, 95.
Elmegreen, D. M. & Elmegreen, B. G. 2006, ApJ 651, 676.
Jacobs, C. et al. 2019, ApJS 243, 17.
Koopmans, L. V. E. et al. 2009, ApJ 703, L51.
Kormann, R., Schneider, P. & Bartelmann, M. 1994, A&A 284, 285.
Metcalf, R. B. et al. 2019, A&A 625, A119.
Petrillo, C. E. et al. 2019, MNRAS 484, 3879.
Tessore, N. & Metcalf, R. B. 2015, A&A 580, A79.
"""

import numpy as np

from crclean.training.lenses._lens_families import (chance_alignment, clumpy_source, draw_source_family, ellipticity,
                                                     lens_light)
from crclean.training.lenses._lens_configurations import (MAX_TRIES, configuration_draws, count_images,
                                                            draw_configuration)
from crclean.training.lenses._lookalikes import EXTRA_NEGATIVE_KINDS, extra_lookalike
from crclean.training.lenses._profiles import gaussian_ring, grid, normalised, sersic

__all__ = ["lens_stamp", "negative_stamp", "field_galaxy_stamp", "NEGATIVE_KINDS", "ALIGNMENT"]

NEGATIVE_KINDS = ("ring", "spiral", "pair", "edge_on")
#: The unlensed counterpart of a lens (`chance_alignment`), a look-alike kind only banks built with
#: ``unlensed_negatives`` draw.
ALIGNMENT = "alignment"


def lens_stamp(rng, *, size, pixel_scale, theta_e_range=(0.5, 3.0), wide=False, smooth_fraction=0.0, varied=False,
               compact_fraction=0.0, multiple_image_fraction=0.0):
    """One strong lens.

    Parameters
    ----------
    rng : numpy.random.Generator
    size : int
        Stamp side in pixels.
    pixel_scale : float
        Arcsec per pixel.
    theta_e_range : (float, float), optional
        Einstein radii are drawn uniformly in this range (arcsec).
    wide : bool, optional
        Give the mass a power-law slope (lenstronomy's ``EPL``; Tessore &
        Metcalf 2015) drawn from 1.7-2.3, the spread measured in SLACS lenses
        (Koopmans et al. 2009), instead of the isothermal 2; the default keeps
        the draws of earlier versions.
    smooth_fraction : float, optional
        This share of the sources has no star-forming clumps. Clumps are
        then no cue for "lens": ring galaxies and spirals have knots too,
        and many sources in lens searches are smooth (Metcalf et al. 2019).
        0 keeps the draws of earlier versions.
    varied : bool, optional
        Draw sources and lens galaxies from wider families
        (`crclean.training.lenses._lens_families`): irregular multi-blob and
        thin elongated sources, bulge-plus-disk and disky lens galaxies.
        Off keeps the draws of earlier versions.
    compact_fraction, multiple_image_fraction : float, optional
        Shares of compact lenses (theta_E 0.4-1 arcsec) and of doubles and
        quads (a compact source placed, and redrawn, to be imaged two or four
        times), from `crclean.training.lenses._lens_configurations`. Both 0
        keep the draws of earlier versions.

    Returns
    -------
    dict
        ``lens`` and ``arcs`` (unit-flux images), ``theta_e`` (arcsec),
        ``arc_mask`` (bool: where the arcs are brighter than 8% of their
        peak after a 0.8 arcsec seeing), and the lens centre offset; with
        either fraction set, also ``configuration`` (``'extended'``,
        ``'compact'``, ``'double'`` or ``'quad'``) and ``n_images`` (bright
        images of the source's centre, `count_images`).
    """
    # The profile classes directly: single-plane ray shooting needs no cosmology, and
    # importing lenstronomy's LensModel/LightModel front ends costs seconds.
    from lenstronomy.LensModel.Profiles.epl import EPL
    from lenstronomy.LensModel.Profiles.shear import Shear
    from lenstronomy.LensModel.Profiles.sie import SIE
    from scipy.ndimage import gaussian_filter

    configured = bool(compact_fraction or multiple_image_fraction)
    if configured:  # one more draw first, only when asked, so earlier banks keep their stamps
        configuration = draw_configuration(rng, compact_fraction, multiple_image_fraction)
        theta_e, r_source, offsets = configuration_draws(rng, configuration, theta_e_range)
    else:
        theta_e = rng.uniform(*theta_e_range)
    e1, e2 = ellipticity(rng, 0.15)
    gamma1, gamma2 = np.clip(rng.normal(0.0, 0.05, 2), -0.15, 0.15)
    x0, y0 = rng.uniform(-0.5, 0.5, 2) * pixel_scale
    x, y = grid(size, pixel_scale)
    # Lens equation, one plane: beta = theta - alpha_SIE(theta) - alpha_shear(theta).
    if wide:
        mass_x, mass_y = EPL().derivatives(x.ravel(), y.ravel(), theta_e, rng.uniform(1.7, 2.3), e1, e2,
                                           center_x=x0, center_y=y0)
    else:
        mass_x, mass_y = SIE().derivatives(x.ravel(), y.ravel(), theta_e, e1, e2, center_x=x0, center_y=y0)
    shear_x, shear_y = Shear().derivatives(x.ravel(), y.ravel(), gamma1, gamma2, ra_0=x0, dec_0=y0)
    beta_x, beta_y = x.ravel() - mass_x - shear_x, y.ravel() - mass_y - shear_y

    # Source: a disk plus clumps, offset so that most sources are multiply imaged.
    if not configured:
        r_source, offsets = rng.uniform(0.08, 0.45), None
    wanted = {"double": 2, "quad": 4}.get(configuration) if configured else None
    for _ in range(MAX_TRIES if wanted else 1):
        if offsets is None:
            offset = theta_e * np.sqrt(rng.uniform(0.0, 0.12)) + rng.uniform(0.0, 0.1)
        else:
            offset = theta_e * rng.uniform(*offsets)
        angle = rng.uniform(0, 2 * np.pi)
        sx, sy = x0 + offset * np.cos(angle), y0 + offset * np.sin(angle)
        n_images = count_images(x, y, beta_x, beta_y, (sx, sy)) if configured else None
        if n_images == wanted:
            break
    family = draw_source_family(rng) if varied else "disk"
    # The compact sources of doubles and quads are smooth: a clump would be an image of its own.
    source = clumpy_source(rng, family, beta_x, beta_y, (sx, sy), r_source,
                           smooth_fraction=1.0 if wanted else smooth_fraction)
    arcs = normalised(source.reshape(x.shape))

    q_light = float(np.clip(1 - np.hypot(e1, e2) * rng.uniform(0.8, 2.0), 0.4, 1.0))
    phi_light = 0.5 * np.arctan2(e2, e1) + rng.normal(0.0, 0.2)
    lens = lens_light(rng, x, y, theta_e=theta_e, q=q_light, phi=phi_light, centre=(x0, y0), varied=varied)
    seen = gaussian_filter(arcs, 0.8 / 2.355 / pixel_scale)
    stamp = {"lens": lens, "arcs": arcs, "theta_e": float(theta_e), "arc_mask": seen > 0.08 * seen.max(),
             "centre": (x0 / pixel_scale, y0 / pixel_scale)}
    if configured:
        # Labelled by what the lens equation gave: a double or quad whose redraws all failed is what it is.
        label = {2: "double", 4: "quad"}.get(n_images, configuration) if wanted else configuration
        stamp.update(configuration=label, n_images=int(n_images))
    return stamp


def negative_stamp(rng, kind, *, size, pixel_scale, wide=False, early_type_rings=False, clumpy=False,
                   with_young=False, varied=False, smooth_fraction=0.0):
    """One galaxy that looks a little like a lens (unit flux).

    Parameters
    ----------
    kind : {'ring', 'spiral', 'pair', 'edge_on', 'alignment'} or one of `EXTRA_NEGATIVE_KINDS`
        The extra kinds (polar rings, open spirals, galaxy-star pairs,
        mergers, blends, dusty edge-on disks) are drawn by
        `crclean.training.lenses._lookalikes.extra_lookalike`.
        ``'alignment'``: a lens galaxy with background galaxies beside it,
        not lensed (`chance_alignment`); ``varied`` draws its galaxies from
        the lenses' wider families and ``smooth_fraction`` of its sources
        have no clumps.
    wide : bool, optional
        Draw rings and spirals from wider families (`_ring`,
        `_spiral`); the default keeps the draws, and so the benchmark
        tiles, of earlier versions.
    early_type_rings : bool, optional
        Make half of the rings early-type disk galaxies with a faint
        resonance ring (`_early_type_ring`); off keeps the earlier draws.
    clumpy : bool, optional
        Give the look-alikes star-forming knots of many sizes: half of the
        rings (a third, with ``early_type_rings``) are `_star_forming_ring`,
        and spirals get knots along their arms. Off keeps the earlier draws.
    with_young : bool, optional
        Also return the galaxy's young light, in the same units: rings,
        knots, spiral and edge-on disks and tidal tails; the rest (nuclei,
        bulges, smooth inner disks, the galaxies of a pair) is old. Multi-band
        scenes colour the two apart (`compose_scene`). The image and the
        random draws are the same either way.

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, numpy.ndarray)
        The image, and with ``with_young`` its young part.
    """
    known = NEGATIVE_KINDS + (ALIGNMENT,) + EXTRA_NEGATIVE_KINDS
    if kind not in known:
        raise ValueError(f"kind must be one of {known}, got {kind!r}")
    x, y = grid(size, pixel_scale)
    if kind in EXTRA_NEGATIVE_KINDS:
        image, young = extra_lookalike(rng, kind, x, y)
        return (image, young) if with_young else image
    if kind == ALIGNMENT:
        image, young = chance_alignment(rng, x, y, varied=varied, smooth_fraction=smooth_fraction)
        image, young = np.asarray(image, np.float32), np.asarray(young, np.float32)
        return (image, np.minimum(young, image)) if with_young else image
    q, phi = rng.uniform(0.5, 1.0), rng.uniform(0, np.pi)
    if kind == "ring":
        family = _ring_family(rng, early_type_rings, clumpy)
        if family == "early_type":
            image, young = _early_type_ring(rng, x, y, q, phi)
        elif family == "star_forming":
            image, young = _star_forming_ring(rng, x, y, q, phi)
        else:
            image, young = _ring(rng, x, y, q, phi, wide=wide)
    elif kind == "spiral":
        image, young = _spiral(rng, x, y, q, phi, wide=wide, clumpy=clumpy)
    elif kind == "pair":
        sep, a = rng.uniform(0.8, 3.0), rng.uniform(0, 2 * np.pi)
        first = sersic(x, y, r_eff=rng.uniform(0.3, 1.0), n=rng.uniform(1, 4), q=q, phi=phi)
        second = sersic(x, y, r_eff=rng.uniform(0.2, 0.8), n=rng.uniform(1, 4), q=rng.uniform(0.4, 1),
                        phi=rng.uniform(0, np.pi), x0=sep * np.cos(a), y0=sep * np.sin(a))
        image = normalised(first) + normalised(second) * rng.uniform(0.2, 1.0)
        young = np.zeros_like(image)
        if rng.random() < 0.5:  # a curved tidal tail
            bend = rng.uniform(1.5, 4.0)
            tail = gaussian_ring(x, y, radius=bend, width=rng.uniform(0.15, 0.4),
                                 x0=bend * np.cos(a + np.pi / 2), y0=bend * np.sin(a + np.pi / 2))
            tail *= np.hypot(x, y) < rng.uniform(2.0, 4.5)
            if tail.sum() > 0:
                young = normalised(tail) * rng.uniform(0.1, 0.5)
                image = image + young
        young = young / image.sum()
        image = image / image.sum()
    else:  # edge_on
        disk = sersic(x, y, r_eff=rng.uniform(0.8, 3.0), n=rng.uniform(0.7, 1.3), q=rng.uniform(0.08, 0.25), phi=phi)
        bulge = sersic(x, y, r_eff=rng.uniform(0.2, 0.5), n=rng.uniform(1, 4), q=0.7, phi=phi)
        young = normalised(disk) * rng.uniform(0.6, 0.95)
        image = young + normalised(bulge) * rng.uniform(0.05, 0.4)
    total = float(image.sum())
    image = np.asarray(image, np.float32) / total
    if not with_young:
        return image
    # Young light never exceeds the whole (float rounding aside), so old = image - young stays >= 0.
    return image, np.minimum(np.asarray(young, np.float32) / total, image)


def _ring_family(rng, early_type_rings, clumpy):
    """Which ring generator draws this ring; one uniform draw only when a choice exists."""
    if not (early_type_rings or clumpy):
        return "ring"
    draw = rng.random()
    if early_type_rings and clumpy:
        return "early_type" if draw < 1 / 3 else "star_forming" if draw < 2 / 3 else "ring"
    if draw < 0.5:
        return "early_type" if early_type_rings else "star_forming"
    return "ring"


def _knots(rng, x, y, centres, sigma_range):
    """Unit-flux Gaussian knots at ``centres`` (arcsec), each its own width and brightness."""
    knots = np.zeros_like(x)
    for kx, ky in centres:
        sigma = rng.uniform(*sigma_range)
        knots += rng.uniform(0.3, 1.0) * np.exp(-((x - kx) ** 2 + (y - ky) ** 2) / (2 * sigma ** 2)) / sigma ** 2
    return knots


def _on_ellipse(radius, angle, q, phi):
    """Points at ``angle`` on an ellipse of semi-major axis ``radius``, axis ratio ``q``, position angle ``phi``."""
    u, v = radius * np.cos(angle), radius * q * np.sin(angle)
    return np.cos(phi) * u - np.sin(phi) * v, np.sin(phi) * u + np.cos(phi) * v


def _star_forming_ring(rng, x, y, q, phi):
    """A late-type ring galaxy: a ring of star-forming knots around an inner disk.

    Collisional rings such as the Cartwheel and the outer rings of late-type
    spirals are lit by star formation: bright knots of many sizes strung
    along the ring (Appleton & Struck-Marcell 1996; Elmegreen & Elmegreen
    2006), often around a smooth inner disk and a small nucleus. Knotted arcs
    around a central light are what crclean's clumpy lensed sources look like,
    so these teach the finder that knots alone do not make a lens.
    """
    radius = rng.uniform(0.8, 4.0)
    ring = gaussian_ring(x, y, radius=radius, width=radius * rng.uniform(0.05, 0.2), q=q, phi=phi)
    ring = ring * (1.0 + rng.uniform(0, 0.8) * np.cos(np.arctan2(y, x) - rng.uniform(0, 2 * np.pi)))
    angles = rng.uniform(0, 2 * np.pi, rng.integers(2, 11))
    knots = _knots(rng, x, y, zip(*_on_ellipse(radius, angles, q, phi)), (0.05, 0.3))
    image = normalised(ring) * rng.uniform(0.3, 0.6) + normalised(knots) * rng.uniform(0.1, 0.4)
    young = image
    if rng.random() < 0.7:  # a smooth inner disk
        image = image + normalised(sersic(x, y, r_eff=radius * rng.uniform(0.25, 0.8), n=1.0, q=q, phi=phi)) \
            * rng.uniform(0.1, 0.4)
    if rng.random() < 0.6:  # a nucleus
        image = image + normalised(sersic(x, y, r_eff=rng.uniform(0.1, 0.5), n=rng.uniform(1.0, 4.0), q=q, phi=phi)) \
            * rng.uniform(0.03, 0.3)
    return image, young


def _ring(rng, x, y, q, phi, *, wide):
    """A ring galaxy: a ring with knots around a nucleus; ``wide`` widens the family.

    Collisional and resonance rings (Appleton & Struck-Marcell 1996; Buta &
    Combes 1996) can have a nucleus far fainter than the ring, a ring lit
    mostly on one side, or an inner ring too: the configurations a single-band
    lens finder most easily takes for an Einstein ring or an arc. ``wide``
    draws those; without it the draws are those of the first versions.
    """
    radius = rng.uniform(0.5 if wide else 0.8, 4.0)
    ring = gaussian_ring(x, y, radius=radius, width=rng.uniform(0.08 if wide else 0.1, 0.5) * radius ** 0.5,
                         q=q, phi=phi)
    ring = ring * (1.0 + rng.uniform(0, 1.0 if wide else 0.6) * np.cos(np.arctan2(y, x) - rng.uniform(0, 2 * np.pi)))
    if wide and rng.random() < 0.25:
        inner = rng.uniform(0.3, 0.6) * radius
        ring = ring + rng.uniform(0.2, 0.8) * gaussian_ring(x, y, radius=inner, width=0.1 + 0.1 * inner, q=q, phi=phi)
    for _ in range(rng.integers(0, 9 if wide else 6)):  # star-forming knots on the ring
        a = rng.uniform(0, 2 * np.pi)
        kx, ky = radius * np.cos(a), radius * q * np.sin(a)
        ring = ring + rng.uniform(0.5, 3.0 if wide else 2.0) * np.exp(-((x - kx) ** 2 + (y - ky) ** 2) / (2 * 0.1 ** 2))
    offset = 0.3 if wide else 0.2
    nucleus = sersic(x, y, r_eff=rng.uniform(0.1 if wide else 0.15, 0.8), n=rng.uniform(1.0, 4.0), q=q, phi=phi,
                     x0=rng.normal(0, offset), y0=rng.normal(0, offset))
    young = normalised(ring) * rng.uniform(0.3, 0.9 if wide else 0.8)
    return young + normalised(nucleus) * rng.uniform(0.03 if wide else 0.2, 0.7), young


def _early_type_ring(rng, x, y, q, phi):
    """An S0/Sa galaxy with a resonance ring: a dominant bulge, a faint disk, a smooth thin ring.

    Outer and inner rings of early-type disk galaxies sit near the disk's
    Lindblad resonances, typically 1.5-3 bulge sizes out, and hold a small
    share of the light (Buta & Combes 1996). A bright, round centre with a
    faint thin ring a few arcsec out is exactly what a lens galaxy with an
    Einstein ring looks like in one band, so these are the rings a lens
    finder must learn to leave alone.
    """
    r_bulge = rng.uniform(0.3, 1.0)
    bulge = sersic(x, y, r_eff=r_bulge, n=rng.uniform(2.5, 4.5), q=q, phi=phi)
    disk = sersic(x, y, r_eff=rng.uniform(1.0, 3.0), n=1.0, q=q, phi=phi)
    radius = max(rng.uniform(1.2, 3.5), 1.5 * r_bulge)
    ring = gaussian_ring(x, y, radius=radius, width=rng.uniform(0.1, 0.35), q=q * rng.uniform(0.85, 1.0), phi=phi)
    ring = ring * (1.0 + rng.uniform(0, 0.4) * np.cos(np.arctan2(y, x) - rng.uniform(0, 2 * np.pi)))
    for _ in range(rng.integers(0, 4)):  # a few faint knots
        a = rng.uniform(0, 2 * np.pi)
        kx, ky = radius * np.cos(a), radius * q * np.sin(a)
        ring = ring + rng.uniform(0.2, 1.0) * np.exp(-((x - kx) ** 2 + (y - ky) ** 2) / (2 * 0.1 ** 2))
    ring_share, disk_share = rng.uniform(0.05, 0.25), rng.uniform(0.0, 0.3)
    young = normalised(ring) * ring_share
    return young + normalised(disk) * disk_share + normalised(bulge) * (1.0 - ring_share - disk_share), young


def _spiral(rng, x, y, q, phi, *, wide, clumpy=False):
    """A spiral: two arms of pitch 10-30 degrees and a bulge; ``wide``: one to three arms of pitch 5-35
    degrees, and bulges down to a few per cent of the light; ``clumpy``: star-forming knots along the
    arms (Elmegreen & Elmegreen 2006), drawn after everything else so that the rest is unchanged."""
    r_disk = rng.uniform(*((0.5, 2.5) if wide else (0.6, 2.0)))
    u, v = (np.cos(phi) * x + np.sin(phi) * y), (-np.sin(phi) * x + np.cos(phi) * y) / q
    radius, theta = np.hypot(u, v) + 1e-3, np.arctan2(v, u)
    pitch = np.tan(np.radians(rng.uniform(*((5, 35) if wide else (10, 30)))))
    contrast = rng.uniform(0.5, 1.0)
    n_arms = int(rng.integers(1, 4)) if wide else 2
    disk = np.exp(-radius / (r_disk / 1.678)) * (1.0 + contrast * np.cos(n_arms * (theta - np.log(radius) / pitch)))
    bulge = sersic(x, y, r_eff=rng.uniform(0.15 if wide else 0.2, 0.6), n=rng.uniform(1 if wide else 2, 4),
                   q=q, phi=phi)
    young = normalised(disk) * rng.uniform(0.5, 0.95 if wide else 0.9)
    image = young + normalised(bulge) * rng.uniform(0.03 if wide else 0.1, 0.5)
    if clumpy:
        # On an arm's ridge, theta = ln(r) / tan(pitch) + 2 pi k / n_arms in the disk plane.
        radii = rng.uniform(0.5, 2.5, rng.integers(0, 9)) * r_disk
        arms = rng.integers(0, n_arms, radii.size)
        angles = np.log(radii) / pitch + 2 * np.pi * arms / n_arms
        knots = _knots(rng, x, y, zip(*_on_ellipse(radii, angles, q, phi)), (0.05, 0.25))
        if knots.any():
            knots = normalised(knots) * rng.uniform(0.05, 0.3)
            image, young = image + knots, young + knots
    return image, young


def field_galaxy_stamp(rng, *, size, pixel_scale):
    """An ordinary galaxy: one or two Sersic components (unit flux)."""
    x, y = grid(size, pixel_scale)
    q, phi = rng.uniform(0.3, 1.0), rng.uniform(0, np.pi)
    image = normalised(sersic(x, y, r_eff=np.exp(rng.uniform(np.log(0.15), np.log(1.5))),
                              n=rng.uniform(0.6, 4.5), q=q, phi=phi))
    if rng.random() < 0.3:
        image = image + normalised(sersic(x, y, r_eff=rng.uniform(0.1, 0.4), n=4.0, q=q, phi=phi)) * rng.uniform(0.1, 1)
    return np.asarray(image, np.float32) / float(image.sum())
