"""Broad-band colours, depths and seeing for multi-band survey scenes.

Colour is what multi-band lens searches lean on most: a lens galaxy is a
massive early-type galaxy at z ~ 0.3-0.8, red in g - r, and the source it
lenses is a star-forming galaxy at z ~ 1-3, blue in g - r (e.g. Jacobs et
al. 2019 for DES; Sonnenfeld et al. 2018 for HSC). The look-alikes are not
colourless either: the rings, arms and tails of nearby disk galaxies are
lit by young stars and blue, their nuclei and bulges redder. The ranges
below are broad on purpose, and some lensed sources are drawn red and some
rings very blue, so that colour helps a finder without answering for it.
The ``_wide`` look-alike populations stretch that further (see
``wide_lookalike_colours`` in `compose_scene`): nuclei as red as lens
galaxies, rings as blue as lensed sources. The ``_any`` lens populations
(``wide_lens_colours``) drop the red-lens, blue-source rule altogether:
lens galaxies from the blue cloud to beyond the red sequence, and sources
as red as dusty or passive galaxies at z ~ 1-3, so that colour stops
answering for lensing.

Colours are AB magnitudes relative to the r band: ``(g - r, r - i, i - z)``.
Ranges follow the red sequence and blue cloud of galaxies out to z ~ 1
(Strateva et al. 2001; Eisenstein et al. 2001 for luminous red galaxies),
the colours of star-forming galaxies at z ~ 1-3 in the optical (flat in
f_nu, so g - r and r - i near 0-0.5), and the stellar locus (Covey et al.
2007).

References
----------
Covey, K. R. et al. 2007, AJ 134, 2398.
Collett, T. E. 2015, ApJ 811, 20.
Eisenstein, D. J. et al. 2001, AJ 122, 2267.
Jacobs, C. et al. 2019, ApJS 243, 17.
Negrello, M. et al. 2010, Science 330, 800.
Sonnenfeld, A. et al. 2018, PASJ 70, S29.
Strateva, I. et al. 2001, AJ 122, 1861.
Treu, T. et al. 2011, MNRAS 417, 1601.
"""

import numpy as np

__all__ = ["BANDS", "POPULATIONS", "check_bands", "reference_band", "flux_ratios", "band_depths", "band_seeing"]

#: Effective wavelengths (nm) of DES-like g, r, i, z filters.
BANDS = {"g": 475.0, "r": 622.0, "i": 763.0, "z": 905.0}

#: 10-sigma point-source depth (mag) of each band relative to r in a DES-like survey: g a little
#: deeper, i and z shallower, as in DES's coadds.
RELATIVE_DEPTH = {"g": 0.2, "r": 0.0, "i": -0.6, "z": -1.2}

#: Scatter (mag) of each band's depth about `RELATIVE_DEPTH`, tile to tile.
DEPTH_SCATTER = 0.2


def _uniform(rng, low, high):
    return float(rng.uniform(low, high))


def _early_type(rng):
    # Lens galaxies and bright ellipticals: the red sequence at z ~ 0.3-0.8.
    return _uniform(rng, 1.0, 1.8), _uniform(rng, 0.35, 0.75), _uniform(rng, 0.2, 0.45)


def _lensed_source(rng):
    # Star-forming galaxies at z ~ 1-3; a sixth drawn redder (dusty or older sources).
    if rng.random() < 1 / 6:
        return _uniform(rng, 0.6, 1.2), _uniform(rng, 0.3, 0.6), _uniform(rng, 0.1, 0.4)
    return _uniform(rng, -0.1, 0.6), _uniform(rng, -0.1, 0.4), _uniform(rng, -0.1, 0.3)


def _young(rng):
    # Rings, spiral arms, knots and tidal tails of nearby disks: young stars; some as blue as a source.
    return _uniform(rng, 0.0, 0.8), _uniform(rng, -0.05, 0.4), _uniform(rng, -0.1, 0.25)


def _old(rng):
    # Nuclei, bulges and smooth disks of nearby galaxies: older stars, overlapping the red sequence.
    return _uniform(rng, 0.6, 1.4), _uniform(rng, 0.25, 0.6), _uniform(rng, 0.1, 0.4)


def _young_wide(rng):
    # As `_young`, reaching the bluest lensed sources: a star-forming ring can be as blue as an arc.
    return _uniform(rng, -0.15, 0.8), _uniform(rng, -0.1, 0.4), _uniform(rng, -0.1, 0.3)


def _old_wide(rng):
    # As `_old`, reaching the red sequence of the lens galaxies (z ~ 0.3-0.8): look-alikes at those
    # redshifts have bulges and nuclei as red as a lens galaxy, so a red centre must not mean "lens".
    return _uniform(rng, 0.6, 1.8), _uniform(rng, 0.25, 0.75), _uniform(rng, 0.1, 0.45)


def _lens_any(rng):
    # Lens galaxies of every colour: a share of deflectors are disk galaxies (spiral lenses, Treu et al.
    # 2011) or lie at z < 0.2, where the red sequence is only g - r ~ 0.8; others at z ~ 1 are redder than
    # any lens of the first banks. Half from a red sequence stretched both ways, half from the blue cloud.
    if rng.random() < 0.5:
        return _uniform(rng, 0.6, 2.0), _uniform(rng, 0.3, 0.9), _uniform(rng, 0.15, 0.5)
    return _uniform(rng, -0.2, 0.8), _uniform(rng, -0.1, 0.45), _uniform(rng, -0.1, 0.3)


def _source_any(rng):
    # Lensed sources of every colour: most still star-forming and blue, but a third as red as dusty
    # star-forming galaxies (the submillimetre lenses of Negrello et al. 2010) or passive ones at z ~ 1-2,
    # some redder than their lens, which the first banks never drew (Collett 2015 for the populations).
    draw = rng.random()
    if draw < 0.65:
        return _uniform(rng, -0.3, 0.6), _uniform(rng, -0.2, 0.4), _uniform(rng, -0.1, 0.3)
    if draw < 0.9:
        return _uniform(rng, 0.6, 1.3), _uniform(rng, 0.3, 0.7), _uniform(rng, 0.1, 0.45)
    return _uniform(rng, 1.3, 1.9), _uniform(rng, 0.5, 1.0), _uniform(rng, 0.3, 0.6)


def _field(rng):
    # Field galaxies span both the blue cloud and the red sequence; r - i follows g - r loosely.
    g_r = _uniform(rng, -0.1, 1.8)
    r_i = 0.05 + 0.35 * g_r + float(rng.normal(0.0, 0.1))
    return g_r, r_i, 0.5 * r_i + float(rng.normal(0.0, 0.05))


def _star(rng):
    # The stellar locus: r - i rises slowly with g - r, then steeply for M dwarfs (g - r > 1.3).
    g_r = _uniform(rng, -0.3, 1.5)
    r_i = _uniform(rng, 0.5, 1.6) if g_r > 1.3 else 0.3 * g_r + float(rng.normal(0.0, 0.05))
    return g_r, r_i, 0.4 * r_i


#: Populations an object's light is drawn from, and their colour draws.
POPULATIONS = {"early_type": _early_type, "lensed_source": _lensed_source, "young": _young, "old": _old,
               "young_wide": _young_wide, "old_wide": _old_wide, "field": _field, "star": _star,
               "lens_any": _lens_any, "source_any": _source_any}


def reference_band(bands):
    """The band whose fluxes a scene draws (r if present, else the middle one)."""
    bands = tuple(bands)
    return "r" if "r" in bands else bands[len(bands) // 2]


def check_bands(bands):
    """``bands`` as a tuple, or ValueError naming the problem."""
    if isinstance(bands, str):
        bands = tuple(bands)
    bands = tuple(bands)
    if not bands or len(set(bands)) != len(bands) or not set(bands) <= set(BANDS):
        raise ValueError(f"bands must be distinct names from {tuple(BANDS)}, got {bands!r}")
    return bands


def flux_ratios(rng, population, bands):
    """One object's flux in each band over its flux in the reference band.

    Parameters
    ----------
    rng : numpy.random.Generator
    population : str
        A key of `POPULATIONS`.
    bands : sequence of str

    Returns
    -------
    numpy.ndarray
        One ratio per band, 1 in the reference band.
    """
    g_r, r_i, i_z = POPULATIONS[population](rng)
    minus_r = {"g": g_r, "r": 0.0, "i": -r_i, "z": -r_i - i_z}  # m_band - m_r
    reference = minus_r[reference_band(bands)]
    return np.array([10.0 ** (-0.4 * (minus_r[band] - reference)) for band in bands])


def band_depths(rng, bands):
    """Each band's signal gain in its own sky-noise units, relative to the reference band.

    A band ``d`` magnitudes deeper has ``10**(-0.4 d)`` times the sky noise in
    flux, so a source of given flux has ``10**(0.4 d)`` times the S/N.
    """
    depth = {band: RELATIVE_DEPTH[band] + float(rng.normal(0.0, DEPTH_SCATTER)) for band in bands}
    reference = depth[reference_band(bands)]
    return np.array([10.0 ** (0.4 * (depth[band] - reference)) for band in bands])


def band_seeing(rng, fwhm, bands):
    """Seeing FWHM of each band from the reference band's ``fwhm``.

    Atmospheric seeing scales as wavelength**-0.2 (Kolmogorov turbulence);
    the bands of a survey tile are taken at different times, so each also
    gets a +-10% jitter.
    """
    reference = BANDS[reference_band(bands)]
    return np.array([fwhm if band == reference_band(bands)
                     else fwhm * (BANDS[band] / reference) ** -0.2 * _uniform(rng, 0.9, 1.1) for band in bands])
