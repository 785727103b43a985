"""Real frames that ship with installed packages, for the cosmic-ray mask benchmark.

* astroscrappy's GMOS cutout (``astroscrappy/tests/data/gmos.fits``; Gemini
  S20190808S0048 [362:, 480:680], reduced with DRAGONS): its test knows two
  cosmic rays, at ``[41:72, 142:161]`` and ``[117:147, 35:43]`` (rows,
  columns), read noise 4.24 e-, gain 1.933 e-/ADU. A qualitative check: how
  many of the two each model finds and how many other pixels it flags.
* ccdproc's raw SAAO 1.0 m frame (``ccdproc/tests/data/a8280271.fits``: STE3
  CCD, 150 s, gain 1.9 e-/ADU, read noise 5 e-): the flagged fraction, and, with
  real held-out LSST footprints injected, a scored family (`saao_with_footprints`)
  whose truth is the injected charge. The frame's own cosmic rays are not in
  that truth: pixels LA Cosmic flags on the bare frame (grown by 2 px) are in
  the ignore band, so no model is charged for finding them.

Each frame is returned as an object with the attribute names of crclean's
``SimulatedExposure`` that the benchmark reads.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from _independent_cosmics import ADC_MAX
from _independent_footprints import inject_footprints

GMOS_HITS = ((slice(41, 72), slice(142, 161)), (slice(117, 147), slice(35, 43)))


@dataclass
class RealFrame:
    """A real frame with the exposure attributes the benchmark reads (truth where known)."""

    image_adu: np.ndarray
    gain: float
    readnoise: float
    bias: float
    profile: str
    clean_adu: np.ndarray = None
    cr_electrons: np.ndarray = None
    cr_mask: np.ndarray = None
    ignore_mask: np.ndarray = None
    star_core_mask: np.ndarray = None
    defect_mask: np.ndarray = None
    saturated_mask: np.ndarray = None
    noise_sigma_electrons: np.ndarray = None
    seed: int = 0
    split: str = "real"
    footprint_ids: tuple = field(default_factory=tuple)


def _package_file(package, *parts):
    import importlib

    return Path(importlib.import_module(package).__file__).resolve().parent.joinpath(*parts)


def gmos_frame():
    """astroscrappy's GMOS cutout (ADU, bias 0)."""
    from astropy.io import fits

    with fits.open(_package_file("astroscrappy", "tests", "data", "gmos.fits")) as hdul:
        data = hdul["SCI"].data.astype(np.float32)
    return RealFrame(data, gain=1.933, readnoise=4.24, bias=0.0, profile="gmos")


def gmos_reference_hits():
    """Pixels of the two known GMOS hits: LA Cosmic with the frame's sky and variance, inside each box."""
    import astroscrappy
    from astropy.io import fits

    with fits.open(_package_file("astroscrappy", "tests", "data", "gmos.fits")) as hdul:
        data, var, sky = (hdul[k].data.astype(np.float32) for k in ("SCI", "VAR", "SKYFIT"))
    mask, _ = astroscrappy.detect_cosmics(data, inbkg=sky, invar=var, readnoise=4.24, gain=1.933)
    hits = []
    for box in GMOS_HITS:
        one = np.zeros(mask.shape, bool)
        one[box] = mask[box]
        hits.append(one)
    return hits


def saao_frame():
    """ccdproc's raw SAAO frame, trimmed to its exposed area; ``bias`` from the overscan (ADU)."""
    from astropy.io import fits

    raw = fits.getdata(_package_file("ccdproc", "tests", "data", "a8280271.fits")).astype(np.float32)
    # BIASSEC [4:13, 1:520] and TRIMSEC [17:528, 1:520] (FITS, 1-based); rows from 511 up are not exposed.
    bias = float(np.median(raw[:, 3:13]))
    return RealFrame(raw[:510, 16:528].copy(), gain=1.9, readnoise=5.0, bias=bias, profile="saao")


def saao_with_footprints(n, seed):
    """``n`` copies of the SAAO frame with held-out LSST footprints injected; seeds ``seed, seed + 1, ...``."""
    import astroscrappy

    frame = saao_frame()
    clean_adu = frame.image_adu
    calibrated = clean_adu - frame.bias
    expected = np.maximum(ndimage.median_filter(calibrated, 3), 0) * frame.gain  # clean electrons, less noisy
    sigma = np.sqrt(expected + frame.readnoise ** 2).astype(np.float32)
    own, _ = astroscrappy.detect_cosmics(calibrated * frame.gain, gain=1.0, readnoise=frame.readnoise,
                                         sigclip=4.5, objlim=5.0, satlevel=np.inf)
    own = ndimage.binary_dilation(own, iterations=2)
    sky = np.median(expected)
    sky_sigma = np.sqrt(sky + frame.readnoise ** 2)
    cores = ndimage.binary_dilation(expected - sky > 20 * sky_sigma, iterations=1) & ~own
    saturated = clean_adu >= ADC_MAX
    out = []
    for k in range(n):
        rng = np.random.default_rng(seed + k)
        # 40 hits on 0.26 Mpx: dense enough to score, sparse enough not to overlap much.
        x, y = rng.uniform(0, clean_adu.shape[1], 40), rng.uniform(0, clean_adu.shape[0], 40)
        charge, used = inject_footprints(clean_adu.shape, x, y, rng)
        image_adu = np.minimum(clean_adu + charge / frame.gain, ADC_MAX).astype(np.float32)
        cr_electrons = ((image_adu - clean_adu) * frame.gain).astype(np.float32)
        defect = saturated | own
        cr_mask = (cr_electrons >= 2 * sigma) & ~defect
        ignore = ((cr_electrons > 0) & ~cr_mask) | defect
        out.append(RealFrame(image_adu, frame.gain, frame.readnoise, frame.bias, "saao_footprints",
                             clean_adu=clean_adu, cr_electrons=cr_electrons, cr_mask=cr_mask, ignore_mask=ignore,
                             star_core_mask=cores, defect_mask=defect, saturated_mask=saturated,
                             noise_sigma_electrons=sigma, seed=seed + k, footprint_ids=used))
    return out
