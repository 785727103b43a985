"""Training and validation samples for mask networks, from the seeded simulator.

Exposures are simulated whole, normalised exactly as crclean does at run
time (`crclean.engine.noise_normalise`, over the whole exposure), and kept in
a pool; batches are random crops with random 90-degree rotations and flips.
Validation exposures use seeds from a disjoint range and the held-out
footprints, so no validation cosmic ray or sky was ever trained on.
"""

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from crclean.engine._background import noise_normalise
from crclean.training._common import VALIDATION_SEED_OFFSET, CropPool, random_crops
from crclean.engine._psf_shape import network_inputs
from crclean.training.simulate import MASK_THRESHOLD_SIGMA, WIDE_PROFILES, exposure_psf_shape, simulate_exposure

__all__ = ["SamplePool", "build_pool", "turned_psf_inputs", "VALIDATION_SEED_OFFSET", "HOT_PIXEL_CHOICES",
           "SATURATED_CHOICES", "BAD_COLUMN_CHOICES"]

HOT_PIXEL_CHOICES = ("negative", "ignore")
SATURATED_CHOICES = ("negative", "ignore", "star_bleeds")
BAD_COLUMN_CHOICES = ("negative", "ignore")

#: A pixel is on a bright source when the cosmic-ray-free scene there stands this many sigma of the sky
#: noise above the sky (see `bright_source_pixels`).
BRIGHT_SOURCE_SIGMA = 10.0

#: Share of training crops whose network is told the PSF is unknown (networks told its size too).
PSF_UNKNOWN_SHARE = 0.2

#: Saturated runs (bleed ends included) of fewer pixels than this count as
#: ambiguous under ``saturated = "star_bleeds"``, even on a star.
MIN_STAR_PLATEAU = 6


@dataclass
class SamplePool(CropPool):
    """Normalised exposures and their truth, stacked.

    Attributes
    ----------
    inputs : numpy.ndarray
        ``(n, size, size)`` float32 network inputs.
    target : numpy.ndarray
        ``(n, size, size)`` uint8 cosmic-ray truth.
    weight : numpy.ndarray
        ``(n, size, size)`` uint8 loss weight: 0 in the ignore band, ``source_weight`` on bright sources
        (`build_pool`), 1 elsewhere.
    star_cores : numpy.ndarray
        ``(n, size, size)`` bool.
    psf : numpy.ndarray or None
        ``(n, 2)`` float32 ``(e1, e2)`` of each exposure's PSF, ``(n, 4)``
        with its size, ``(n, 6)`` with its third moments, ``(n, 8)`` with both
        (`crclean.engine._psf_shape.network_inputs` of
        `crclean.training.simulate.exposure_psf_shape`), for networks told the
        PSF; None otherwise.
    """

    inputs: np.ndarray
    target: np.ndarray
    weight: np.ndarray
    star_cores: np.ndarray
    psf: np.ndarray = None

    crop_fields = ("inputs", "target", "weight")

    def batch(self, rng, batch_size, crop, *, edge_share=0.0):
        """Random crops with random rotations and flips (`crclean.training._common.random_crops`; an
        ``edge_share`` of them past an exposure's edge, the input mirrored there and no truth or loss weight),
        and with `psf` the PSF shape of each crop's exposure turned and flipped with it."""
        moves = {}
        crops = random_crops(rng, [getattr(self, field) for field in self.crop_fields], batch_size, crop,
                             moves=moves, edge_share=edge_share, edge_pads=("reflect", "zero", "zero"))
        if self.psf is None:
            return crops
        psf = turned_psf_inputs(self.psf[moves["index"]], moves["turns"], moves["flips"])
        if psf.shape[1] in (4, 8):
            # At run time a frame with too few stars tells the network nothing (zeros); so do some crops.
            psf[rng.random(len(psf)) < PSF_UNKNOWN_SHARE] = 0.0
        return [*crops, psf]


def turned_psf_inputs(psf, turns, flips):
    """`network_inputs` rows ``psf`` (n, 2, 4, 6 or 8) as they are for their crops turned ``turns``
    quarter turns (`numpy.rot90`) and then, where ``flips``, with the x axis reversed (`random_crops`).

    Each pair of PSF quantities is the real and imaginary part of a spin-s
    quantity, s = 2 for ``(e1, e2)``, 1 for coma and 3 for trefoil (the last
    four columns of 6 or 8). ``numpy.rot90`` takes w = x + iy to -iw, so a
    spin-s quantity is multiplied by (-i)^s per turn; reversing x takes w to
    -conj(w) and the quantity to (-1)^s times its conjugate. The size columns
    (3-4 of 4 or 8) do not change.
    """
    psf = np.array(psf, dtype=np.float32)
    spins = [(0, 2)] + ([(psf.shape[1] - 4, 1), (psf.shape[1] - 2, 3)] if psf.shape[1] >= 6 else [])
    for column, spin in spins:
        value = (psf[:, column] + 1j * psf[:, column + 1]) * (-1j) ** (spin * np.asarray(turns))
        value = np.where(flips, (-1.0) ** spin * np.conj(value), value)
        psf[:, column], psf[:, column + 1] = value.real, value.imag
    return psf


def _scale_cosmic_rays(exposure, scale):
    """The exposure with its cosmic-ray charge times ``scale``, and the truth redone.

    Real hits span a wider range of brightness relative to the sky noise than
    one detector profile gives (heavy ions, alpha particles, faint skies); a
    model that never saw hits hundreds of sigma bright takes them for stars.
    """
    ceiling = exposure.full_well / exposure.gain + exposure.bias
    ceiling = max(ceiling, float(exposure.image_adu.max()))
    image = np.minimum(exposure.clean_adu + scale * (exposure.image_adu - exposure.clean_adu), ceiling)
    hit = exposure.cr_electrons > 0
    target = hit & (scale * exposure.cr_electrons >= MASK_THRESHOLD_SIGMA * exposure.noise_sigma_electrons)
    target &= ~exposure.defect_mask
    return image.astype(np.float32), target, hit & ~target


def ambiguous_plateaus(exposure):
    """Saturated runs, with their bleed ends, that one exposure cannot tell from a hit.

    A saturated star's core and long bleed trail sit in the star's wings, so a
    network can learn that they are not cosmic rays, and must: users keep the
    star. A hot pixel's bleed, or the 2-5 px saturated core of an undersampled
    star, is a short flat-topped bar with tapered ends on empty sky, the same
    as a bright, sharp hit along a column; as negatives, such bleed ends taught
    crclean's models to miss the ends of those hits (issue 28).

    Returns
    -------
    numpy.ndarray
        bool: pixels of saturated or bled-into runs that touch no star core or
        have fewer than `MIN_STAR_PLATEAU` pixels.
    """
    labels, n = ndimage.label(exposure.saturated_mask | exposure.bled_mask)
    if n == 0:
        return np.zeros(labels.shape, bool)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    on_star = np.bincount(labels.ravel(), weights=exposure.star_core_mask.ravel(), minlength=n + 1) > 0
    star_bleed = (sizes >= MIN_STAR_PLATEAU) & on_star
    star_bleed[0] = True  # label 0: not a plateau
    return ~star_bleed[labels]


def bright_source_pixels(exposure):
    """Pixels whose cosmic-ray-free scene stands `BRIGHT_SOURCE_SIGMA` sky-noise sigma above the sky:
    the cores and inner wings of stars and galaxies, and saturated stars' bleeds."""
    scene_electrons = (exposure.clean_adu - exposure.bias) * exposure.gain
    sky_sigma = np.sqrt(exposure.sky_electrons + exposure.readnoise**2)
    return scene_electrons - exposure.sky_electrons > BRIGHT_SOURCE_SIGMA * sky_sigma


def build_pool(n, *, size, profiles, seed, split="train", cr_rate=(0.5, 3.0), cr_scale=(1.0, 1.0),
               hard_cases=False, hot_pixels="negative", trails=False, extras=(), saturated="negative",
               source_weight=1, bad_columns="negative", psf=False, psf_size=False, psf_skew=False, progress=None):
    """Simulate ``n`` exposures, cycling through ``profiles``.

    Parameters
    ----------
    n : int
        Exposures.
    size : int
        Side of each exposure.
    profiles : sequence of str
        Simulator profiles (``ground_thin``, ``ground_thick``, ``space``,
        ``wide_ground``, ``wide_space``); list one twice to draw it twice as often.
    seed : int
        Exposure ``i`` uses seed ``seed + i``.
    split : {'train', 'validation'}
        Footprint split.
    cr_rate : (float, float)
        Range of cosmic-ray rates (events / cm^2 / s), drawn per exposure;
        raised above the natural rate so every crop teaches something. The
        ``wide_*`` profiles draw their own density and ignore it.
    cr_scale : (float, float)
        Range of a factor on every exposure's cosmic-ray charge, drawn
        log-uniformly per exposure (1, 1: as simulated).
    hard_cases : bool
        Alpha hits and row- or column-aligned tracks in ``wide_*`` profiles
        (see `crclean.training.simulate.simulate_exposure`).
    trails : bool
        Satellite trails and other long smooth lines in ``wide_*`` profiles, as negatives.
    extras : sequence of str
        Further cases in ``wide_*`` profiles (`crclean.training._wide_profiles.EXTRAS`).
    hot_pixels : {'negative', 'ignore'}
        Whether hot pixels teach "not a cosmic ray" or are left out of the
        loss. A lone hot pixel and a one-pixel hit look the same in one
        exposure; as negatives they teach a model to miss such hits.
    saturated : {'negative', 'ignore', 'star_bleeds'}
        Whether pixels at the full well without cosmic-ray charge (saturated
        stars' cores and bleeds, hot pixels' bleeds) teach "not a cosmic ray"
        or are left out of the loss. As negatives, small saturated plateaus
        taught crclean's models to reject the brightest compact hits; left
        out, saturated stars' bleed trails got flagged. ``star_bleeds`` keeps
        the bleeds of saturated stars as negatives and leaves the runs of
        `ambiguous_plateaus`, bleed ends included, out of the loss.
    bad_columns : {'negative', 'ignore'}
        Whether the pixels of bad columns (hot and dead, not saturated) teach
        "not a cosmic ray" or are left out of the loss. Within the network's
        view (about 50 px each way) a bright track longer than that along a
        column cannot be told from a hot column; as negatives, hot columns
        taught crclean-ccd to miss such tracks whole. Left out, the network
        may flag hot columns, which scoring counts neither way.
    source_weight : int
        Loss weight of the pixels on bright sources (`bright_source_pixels`), hits and
        source light alike. Hits on stars and galaxy cores are few in any exposure, and
        there a network must weigh a hit against the source's own light (crclean-ccd-v15's
        misses of >10 sigma pixels all lay on sources); weighting both kinds keeps the
        emphasis without teaching that hits are likelier on sources.
    psf : bool
        Also keep each exposure's PSF shape (`SamplePool.psf`).
    psf_size : bool
        With ``psf``, its size as well.
    psf_skew : bool
        With ``psf``, its third moments as well.
    progress : callable, optional
        Called with 1 after each exposure.

    Returns
    -------
    SamplePool
    """
    if hot_pixels not in HOT_PIXEL_CHOICES:
        raise ValueError(f"hot_pixels must be one of {HOT_PIXEL_CHOICES}, got {hot_pixels!r}")
    if saturated not in SATURATED_CHOICES:
        raise ValueError(f"saturated must be one of {SATURATED_CHOICES}, got {saturated!r}")
    if bad_columns not in BAD_COLUMN_CHOICES:
        raise ValueError(f"bad_columns must be one of {BAD_COLUMN_CHOICES}, got {bad_columns!r}")
    if not (isinstance(source_weight, int) and 1 <= source_weight <= 255):
        raise ValueError(f"source_weight must be a whole number from 1 to 255, got {source_weight!r}")
    rng = np.random.default_rng(seed)
    arrays = {key: np.empty((n, size, size), dtype) for key, dtype in
              (("inputs", np.float32), ("target", np.uint8), ("weight", np.uint8), ("star_cores", bool))}
    if psf:
        arrays["psf"] = np.empty((n, 2 + 2 * psf_size + 4 * psf_skew), np.float32)
    for i in range(n):
        profile = profiles[i % len(profiles)]
        rate = float(rng.uniform(*cr_rate))  # drawn for every profile, so fixed profiles keep their draws
        exposure = simulate_exposure((size, size), seed=seed + i, profile=profile, split=split,
                                     cr_rate=None if profile in WIDE_PROFILES else rate, hard_cases=hard_cases,
                                     trails=trails, extras=extras)
        image, target, ignore = exposure.image_adu, exposure.cr_mask, exposure.ignore_mask
        if cr_scale[0] != cr_scale[1]:
            scale = float(np.exp(rng.uniform(np.log(cr_scale[0]), np.log(cr_scale[1]))))
            image, target, ignore = _scale_cosmic_rays(exposure, scale)
        arrays["inputs"][i] = noise_normalise(image)
        arrays["target"][i] = target
        left_out = ignore | (exposure.hot_pixel_mask if hot_pixels == "ignore" else False)
        if bad_columns == "ignore":
            # The defects that are neither hot pixels nor saturated are the bad columns' pixels.
            left_out = left_out | (exposure.defect_mask & ~exposure.hot_pixel_mask & ~exposure.saturated_mask)
        if saturated == "ignore":
            left_out = left_out | (exposure.saturated_mask & ~target)
        elif saturated == "star_bleeds":
            left_out = left_out | (ambiguous_plateaus(exposure) & ~target)
        weight = np.where(bright_source_pixels(exposure), source_weight, 1) if source_weight != 1 else 1
        arrays["weight"][i] = weight * ~left_out
        arrays["star_cores"][i] = exposure.star_core_mask
        if psf:
            arrays["psf"][i] = network_inputs(exposure_psf_shape(exposure), with_size=psf_size, with_skew=psf_skew)
        if progress is not None:
            progress(1)
    return SamplePool(**arrays)
