"""Recall of straight cosmic-ray tracks by their angle to the pixel axes, and what is flagged of hot columns.

Seen through a network's view (about 50 px each way for crclean's UNets), a long track along a column and a
hot column are the same picture. This benchmark inserts straight tracks into exposures of the independent
families of `benchmarks/masks.py`, from which their own cosmic rays are removed, and reports the recall of
each track's > 10 sigma pixels at the default threshold, by the track's angle to the nearest pixel axis and
its length. Each track is drawn in steps of 0.1 px with a Gaussian diffusion of sigma 0.5 or 0.8 px; its
charge per pixel of length is deposited gamma-distributed about 40 times the local noise with a spread of 70%;
after diffusion the charge summed across a track varies by 35-50% from pixel to pixel along it (real tracks'
by 30-100%, Landau fluctuations). Half of the tracks lie
near a row, half near a column, tilted either way. A second table gives the fraction of a hot column's
pixels each model flags: one the frame's full height, one from the middle row to the top edge (a charge trap
that spills into the rest of its column), one of 400 rows inside the frame, each 30 sigma above the sky.
Benchmarks count bad columns neither way; a pipeline that passes its bad-pixel mask (DQ) keeps them out of the
cosmic-ray mask. crclean's own models run as `crclean mask` runs them, with its search for long tracks along
the axes (`--without-axis-tracks` adds them without it).

Usage (from the repository root; about 5 minutes on 2 cores for three models)::

    python benchmarks/axis_tracks.py --models crclean-ccd deepcr-decam
    python benchmarks/axis_tracks.py --candidate runs/ccd31/crclean-ccd-v31.pt=ccd-v31 \\
        --models crclean-ccd ccd-v31 deepcr-decam
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _mask_contenders import crclean_model, register_candidates  # noqa: E402
from masks import build_family  # noqa: E402

DEGREES = (0.0, 1.0, 2.0, 4.0, 8.0, 20.0)
LENGTHS = (40, 100, 220)
DIFFUSION_SIGMAS = (0.5, 0.8)
CHARGE_SIGMA = 40.0  # mean charge per pixel of length, in local noise sigma
CHARGE_SPREAD_SHAPE = 2.0  # gamma shape: a spread of 1 / sqrt(2) = 71% of the mean
HOT_COLUMN_SIGMA = 30.0
# A hot column's kinds: the frame's full height, from a charge trap to the readout edge, and a segment that ends
# inside the frame, as a track does (its charge even, where a track's varies).
HOT_COLUMNS = {"full height": slice(None), "half, to the top edge": slice(512, None),
               "rows 300-699, inside": slice(300, 700)}


def paint_track(shape, rng, start, angle, length, diffusion, per_pixel):
    """Charge (e-) of one straight track from ``start`` (y, x) at ``angle`` (radians from the x axis)."""
    image = np.zeros(shape)
    steps = int(length * 10)
    t = np.arange(steps) / 10.0
    ys, xs = start[0] + t * np.sin(angle), start[1] + t * np.cos(angle)
    per_step = rng.gamma(CHARGE_SPREAD_SHAPE, per_pixel / CHARGE_SPREAD_SHAPE, length + 1)[t.astype(int)] / 10.0
    radius = int(np.ceil(3 * diffusion)) + 1
    offsets = np.arange(-radius, radius + 1)
    for y, x, charge in zip(ys, xs, per_step):
        iy, ix = int(round(y)), int(round(x))
        weight = np.exp(-((iy + offsets[:, None] - y) ** 2 + (ix + offsets[None, :] - x) ** 2) / (2 * diffusion**2))
        image[iy - radius:iy + radius + 1, ix - radius:ix + radius + 1] += charge * weight / weight.sum()
    return image


def tracks(shape, rng, degrees, length, diffusion, per_pixel):
    """Eight tracks: four near rows (left part of the frame), four near columns (right part), tilted either way."""
    charge = np.zeros(shape)
    tilt = np.deg2rad(degrees)
    for j in range(4):
        sign = 1 if j % 2 else -1
        charge += paint_track(shape, rng, (100 + 220 * j, 60), sign * tilt, length, diffusion, per_pixel)
        charge += paint_track(shape, rng, (60, 420 + 150 * j), np.pi / 2 + sign * tilt, length, diffusion, per_pixel)
    return charge


def without_own_hits(e):
    """The exposure's image in electrons with its own cosmic rays taken out (noise, scene and defects kept)."""
    return e.image_adu.astype(np.float64) * e.gain - e.cr_electrons


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["crclean-ccd", "deepcr-decam"])
    parser.add_argument("--candidate", action="append", default=[], metavar="CHECKPOINT=LABEL")
    parser.add_argument("--families", nargs="+", default=["rubin_like", "thick_ground"])
    parser.add_argument("--exposures", type=int, default=1, help="exposures per family (default 1)")
    parser.add_argument("--first-exposure", type=int, default=900)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--without-axis-tracks", action="store_true",
                        help="also score each of crclean's models without its search for long tracks along rows "
                             "and columns (crclean mask --no-axis-tracks)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    register_candidates(parser, args.candidate)
    contenders = [crclean_model(name) for name in args.models]
    if args.without_axis_tracks:
        contenders += [crclean_model(name, axis_tracks=False) for name in args.models]
    # Labels, not names: a port's says "(crclean port)", and a model without the axis-track search says so.
    models = {model.label: model for model in contenders}
    rng = np.random.default_rng(20261206)
    found = {}  # (model, degrees, length) -> [flagged, bright]
    hot = {}  # (model, kind) -> fraction flagged
    for family in args.families:
        for e in build_family(family, 1024, args.exposures, args.first_exposure):
            base = without_own_hits(e)
            sigma = np.asarray(e.noise_sigma_electrons, np.float64)
            per_pixel = CHARGE_SIGMA * float(np.median(sigma))
            for degrees in DEGREES:
                for length in LENGTHS:
                    for diffusion in DIFFUSION_SIGMAS:
                        charge = tracks(base.shape, rng, degrees, length, diffusion, per_pixel)
                        bright = charge > 10 * sigma
                        # The exposure object carries the image to every contender, as benchmarks/masks.py's do.
                        e.image_adu = ((base + charge) / e.gain).astype(np.float32)
                        for name, model in models.items():
                            flagged = model.mask(e)[1]
                            tally = found.setdefault((name, degrees, length), [0, 0])
                            tally[0] += int((flagged & bright).sum())
                            tally[1] += int(bright.sum())
            for kind, rows in HOT_COLUMNS.items():
                image = base.copy()
                column = 700
                image[rows, column] += HOT_COLUMN_SIGMA * sigma[rows, column]
                e.image_adu = (image / e.gain).astype(np.float32)
                for name, model in models.items():
                    flagged = model.mask(e)[1]
                    hot.setdefault((name, kind), []).append(float(flagged[rows, column].mean()))
            print(f"{family}: exposure done", file=sys.stderr, flush=True)
    print(f"Recall of the > 10 sigma pixels of straight tracks inserted into {args.exposures} exposure(s) of "
          f"{', '.join(args.families)} (from {args.first_exposure}); {16 * args.exposures} tracks per cell and family, diffusion "
          f"sigma {' and '.join(map(str, DIFFUSION_SIGMAS))} px, {CHARGE_SIGMA:g} sigma per pixel of length.\n")
    print("| model | length (px) | " + " | ".join(f"{d:g} deg" for d in DEGREES) + " |")
    print("|---|---|" + "---|" * len(DEGREES))
    for name in models:
        for length in LENGTHS:
            cells = [found[(name, d, length)] for d in DEGREES]
            print(f"| {name} | {length} | " + " | ".join(f"{f / max(b, 1):.2f}" for f, b in cells) + " |")
    print("\nPooled over lengths (every > 10 sigma pixel counts once):\n")
    print("| model | within 2 deg of an axis | 4 deg and more |")
    print("|---|---|---|")
    for name in models:
        near = np.sum([found[(name, d, length)] for d in DEGREES if d <= 2 for length in LENGTHS], axis=0)
        far = np.sum([found[(name, d, length)] for d in DEGREES if d > 2 for length in LENGTHS], axis=0)
        print(f"| {name} | {near[0] / max(near[1], 1):.3f} | {far[0] / max(far[1], 1):.3f} |")
    print(f"\nFraction of a hot column's pixels flagged ({HOT_COLUMN_SIGMA:g} sigma above the sky; mean over "
          "exposures):\n")
    print("| model | " + " | ".join(HOT_COLUMNS) + " |")
    print("|---|" + "---|" * len(HOT_COLUMNS))
    for name in models:
        print(f"| {name} | " + " | ".join(f"{np.mean(hot[(name, kind)]):.2f}" for kind in HOT_COLUMNS) + " |")


if __name__ == "__main__":
    main()
