"""Training and validation samples for the learned inpainter, from the seeded simulator.

Each exposure is simulated whole; the mask to fill is its true cosmic rays
(``cr_mask``, with the faint ``ignore_mask`` wings or not, grown by 1 px or
not) plus its detector defects, as a pipeline's DQ array would flag them.
The network's input is made exactly as at run time
(`crclean.inpaint._learned.encode`, over the whole exposure), and the target
is the exposure without cosmic rays in the same sky-noise units, with the
noise of each clean pixel in those units so the loss can be in units of it.
Validation exposures use the mask of benchmarks/inpaint.py (cosmic rays and
wings grown by 1 px), seeds from a disjoint range and held-out footprints.

Stars under a cosmic ray are what a fill gets most wrong, and they are rare:
a network trained on natural scenes alone learns to fill them with sky.
Training exposures therefore hold up to a few times more stars than the
profile's, and the loss weighs star-core pixels more (``star_weight`` of the
training config).
"""

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from crclean.inpaint._learned import encode
from crclean.training._common import CropPool
from crclean.training.simulate import PROFILES, simulate_exposure

__all__ = ["FillPool", "build_fill_pool"]

_BOX = np.ones((3, 3), bool)


@dataclass
class FillPool(CropPool):
    """Network inputs and truth of simulated exposures, stacked.

    Attributes
    ----------
    inputs : numpy.ndarray
        ``(n, 2, size, size)`` float32: the fill in asinh units and the hole map.
    target : numpy.ndarray
        ``(n, size, size)`` float32: the clean exposure, ``(clean - background) / rms``.
    noise : numpy.ndarray
        ``(n, size, size)`` float32: each clean pixel's noise sigma over ``rms``.
    weight : numpy.ndarray
        ``(n, size, size)`` uint8: 1 on the cosmic-ray pixels the loss and
        scores use (masked, at least 2 px from a defect).
    star_cores : numpy.ndarray
        ``(n, size, size)`` uint8: 1 within a FWHM of a star (the
        simulator's ``star_core_mask``).
    profile : numpy.ndarray
        ``(n,)`` index of each exposure's profile in the pool's profile list.
    """

    inputs: np.ndarray
    target: np.ndarray
    noise: np.ndarray
    weight: np.ndarray
    star_cores: np.ndarray
    profile: np.ndarray

    crop_fields = ("inputs", "target", "noise", "weight", "star_cores")


def fill_sample(exposure, *, grow, wings):
    """The mask, the network input and the truth of one exposure.

    Parameters
    ----------
    exposure : crclean.training.SimulatedExposure
    grow : bool
        Grow the cosmic rays by 1 px (3 x 3), as benchmarks/inpaint.py does.
    wings : bool
        Include the faint cosmic-ray charge (``ignore_mask``) in the mask.

    Returns
    -------
    inputs, target, noise, weight, star_cores : numpy.ndarray
        As in `FillPool`, for one exposure.
    """
    cosmic = exposure.cr_mask | exposure.ignore_mask if wings else exposure.cr_mask.copy()
    if grow:
        cosmic = ndimage.binary_dilation(cosmic, structure=_BOX)
    scored = cosmic & ~ndimage.binary_dilation(exposure.defect_mask, structure=_BOX)
    inputs, background, rms = encode(exposure.image_adu, cosmic | exposure.defect_mask)
    target = (exposure.clean_adu - background) / rms
    noise = exposure.noise_sigma_electrons / np.float32(exposure.gain) / rms
    return (inputs, target.astype(np.float32), noise.astype(np.float32), scored.astype(np.uint8),
            exposure.star_core_mask.astype(np.uint8))


def build_fill_pool(n, *, size, profiles, seed, split="train", cr_rate=(0.5, 3.0), grow_fraction=0.5,
                    wings_fraction=0.75, star_density=(1.0, 1.0), validation=False, progress=None):
    """Simulate ``n`` exposures, cycling through ``profiles``.

    Parameters
    ----------
    n, size : int
        Exposures, and the side of each.
    profiles : sequence of str
        Simulator profiles (``ground_thin``, ``ground_thick``, ``space``).
    seed : int
        Exposure ``i`` uses seed ``seed + i``.
    split : {'train', 'validation'}
        Footprint split.
    cr_rate : (float, float)
        Range of cosmic-ray rates (events / cm^2 / s), drawn per exposure.
    grow_fraction, wings_fraction : float
        Share of exposures whose mask is grown by 1 px, and whose mask
        includes the faint wings: a mask network's own mask is neither.
    star_density : (float, float)
        Range of a factor on the profile's density of stars, drawn
        log-uniformly per exposure.
    validation : bool
        Every mask grown and with wings, as the benchmark's; natural star
        densities.
    progress : callable, optional
        Called with 1 after each exposure.

    Returns
    -------
    FillPool
    """
    rng = np.random.default_rng(seed)
    pool = FillPool(inputs=np.empty((n, 2, size, size), np.float32),
                    target=np.empty((n, size, size), np.float32), noise=np.empty((n, size, size), np.float32),
                    weight=np.empty((n, size, size), np.uint8), star_cores=np.empty((n, size, size), np.uint8),
                    profile=np.arange(n) % len(profiles))
    for i in range(n):
        rate, grow_draw, wings_draw = rng.uniform(*cr_rate), rng.uniform(), rng.uniform()
        density = np.exp(rng.uniform(np.log(star_density[0]), np.log(star_density[1])))
        profile = PROFILES[profiles[i % len(profiles)]]
        if not validation:
            profile = replace(profile, stars_per_mpix=profile.stars_per_mpix * density)
        exposure = simulate_exposure((size, size), seed=seed + i, profile=profile, split=split,
                                     cr_rate=float(rate))
        sample = fill_sample(exposure, grow=validation or grow_draw < grow_fraction,
                             wings=validation or wings_draw < wings_fraction)
        pool.inputs[i], pool.target[i], pool.noise[i], pool.weight[i], pool.star_cores[i] = sample
        if progress is not None:
            progress(1)
    return pool
