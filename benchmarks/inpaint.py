"""Inpainting benchmark: crclean's methods against deepCR's median mask and astroscrappy's cleaning.

Every method fills the same held-out simulated exposures (seeds far from
training and validation, held-out LSST footprints) of three kinds: a thin
ground CCD, a thick (deep-depletion) ground CCD with real LSST cosmic rays,
and an HST-like space CCD. Each method is given the TRUE cosmic-ray mask,
``cr_mask | ignore_mask`` grown by one pixel (3x3), so that detection errors
do not mix in, and is scored against the exposure without cosmic rays (``clean_adu``).
Detector defects (hot pixels, bad columns, saturated pixels and bleed
trails: ``defect_mask``) are added to the mask every method gets, as a
pipeline's DQ array would flag them, so no method draws on them; astroscrappy
gets them as its ``inmask``. crclean's rows are every method of
``crclean.inpaint.INPAINTERS``; ``learned`` runs the shipped network on the
CPU with PyTorch's default threads.

    python benchmarks/inpaint.py                     # prints the table
    python benchmarks/inpaint.py --write-docs        # also docs/benchmarks.md

Metrics, on the cosmic-ray pixels of the mask, leaving out defects and their
8 neighbours (their "clean" value is the defect or the edge of a trail):

- RMS of (inpainted - clean) / noise, noise = ``noise_sigma_electrons / gain``
  (ADU) of each pixel. A fill that knew the noise-free sky exactly would
  score 1.0, because the clean pixel carries its own noise.
- RMS on sky pixels only: the same, on flagged pixels whose noise-free
  level is sky (no source light above 3 sigma), apart from stars and galaxies.
- |bias|: the absolute median of (inpainted - clean) / noise.
- Star flux: stars (the simulator's star cores, centroided on the clean
  image) with a flagged pixel inside a circular aperture of radius
  1.5 FWHM; the aperture sum on the inpainted image minus that on the clean
  image, over the clean star flux (background: median of a 3-5 FWHM annulus
  on the clean image). Median and 90th percentile of |delta flux| / flux.
- Seconds per megapixel of image on this machine (one CPU process).

astroscrappy has no public function that cleans a given mask (its cleaning
routines are internal to ``detect_cosmics``), so its row is its own
detection plus cleaning (sigclip 4.5, objlim 5, ``cleantype='meanmask'``),
scored on the same true-mask pixels: cosmic rays it misses stay in.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import ndimage

from _docs import write_section

from crclean.inpaint import INPAINTERS, get_inpainter
from crclean.training.simulate import simulate_exposure

SETS = {"ground thin CCD": "ground_thin", "ground thick CCD": "ground_thick", "space (HST-like)": "space"}
SEED = 30_000_000  # far from training (0...), validation (10_000_000...) and the mask benchmark (20_000_000...)
APERTURE_FWHM = 1.5
ANNULUS_FWHM = (3.0, 5.0)


def build_sets(size, n_exposures, cr_rate):
    sets = {}
    for label, profile in SETS.items():
        sets[label] = [simulate_exposure((size, size), seed=SEED + 1000 * i + len(sets), profile=profile,
                                         split="validation", cr_rate=cr_rate) for i in range(n_exposures)]
    return sets


def true_mask(e):
    """The mask every method fills: true cosmic rays grown by 1 px, and the defects."""
    box = np.ones((3, 3), bool)
    cosmic = ndimage.binary_dilation(e.cr_mask | e.ignore_mask, structure=box)
    scored = cosmic & ~ndimage.binary_dilation(e.defect_mask, structure=box)
    return cosmic | e.defect_mask, scored


def deepcr_medmask(image, mask):
    from deepCR.util import medmask

    return medmask(image, mask)


def astroscrappy_own(e):
    import astroscrappy

    def run(image, mask):
        _, cleaned = astroscrappy.detect_cosmics(image * e.gain, inmask=e.defect_mask, gain=1.0,
                                                 readnoise=e.readnoise, sigclip=4.5, objlim=5.0,
                                                 satlevel=np.inf, cleantype="meanmask")
        return cleaned / e.gain

    return run


def contenders():
    """Label -> factory(exposure) -> fill(image, mask)."""
    runs = {f"crclean `{name}`": (lambda e, name=name: get_inpainter(name)) for name in INPAINTERS}
    grow = get_inpainter("grow")
    runs["crclean `grow`, mean"] = lambda e: (lambda image, mask: grow(image, mask, statistic="mean"))
    runs["crclean `grow`, no smoothing"] = lambda e: (lambda image, mask: grow(image, mask, smooth=False))
    runs["deepCR `medmask` (5x5 masked median)"] = lambda e: deepcr_medmask
    runs["astroscrappy detect+clean, own mask (meanmask)"] = astroscrappy_own
    runs["none (cosmic rays left in; reference)"] = lambda e: (lambda image, mask: image)
    return runs


def sky_pixels(e):
    """Pixels whose noise-free level is within the sky (no source light above 3 sigma)."""
    expected = e.noise_sigma_electrons.astype(np.float64) ** 2 - e.readnoise**2
    return expected < 1.03 * e.sky_electrons + 3 * np.sqrt(e.sky_electrons)


def stars_hit(e, mask):
    """Aperture centres of stars with a flagged pixel in the aperture and no defect."""
    from photutils.aperture import CircularAperture

    labels, n = ndimage.label(e.star_core_mask)
    if not n:
        return np.empty((0, 2))
    weight = np.clip(e.clean_adu - np.median(e.clean_adu), 0, None)
    centres = np.array(ndimage.center_of_mass(weight, labels, np.arange(1, n + 1)))[:, ::-1]  # (x, y)
    radius = APERTURE_FWHM * e.fwhm
    ny, nx = mask.shape
    inside = ((centres[:, 0] > radius + 1) & (centres[:, 0] < nx - radius - 2)
              & (centres[:, 1] > radius + 1) & (centres[:, 1] < ny - radius - 2))
    centres = centres[inside & np.all(np.isfinite(centres), axis=1)]
    if not centres.size:
        return centres
    aperture = CircularAperture(centres, r=radius)
    hit = np.array([m.get_overlap_slices(mask.shape) is not None and np.any(m.multiply(mask) > 0)
                    for m in aperture.to_mask(method="center")])
    clean = np.array([not np.any(m.multiply(e.defect_mask) > 0) for m in aperture.to_mask(method="center")])
    return centres[hit & clean]


def flux_changes(e, filled, centres):
    from photutils.aperture import ApertureStats, CircularAnnulus, CircularAperture, aperture_photometry

    if not len(centres):
        return np.empty(0)
    aperture = CircularAperture(centres, r=APERTURE_FWHM * e.fwhm)
    annulus = CircularAnnulus(centres, r_in=ANNULUS_FWHM[0] * e.fwhm, r_out=ANNULUS_FWHM[1] * e.fwhm)
    background = ApertureStats(e.clean_adu, annulus).median
    clean = np.asarray(aperture_photometry(e.clean_adu, aperture)["aperture_sum"])
    inpainted = np.asarray(aperture_photometry(filled, aperture)["aperture_sum"])
    flux = clean - background * aperture.area
    good = flux > 0
    return np.abs(inpainted - clean)[good] / flux[good]


def run_benchmark(size, n_exposures, cr_rate):
    sets = build_sets(size, n_exposures, cr_rate)
    runs = contenders()
    rows = []
    megapixels = size * size * n_exposures / 1e6
    for set_label, exposures in sets.items():
        masks, scoring = zip(*[true_mask(e) for e in exposures])
        centres = [stars_hit(e, m) for e, m in zip(exposures, scoring)]
        for method_label, factory in runs.items():
            z, z_sky, changes, seconds = [], [], [], 0.0
            for e, mask, scored, stars in zip(exposures, masks, scoring, centres):
                fill = factory(e)
                image = e.image_adu.copy()
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    filled = np.asarray(fill(image, mask), np.float64)
                seconds += time.perf_counter() - start
                if not np.array_equal(image, e.image_adu):
                    raise RuntimeError(f"{method_label} modified its input")
                noise = e.noise_sigma_electrons[scored] / e.gain
                z.append((filled[scored] - e.clean_adu[scored]) / noise)
                z_sky.append(z[-1][sky_pixels(e)[scored]])
                changes.append(flux_changes(e, filled, stars))
            z, z_sky, changes = np.concatenate(z), np.concatenate(z_sky), np.concatenate(changes)
            rows.append((set_label, method_label, {
                "rms": float(np.sqrt(np.mean(z**2))),
                "rms_sky": float(np.sqrt(np.mean(z_sky**2))), "bias": float(abs(np.median(z))),
                "flux_median": float(np.median(changes)) if changes.size else float("nan"),
                "flux_p90": float(np.percentile(changes, 90)) if changes.size else float("nan"),
                "n_stars": int(changes.size), "n_pixels": int(z.size)}, seconds / megapixels))
    return rows


def table(rows):
    lines = ["| set | method | RMS / noise | RMS / noise, sky | abs(median bias) / noise | star abs(dF)/F median | star abs(dF)/F 90% | "
             "stars | flagged px | s/Mpx |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for set_label, method_label, s, seconds in rows:
        lines.append(f"| {set_label} | {method_label} | {s['rms']:.3f} | {s['rms_sky']:.3f} | {s['bias']:.3f} | {s['flux_median']:.4f} | "
                     f"{s['flux_p90']:.4f} | {s['n_stars']} | {s['n_pixels']} | {seconds:.3f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="exposure side in pixels")
    parser.add_argument("--exposures", type=int, default=2, help="exposures per set")
    parser.add_argument("--cr-rate", type=float, default=1.0, help="cosmic rays per cm^2 per s")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows = run_benchmark(args.size, args.exposures, args.cr_rate)
    text = table(rows)
    header = (f"{args.exposures} exposures of {args.size}x{args.size} px per set, cosmic-ray rate {args.cr_rate} "
              f"/cm^2/s, seeds from {SEED}, held-out footprints; every method fills the true mask "
              f"(`cr_mask | ignore_mask` grown by 1 px, plus `defect_mask`) except astroscrappy, which cleans "
              f"what it detects; scored on the cosmic-ray pixels at least 2 px from a defect; star apertures r = {APERTURE_FWHM} FWHM. "
              f"{time.perf_counter() - start:.0f} s in all.")
    print(header)
    print(text)
    if args.write_docs:
        command = "python benchmarks/inpaint.py " + " ".join(argv if argv is not None else sys.argv[1:])
        write_section("inpaint", "Inpainting", command, f"{header}\n\n{text}")


if __name__ == "__main__":
    main()
