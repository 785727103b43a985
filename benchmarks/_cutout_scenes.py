"""Out-of-family cutouts: lenses and look-alikes centred in 64-128 pixel stamps, g, r and i.

A benchmark for `crclean lenses --cutouts-in` that no crclean model is trained
on. Lenses are ray-shot by ``_cutout_lensing`` (an isothermal ellipsoid coded
here, shear, sometimes a satellite) through GalSim sources; lens light and the
look-alikes are GalSim galaxies (``_cutout_galaxies``). Where the training
simulator and the tile benchmark make one choice, this draws others:

- lens categories: ``arc`` (rings and arcs, lens brighter than the arcs by
  0.5-3 mag), ``bright_source`` (arcs 0.3-2 mag brighter than the lens),
  ``no_lens_light`` (none in half, else 3-5 mag fainter than the arcs),
  ``compact`` (theta_E 0.5-0.9 arcsec at 0.55-0.85 arcsec seeing),
  ``double`` and ``quad`` (compact sources, image counts checked on the
  noise-free lensed light and redrawn until they match);
- colours: lens and source each anywhere in g-r -0.3..1.7, r-i -0.2..0.8,
  so blue lenses and red arcs occur;
- non-lens categories: see `_cutout_galaxies.NON_LENS_BUILDERS`;
- PSFs: Kolmogorov (GalSim), Kolmogorov with telescope optics (obscured
  pupil, random defocus, astigmatism and coma) or an elongated Kolmogorov
  (wind shake), FWHM 0.5-1.3 arcsec in r, wider in g and narrower in i as
  lambda**-0.2 (Roddier 1981);
- depth: arc S/N 12-150 (matched filter, r band), look-alikes at S/N
  30-800, per-band sky 300-5000 e- with Poisson noise; the sky is left in;
- every cutout, lens or not, has the same environment: up to two field
  galaxies 3.5-8 arcsec out and a star in 30%.

Every cutout is drawn from its own generator, ``default_rng([seed, index])``,
so a set is reproduced exactly from its seed, and a cutout does not depend on
how many others are drawn.

References
----------
Roddier, F. 1981, Progress in Optics 19, 281.
Rowe, B. et al. 2015, Astron. Comput. 10, 121 (GalSim).
"""

from dataclasses import dataclass

import galsim
import numpy as np

from _cutout_galaxies import NON_LENS_BUILDERS, any_colour, band_ratios, lens_light, lensed_source, star_colour
from _cutout_lensing import Deflector, count_images, lensed_image

__all__ = ["BANDS", "LENS_CATEGORIES", "NON_LENS_CATEGORIES", "CutoutTruth", "central_object", "draw_psfs",
           "make_cutout", "make_cutout_set", "observe", "signal_in_band"]

BANDS = ("g", "r", "i")
LENS_CATEGORIES = ("arc", "bright_source", "no_lens_light", "compact", "double", "quad")
NON_LENS_CATEGORIES = tuple(NON_LENS_BUILDERS)

#: Seeing scales with wavelength as lambda**-0.2; effective wavelengths (nm).
_WAVELENGTH = {"g": 480.0, "r": 640.0, "i": 780.0}


@dataclass
class CutoutTruth:
    """What was drawn in one cutout.

    ``theta_e`` (arcsec), ``n_images`` (counted on the noise-free lensed
    light), ``arc_snr`` (matched-filter S/N of the arcs in r) and
    ``lens_minus_arcs_mag`` (r band; positive when the lens is fainter than
    its arcs, inf without lens light) are zero or NaN for look-alikes;
    ``seeing`` is the r-band FWHM (arcsec) and ``psf`` its kind.
    """

    index: int
    category: str
    is_lens: bool
    theta_e: float = 0.0
    n_images: int = 0
    arc_snr: float = 0.0
    lens_minus_arcs_mag: float = float("nan")  # r band; positive: the lens is fainter than its arcs
    lens_bluer_than_source: bool = False
    seeing: float = 0.0
    psf: str = ""


def _psf(rng, fwhm_r, kind, band):
    fwhm = fwhm_r * (_WAVELENGTH[band] / _WAVELENGTH["r"]) ** -0.2 * rng.uniform(0.97, 1.03)
    atmosphere = galsim.Kolmogorov(fwhm=float(fwhm))
    if kind == "elongated":
        return atmosphere.shear(e=float(rng.uniform(0.04, 0.12)), beta=float(rng.uniform(0, np.pi)) * galsim.radians)
    if kind == "optical":
        optics = galsim.OpticalPSF(lam_over_diam=float(_WAVELENGTH[band] * 1e-9 / 4.0 * 206265), obscuration=0.3,
                                   defocus=float(rng.normal(0, 0.3)), astig1=float(rng.normal(0, 0.2)),
                                   astig2=float(rng.normal(0, 0.2)), coma1=float(rng.normal(0, 0.15)),
                                   coma2=float(rng.normal(0, 0.15)), suppress_warning=True)
        return galsim.Convolve(atmosphere, optics)
    return atmosphere


def _draw(profile, psf, size, pixel_scale):
    return profile_image(galsim.Convolve(profile, psf), size, pixel_scale)


def profile_image(profile, size, pixel_scale):
    """A GalSim profile drawn (pixel-integrated) on a ``size`` square centred on its origin."""
    return profile.drawImage(nx=size, ny=size, scale=pixel_scale).array.astype(np.float64)


def _kernel(psf, pixel_scale):
    """The PSF sampled at pixel centres (the rays already integrate over pixels), summing to one."""
    image = psf.drawImage(nx=41, ny=41, scale=pixel_scale, method="no_pixel").array
    return image / image.sum()


def _environment(rng):
    """Field galaxies and a star away from the centre: the same for lenses and look-alikes."""
    parts = []
    for _ in range(int(rng.integers(0, 3))):
        radius, angle = rng.uniform(3.5, 8.0), rng.uniform(0, 2 * np.pi)
        profile = galsim.Sersic(n=float(rng.uniform(0.7, 4)), half_light_radius=float(rng.uniform(0.15, 0.6)))
        parts.append((profile.shift(radius * np.cos(angle), radius * np.sin(angle)), any_colour(rng),
                      float(np.exp(rng.uniform(np.log(8), np.log(80))))))
    if rng.random() < 0.3:
        radius, angle = rng.uniform(4.0, 8.0), rng.uniform(0, 2 * np.pi)
        parts.append((galsim.DeltaFunction().shift(radius * np.cos(angle), radius * np.sin(angle)), star_colour(rng),
                      float(np.exp(rng.uniform(np.log(20), np.log(500))))))
    return parts


def _snr(image):
    """Matched-filter S/N of a noise-free image in units of the sky noise."""
    return float(np.sqrt(np.sum(image ** 2)))


def _deflector(rng, category):
    theta_e = rng.uniform(0.5, 0.9) if category == "compact" else (
        rng.uniform(0.8, 2.0) if category in ("double", "quad") else rng.uniform(0.9, 2.5))
    q = rng.uniform(0.45, 0.7) if category == "quad" else rng.uniform(0.6, 1.0)
    gamma, shear_angle = rng.uniform(0.0, 0.1), rng.uniform(0, np.pi)
    satellite = {}
    if rng.random() < 0.25:
        distance, angle = rng.uniform(1.0, 2.0) * theta_e, rng.uniform(0, 2 * np.pi)
        satellite = dict(satellite_theta_e=float(rng.uniform(0.1, 0.3) * theta_e),
                         satellite_x=float(distance * np.cos(angle)), satellite_y=float(distance * np.sin(angle)))
    return Deflector(float(theta_e), q=float(q), angle=float(rng.uniform(0, np.pi)),
                     gamma1=float(gamma * np.cos(2 * shear_angle)), gamma2=float(gamma * np.sin(2 * shear_angle)),
                     **satellite)


def _source_position(rng, category, theta_e):
    radius = {"double": rng.uniform(0.45, 0.9), "quad": rng.uniform(0.02, 0.15),
              "compact": rng.uniform(0.0, 0.3)}.get(category, np.sqrt(rng.uniform(0, 1)) * 0.45)
    angle = rng.uniform(0, 2 * np.pi)
    return radius * theta_e * np.cos(angle), radius * theta_e * np.sin(angle)


def _lens_scene(rng, category, size, pixel_scale):
    """A lens of ``category``: ``(deflector, unconvolved arcs (flux per pixel), image count)``.

    Doubles and quads are redrawn until the noise-free lensed light shows
    that many images, so their labels hold.
    """
    wanted = {"double": (2, 3), "quad": (4, 5)}.get(category)
    for _ in range(20):
        deflector = _deflector(rng, category)
        source, half_size = lensed_source(rng, compact=category in ("double", "quad"))
        sx, sy = _source_position(rng, category, deflector.theta_e)
        arcs, fine = lensed_image(deflector, source, sx, sy, size=size, pixel_scale=pixel_scale, half_size=half_size)
        n_images = count_images(fine)
        if wanted is None or wanted[0] <= n_images <= wanted[1]:
            return deflector, arcs, n_images
    raise RuntimeError(f"no {category} drawn in 20 tries")


def draw_psfs(rng, bands, *, compact=False):
    """A PSF kind, the r-band FWHM (arcsec) and a GalSim PSF per band."""
    kind = str(rng.choice(["kolmogorov", "optical", "elongated"], p=[0.5, 0.3, 0.2]))
    fwhm = rng.uniform(0.55, 0.85) if compact else rng.uniform(0.5, 1.3)
    return kind, float(fwhm), {band: _psf(rng, fwhm, kind, band) for band in bands}


def central_object(rng, category, psfs, truth, *, size, pixel_scale):
    """The lens or look-alike of ``category`` centred in a ``size`` stamp, as components; fills ``truth``.

    Each component is ``(per-band noise-free images, colour, factor to units of the r band's sky noise)``.
    Returns the components and, for a lens, its PSF-convolved r-band arcs in those units (for its box).
    """
    bands = list(psfs)
    if category in NON_LENS_CATEGORIES:
        parts = NON_LENS_BUILDERS[category](rng)
        images = [{band: _draw(profile, psfs[band], size, pixel_scale) for band in bands} for profile, _ in parts]
        total = _snr(sum(image["r"] for image in images))
        scale = float(np.exp(rng.uniform(np.log(30), np.log(800)))) / total
        return [(image, colour, scale) for image, (_, colour) in zip(images, parts)], None
    deflector, unconvolved, n_images = _lens_scene(rng, category, size, pixel_scale)
    arc_colour, lens_colour = any_colour(rng), any_colour(rng)
    arcs = {band: _convolve(unconvolved, _kernel(psfs[band], pixel_scale)) for band in bands}
    target = float(np.exp(rng.uniform(np.log(12), np.log(150))))
    arc_scale = target / _snr(arcs["r"])
    components = [(arcs, arc_colour, arc_scale)]
    difference = {"bright_source": -rng.uniform(0.3, 2.0),
                  "no_lens_light": -rng.uniform(3.0, 5.0)}.get(category, rng.uniform(0.5, 3.0))
    no_light = category == "no_lens_light" and rng.random() < 0.5
    if not no_light:
        light = lens_light(rng, mass_angle=deflector.angle, compact=category == "compact")
        images = {band: _draw(light, psfs[band], size, pixel_scale) for band in bands}
        # The lens is `difference` magnitudes brighter than its arcs in r.
        components.append((images, lens_colour, arc_scale * arcs["r"].sum() * 10 ** (0.4 * difference)
                           / images["r"].sum()))
    truth.theta_e, truth.n_images, truth.arc_snr = deflector.theta_e, n_images, target
    truth.lens_minus_arcs_mag = float("inf") if no_light else float(-difference)
    truth.lens_bluer_than_source = bool(sum(lens_colour) < sum(arc_colour))
    return components, arcs["r"] * arc_scale


def make_cutout(seed, index, category, *, size=96, pixel_scale=0.2, bands=BANDS):
    """One cutout ``(bands, size, size)`` in electrons (sky included) and its `CutoutTruth`.

    Parameters
    ----------
    seed, index : int
        The cutout's generator is ``default_rng([seed, index])``.
    category : str
        One of `LENS_CATEGORIES` or `NON_LENS_CATEGORIES`.
    """
    if category not in LENS_CATEGORIES + NON_LENS_CATEGORIES:
        raise ValueError(f"unknown category {category!r}")
    rng = np.random.default_rng([seed, index])
    kind, fwhm, psfs = draw_psfs(rng, bands, compact=category == "compact")
    truth = CutoutTruth(index, category, category in LENS_CATEGORIES, seeing=fwhm, psf=kind)
    components, _ = central_object(rng, category, psfs, truth, size=size, pixel_scale=pixel_scale)
    for profile, colour, snr in _environment(rng):
        images = {band: _draw(profile, psfs[band], size, pixel_scale) for band in bands}
        components.append((images, colour, snr / _snr(images["r"])))
    return observe(rng, [signal_in_band(components, band) for band in bands], bands), truth


def _convolve(image, kernel):
    from scipy.signal import fftconvolve

    return fftconvolve(image, kernel, mode="same")


def signal_in_band(components, band):
    """The noise-free image of ``band`` in units of the r band's sky noise."""
    return sum(images[band] * scale * band_ratios(colour, [band])[0] for images, colour, scale in components)


def observe(rng, signals, bands):
    """Noise-free images (units of the r band's sky noise) -> electrons with each band's sky and Poisson noise.

    Poisson noise is drawn in its Gaussian limit; the sky is left in.
    """
    shape = np.shape(signals[0])
    stack = np.empty((len(bands), *shape), np.float32)
    sky_r = rng.uniform(300, 5000)
    for b, (band, signal) in enumerate(zip(bands, signals)):
        sky = sky_r if band == "r" else sky_r * rng.uniform(0.3, 1.5)
        # In electrons the r band's sky noise is sqrt(sky_r).
        signal = signal * np.sqrt(sky_r)
        stack[b] = sky + signal + rng.normal(0.0, 1.0, shape) * np.sqrt(sky + np.clip(signal, 0, None))
    return stack


def make_cutout_set(seed, per_category, *, size=96, pixel_scale=0.2, bands=BANDS, categories=None):
    """``per_category`` cutouts of each category: ``(n, bands, size, size)`` float32 and a list of `CutoutTruth`."""
    categories = categories or LENS_CATEGORIES + NON_LENS_CATEGORIES
    images, truths = [], []
    for category in categories:
        for _ in range(per_category):
            image, truth = make_cutout(seed, len(truths), category, size=size, pixel_scale=pixel_scale, bands=bands)
            images.append(image)
            truths.append(truth)
    return np.stack(images), truths
