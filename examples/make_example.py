"""Make the README's example exposure: a simulated, calibrated DECam-like CCD frame.

Writes, next to this script (or into ``--output-dir``):

* ``example_ground.fits``: float32 image in ADU, bias-subtracted, 800 rows x
  600 columns (deliberately not a multiple of 256, to exercise tiling);
* ``example_ground_truth.fits``: the truth, uint8: primary HDU = cosmic-ray mask
  (1 = cosmic ray), ``IGNORE`` = faint cosmic-ray charge to leave out of
  scores, ``DEFECTS`` = hot pixels, bad columns and saturated pixels.

The cosmic rays are real LSST ITL footprints from crclean's held-out
(validation) split plus long straight tracks from crclean's physical model of
a 250 um thick DECam sensor; their rate is raised about tenfold over a real
90 s exposure so that the example shows a useful number of them.

Run from the repository root::

    python examples/make_example.py --overwrite

The output is fully determined by ``SEED`` and crclean's simulator.
"""

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
from astropy.io import fits

from crclean.training import MASK_THRESHOLD_SIGMA, PROFILES, simulate_exposure
from crclean.training._cosmic_sim import SensorGeometry
from crclean.training._footprints import FOOTPRINT_PROVENANCE

# Chosen among the first ten seeds for three saturated stars and no star-like
# round footprint (see crclean/training/data/README.md, fp_id 350).
SEED = 20240616
SHAPE = (800, 600)  # rows, columns: portrait, like a DECam CCD (4096 x 2048)

# DECam: 15 um pixels of 250 um thick deep-depletion CCDs, 0.263"/px (1" seeing =
# 3.8 px), gain ~4 e-/ADU, read noise ~7 e-, saturation ~ 140 ke-.
DECAM_LIKE = dataclasses.replace(
    PROFILES["ground_thick"],
    name="decam_like",
    sensor=SensorGeometry(pixel_pitch_um=15.0, depletion_um=250.0, diffusion_um=7.0),
    gain=4.0, readnoise=7.0, full_well=1.4e5, exptime=90.0,
    stars_per_mpix=200.0, galaxies_per_mpix=300.0, bright_stars_per_mpix=8.0,
    cr_rate=0.7,                   # ~10x a real ground rate, for the demonstration
    footprint_fraction=0.85,       # the rest: straight tracks of the physical model
    cr_mix=(1.0, 0.0, 0.0), cos_power=1.0,  # wide angles make long tracks
    hot_fraction=5e-5, bad_columns_per_kcol=1.5,
)


def _header_cards(exposure):
    header = fits.Header()
    header["BUNIT"] = ("ADU", "calibrated (bias-subtracted) counts")
    header["GAIN"] = (exposure.gain, "e-/ADU")
    header["RDNOISE"] = (exposure.readnoise, "read noise, e-")
    header["EXPTIME"] = (exposure.exptime, "s")
    header["SATURATE"] = (DECAM_LIKE.full_well / exposure.gain, "ADU")
    header["OBJECT"] = "crclean example (simulated)"
    header["SKYLEVEL"] = (exposure.sky_electrons / exposure.gain, "mean sky, ADU")
    header["FWHM"] = (exposure.fwhm, "PSF FWHM, px")
    header["SIMSEED"] = (SEED, "crclean.training.simulate_exposure seed")
    for line in (
        "Simulated DECam-like CCD exposure made by crclean's simulator",
        f"(crclean.training.simulate_exposure, profile {DECAM_LIKE.name}, seed {SEED},",
        "footprint split 'validation'), by examples/make_example.py.",
        "Not a real observation. Sky, stars (Moffat PSF), Sersic galaxies,",
        "Poisson and read noise, hot pixels, saturated stars with bleed trails.",
        "Cosmic rays: real footprints from the held-out split plus simulated",
        "long tracks; truth in example_ground_truth.fits.",
    ):
        header.add_comment(line)
    # Wrap the provenance line at FITS COMMENT width.
    words, line = FOOTPRINT_PROVENANCE.split(), ""
    for word in words:
        if len(line) + len(word) + 1 > 70:
            header.add_comment(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    header.add_comment(line)
    return header


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--overwrite", action="store_true", help="replace existing files")
    args = parser.parse_args(argv)
    image_path = args.output_dir / "example_ground.fits"
    truth_path = args.output_dir / "example_ground_truth.fits"
    for path in (image_path, truth_path):
        if path.exists() and not args.overwrite:
            parser.error(f"{path} exists; pass --overwrite to replace it")

    exposure = simulate_exposure(SHAPE, seed=SEED, profile=DECAM_LIKE, split="validation",
                                 sky_electrons=2400.0, fwhm=3.8)
    header = _header_cards(exposure)
    fits.PrimaryHDU(exposure.image_adu, header=header).writeto(image_path, overwrite=True)

    truth_header = fits.Header()
    truth_header["CONTENT"] = "cosmic-ray truth mask of example_ground.fits"
    truth_header["THRESH"] = (MASK_THRESHOLD_SIGMA, "CR charge >= THRESH * noise sigma of the pixel")
    truth_header.add_comment("1 = cosmic ray. Extensions: IGNORE (faint CR charge, leave out")
    truth_header.add_comment("of scores), DEFECTS (hot pixels, bad columns, saturated).")
    fits.HDUList([
        fits.PrimaryHDU(exposure.cr_mask.astype(np.uint8), header=truth_header),
        fits.ImageHDU(exposure.ignore_mask.astype(np.uint8), name="IGNORE"),
        fits.ImageHDU(exposure.defect_mask.astype(np.uint8), name="DEFECTS"),
    ]).writeto(truth_path, overwrite=True)
    sys.stderr.write(
        f"wrote {image_path} and {truth_path}: {int(exposure.cr_mask.sum())} CR pixels, "
        f"{int(exposure.saturated_mask.sum())} saturated pixels\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
