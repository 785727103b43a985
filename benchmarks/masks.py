"""Cosmic-ray mask benchmark: every family side by side, crclean's models against deepCR, Cosmic-CoNN and LA Cosmic.

Families (``--families``; all by default):

* ``sim_ground_thin``, ``sim_ground_thick``, ``sim_space``: crclean's own
  training simulator (``simulate_exposure``, split "validation", seeds from
  20,000,000, far from training). An in-family regression guard only: models
  trained on this simulator have seen its kind of hits.
* ``thin_ground``, ``thick_ground``, ``rubin_like``, ``dense_space``,
  ``real_footprints``: the independent generator (``_independent_cosmics.py``:
  separate code, other physics and scenes, never used for training; real LSST
  footprints of the held-out split only). Seeds from 40,000,000.
* ``saao_footprints``: ccdproc's real SAAO frame with held-out footprints injected.
* ``real_frames``: qualitative checks on real frames with no full truth:
  astroscrappy's GMOS cutout (how many of its two known hits each model
  finds) and ccdproc's raw SAAO frame (the fraction of pixels flagged).

Truth everywhere is issue 28's: cosmic-ray charge >= 2 sigma of the local
noise (sigma = sqrt(expected clean electrons + readnoise^2)) off defects; the
ignore band (0 < charge < 2 sigma, or a defect) counts neither way. crclean's
simulator exposures are rescored to it here, whatever threshold the
simulator itself uses.

Columns: TPR at FPR 1e-4 and 1e-3, precision at 95% recall; then at each
model's default threshold (0.5; LA Cosmic sigclip 4.5): recall of pixels
whose charge is > 10 sigma and of 2-3 sigma wing pixels, dice, false flags on
star cores, false flags on pixels saturated in the clean exposure (stars'
cores and bleeds, which the ignore band otherwise hides), the cleaned image's residual over truth pixels (RMS of
(cleaned - clean) / sigma; see ``_mask_contenders.py`` for how each tool
cleans), the hits left in the cleaned image (8-connected groups of truth pixels with a pixel still > 10
sigma off), and seconds per megapixel for the mask (grown masks: growth included). The "truth mask" row fills
the true mask with crclean's default inpainter: the residual a perfect mask gets.

    python benchmarks/masks.py                       # prints the tables
    python benchmarks/masks.py --size 256 --exposures 1 --families thick_ground dense_space
    python benchmarks/masks.py --deepcr-package      # also deepCR's own package beside crclean's port
    python benchmarks/masks.py --write-docs          # also docs/benchmarks.md + ROC plot
    python benchmarks/masks.py --no-anchors --models crclean-ccd --grow-threshold 0.1 --paired crclean-ccd
                                                     # differences from a model, with bootstrap intervals
    python benchmarks/masks.py --first-exposure 256 --exposures 32 --no-anchors \
        --candidate runs/ccd26/crclean-ccd-v26.pt=ccd-v26 --models crclean-ccd ccd-v26
                                                     # a training round's checkpoint against the default
    python benchmarks/masks.py --psf-shear 0.4 --families thin_ground thick_ground
                                                     # stars elongated (axis ratio 0.43) by guiding or optics

The independent families need GalSim (``pip install galsim``) and scipy >= 1.15.
"""

import argparse
import dataclasses
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from _docs import write_section
from _paired import exposure_counts, paired_differences, pooled_counts
from _mask_contenders import contenders, fill, register_candidates

SIM_FAMILIES = {"sim_ground_thin": "ground_thin", "sim_ground_thick": "ground_thick", "sim_space": "space"}
INDEPENDENT_FAMILIES = ("thin_ground", "thick_ground", "rubin_like", "dense_space", "real_footprints")
FAMILIES = (*SIM_FAMILIES, *INDEPENDENT_FAMILIES, "saao_footprints", "real_frames")
SIM_SEED = 20_000_000          # crclean's simulator: far from its training (0...) and validation (10_000_000...) seeds
INDEPENDENT_SEED = 40_000_000
MAX_EXPOSURE = 10_000          # exposures per family: crclean's simulator's seeds stay under INDEPENDENT_SEED
TRUTH_SIGMA, HIGH_SIGMA = 2.0, 10.0
ROOT = Path(__file__).resolve().parent.parent


def _rescored(e):
    """A crclean simulator exposure with issue 28's truth, whatever threshold the simulator used."""
    sigma = np.asarray(e.noise_sigma_electrons)
    cr_mask = (e.cr_electrons >= TRUTH_SIGMA * sigma) & ~e.defect_mask
    ignore = ((e.cr_electrons > 0) & ~cr_mask) | e.defect_mask
    return dataclasses.replace(e, cr_mask=cr_mask, ignore_mask=ignore)


def build_family(name, size, n_exposures, first=0, psf_shear=0.0):
    """The exposures of one scored family: its exposures ``first`` to ``first + n_exposures - 1``; the
    independent generator's PSFs sheared by ``psf_shear`` more (`_independent_cosmics.make_exposure`)."""
    index = FAMILIES.index(name)
    if name in SIM_FAMILIES:
        from crclean.training.simulate import simulate_exposure

        return [_rescored(simulate_exposure((size, size), seed=SIM_SEED + 1000 * i + index,
                                            profile=SIM_FAMILIES[name], split="validation"))
                for i in range(first, first + n_exposures)]
    if name == "saao_footprints":
        from _real_frames import saao_with_footprints

        return saao_with_footprints(n_exposures, INDEPENDENT_SEED + 1000 * index + first)
    from _independent_cosmics import make_family

    return make_family(name, n_exposures, size, INDEPENDENT_SEED + 1000 * index + first, psf_shear)


def _stack(exposures, attribute):
    return np.concatenate([np.asarray(getattr(e, attribute)).ravel() for e in exposures])


def score_family(exposures, runs, counts=None):
    """Scores of one contender's ``runs`` (one `Run` per exposure) against the exposures' truth.

    ``counts``: their `_paired.exposure_counts`, when already made (the recalls at the default threshold,
    star-core flags and hits left are pooled from them).
    """
    from crclean.training.mask import mask_scores

    truth, ignore = _stack(exposures, "cr_mask"), _stack(exposures, "ignore_mask")
    keep = ~ignore
    score = np.concatenate([r.score.ravel() for r in runs])
    flagged = np.concatenate([r.flagged.ravel() for r in runs])
    # The operating-point scores rank pixels; the default-threshold ones use each tool's own mask.
    scores = mask_scores(score, truth, ignore=ignore)
    if truth[keep].any() and np.quantile(score[truth & keep], 0.05, method="lower") <= score[keep].min():
        # 95% recall only by flagging every pixel: a sweep (LA Cosmic) that never gets there.
        scores["precision_at_recall_0.95"] = float("nan")
    if counts is None:
        counts = exposure_counts(exposures, runs, high_sigma=HIGH_SIGMA, hits_left=hits_left)
    pooled = pooled_counts(counts)
    scores["recall_high"], scores["recall_wings"] = float(pooled[0]), float(pooled[1])
    positives = truth & keep
    tp, fp = np.sum(flagged & positives), np.sum(flagged & ~truth & keep)
    scores["dice"] = float(2 * tp / (tp + fp + positives.sum())) if positives.any() else float("nan")
    scores["star_core_fp"] = int(pooled[2])
    # Saturated stars' cores and bleeds are defects, so the ignore band hides them
    # from every score above; users keep those stars, so count them apart.
    if all(getattr(e, "saturated_mask", None) is not None for e in exposures):
        saturated = _stack(exposures, "saturated_mask") & ~truth & (_stack(exposures, "cr_electrons") <= 0)
        scores["saturated_fp"] = int(np.sum(flagged & saturated))
    scores["residual"] = residual(exposures, [r.cleaned_adu for r in runs])
    scores["hits_left"] = int(pooled[3])
    megapixels = sum(e.image_adu.size for e in exposures) / 1e6
    scores["s_per_mpix"] = sum(r.seconds for r in runs) / megapixels
    return scores


def residual(exposures, cleaned):
    """RMS over truth pixels of (cleaned - clean) in units of the local noise sigma."""
    parts = [((c - e.clean_adu) * e.gain / e.noise_sigma_electrons)[e.cr_mask] for e, c in zip(exposures, cleaned)]
    values = np.concatenate(parts).astype(np.float64)
    return float(np.sqrt(np.mean(values ** 2))) if values.size else float("nan")


#: A hit is left in the cleaned image when one of its pixels is still this many noise sigma off the truth.
LEFT_SIGMA = 10.0


def hits_left(exposures, cleaned):
    """How many hits (8-connected groups of truth pixels) keep a pixel > `LEFT_SIGMA` off after cleaning.

    Unlike the RMS, every hit counts once: one missed pixel of a 1000 sigma track moves the RMS over a
    family's hit pixels more than dozens of missed faint hits do.
    """
    from scipy import ndimage

    left = 0
    for e, c in zip(exposures, cleaned):
        off = np.abs((c - e.clean_adu) * e.gain / e.noise_sigma_electrons) > LEFT_SIGMA
        labels, n = ndimage.label(e.cr_mask, structure=np.ones((3, 3)))
        left += int(np.unique(labels[off & e.cr_mask]).size) if n else 0
    return left


def roc_points(score, truth, keep):
    """(FPR, TPR) at up to 400 thresholds in the upper half of the scores (or at every level of a sweep)."""
    positives = np.sort(score[keep & truth])
    negatives = np.sort(score[keep & ~truth])
    levels = np.unique(score[keep])
    # A sweep (LA Cosmic) has a few score levels: use each; a probability map, 400 quantiles spaced in
    # log(1 - q) so that the low false-positive rates, where the columns are read, are resolved.
    quantiles = 1.0 - np.logspace(np.log10(0.5), -7, 400)
    thresholds = levels if levels.size <= 50 else np.unique(np.quantile(score[keep], quantiles))
    tpr = 1 - np.searchsorted(positives, thresholds, side="right") / max(positives.size, 1)
    fpr = 1 - np.searchsorted(negatives, thresholds, side="right") / max(negatives.size, 1)
    return fpr, tpr


def run_families(families, size, n_exposures, tools, progress, first=0, counts=None, psf_shear=0.0):
    """Score every tool on every family; with a dict ``counts``, also fill it with each (family, tool label)'s
    per-exposure counts (`_paired.exposure_counts`)."""
    rows, curves = [], {}
    for family in families:
        progress(f"{family}: making {n_exposures} exposure(s)")
        exposures = build_family(family, size, n_exposures, first, psf_shear)
        truth, keep = _stack(exposures, "cr_mask"), ~_stack(exposures, "ignore_mask")
        for tool in tools:
            progress(f"{family}: {tool.label}")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                runs = [tool.run(e) for e in exposures]
            per_exposure = exposure_counts(exposures, runs, high_sigma=HIGH_SIGMA, hits_left=hits_left)
            rows.append((family, tool.label, score_family(exposures, runs, per_exposure)))
            if counts is not None:
                counts[(family, tool.label)] = per_exposure
            curves[(family, tool.label)] = roc_points(np.concatenate([r.score.ravel() for r in runs]), truth, keep)
        filled = [fill(e, e.cr_mask) for e in exposures]
        rows.append((family, "truth mask (reference)",
                     {"residual": residual(exposures, filled), "hits_left": hits_left(exposures, filled)}))
    return rows, curves


def paired_table(counts, base, first):
    """Markdown table of each model's difference from ``base`` per family, with its bootstrap interval."""
    lines = [f"Difference from {base} (pooled over the exposures; 95% paired bootstrap interval over exposures; "
             "the exposure without which the difference shrinks most):", "",
             "| family | model | recall >10 sigma | recall 2-3 sigma | star-core FP | hits left |",
             "|---|---|---|---|---|---|"]
    formats = {"recall_high": "+.4f", "recall_wings": "+.3f", "star_core_fp": "+.0f", "hits_left": "+.0f"}
    for (family, label), other in counts.items():
        if label == base or (family, base) not in counts:
            continue
        differences = paired_differences(counts[(family, base)], other)
        cells = []
        for name, form in formats.items():
            value, low, high, driver = differences[name]
            where = "" if driver is None else f", most from {first + driver}"
            cells.append(f"{value:{form}} [{low:{form}}, {high:{form}}]{where}")
        lines.append(f"| {family} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def real_frame_checks(tools, progress):
    """GMOS: known hits found, hit pixels flagged, other pixels flagged; SAAO: flagged fraction."""
    from _real_frames import gmos_frame, gmos_reference_hits, saao_frame

    gmos, saao, hits = gmos_frame(), saao_frame(), gmos_reference_hits()
    any_hit = np.logical_or.reduce(hits)
    rows = []
    for tool in tools:
        progress(f"real frames: {tool.label}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g, s = tool.run(gmos).flagged, tool.run(saao).flagged
        found = sum(int(g[h].mean() >= 0.5) for h in hits)
        rows.append((tool.label, found, float(g[any_hit].mean()), int(np.sum(g & ~_grown(any_hit))),
                     float(s.mean())))
    return rows


def _grown(mask):
    from scipy import ndimage

    return ndimage.binary_dilation(mask, iterations=2)


def _cell(value, digits=4):
    if isinstance(value, (int, np.integer)):
        return str(value)
    return "-" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def table(rows):
    keys = (("tpr_at_fpr_1e-4", 4), ("tpr_at_fpr_1e-3", 4), ("precision_at_recall_0.95", 4), ("recall_high", 4),
            ("recall_wings", 4), ("dice", 4), ("star_core_fp", 0), ("saturated_fp", 0), ("residual", 2),
            ("hits_left", 0), ("s_per_mpix", 2))
    lines = ["| family | model | TPR@FPR 1e-4 | TPR@FPR 1e-3 | precision@95% recall | recall >10 sigma | "
             "recall 2-3 sigma | dice | star-core FP | saturated FP | residual (sigma) | hits left | s/Mpx |",
             "|---|---|" + "---|" * len(keys)]
    for family, label, s in rows:
        lines.append(f"| {family} | {label} | " + " | ".join(_cell(s.get(k), d) for k, d in keys) + " |")
    return "\n".join(lines)


def real_table(rows):
    lines = ["| model | GMOS known hits found (of 2) | GMOS hit pixels flagged | GMOS other pixels flagged | "
             "SAAO raw frame: fraction flagged |", "|---|---|---|---|---|"]
    for label, found, hit_fraction, others, saao in rows:
        lines.append(f"| {label} | {found} | {hit_fraction:.3f} | {others} | {saao:.2e} |")
    return "\n".join(lines)


def plot(curves, families, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(4, len(families))
    rows = int(np.ceil(len(families) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(5 * columns, 4.2 * rows), squeeze=False)
    for axis, family in zip(axes.ravel(), families):
        for (name, label), (fpr, tpr) in curves.items():
            if name == family:
                style = "o-" if "LA Cosmic" in label else "-"
                axis.plot(np.maximum(fpr, 1e-7), tpr, style, label=label, markersize=3)
        axis.set_xscale("log")
        axis.set_xlim(1e-6, 1e-1)
        axis.set_ylim(0, 1)
        axis.set_xlabel("false-positive rate (pixels)")
        axis.set_ylabel("true-positive rate (pixels)")
        axis.set_title(family)
        axis.grid(alpha=0.3)
    for axis in axes.ravel()[len(families):]:
        axis.axis("off")
    axes[0, 0].legend(fontsize=6, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=80)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", choices=FAMILIES, default=list(FAMILIES), metavar="FAMILY",
                        help=f"families to score (default: all): {', '.join(FAMILIES)}")
    parser.add_argument("--size", type=int, default=1024, help="exposure side in pixels (simulated families)")
    parser.add_argument("--exposures", type=int, default=2, help="exposures per family")
    parser.add_argument("--first-exposure", type=int, default=0, metavar="N",
                        help="start at each family's exposure N (default 0), e.g. to score a model on "
                             "exposures that no earlier decision looked at")
    parser.add_argument("--models", nargs="*", default=None,
                        help="crclean's own models to score (default: its networks that are not ports)")
    parser.add_argument("--deepcr-package", action="store_true",
                        help="also run deepCR's own package (it duplicates crclean's port)")
    parser.add_argument("--candidate", action="append", default=[], metavar="CHECKPOINT=LABEL",
                        help="score a mask checkpoint (a training round's) as model LABEL, built like crclean-ccd; "
                             "name LABEL in --models (repeatable)")
    parser.add_argument("--no-anchors", action="store_true",
                        help="leave out deepCR, Cosmic-CoNN and LA Cosmic (to decide between crclean's models)")
    parser.add_argument("--grow-threshold", type=float, default=None, metavar="P",
                        help="also score each of crclean's models with its masks grown into pixels above P "
                             "that touch them (crclean mask --grow-threshold)")
    parser.add_argument("--without-axis-tracks", action="store_true",
                        help="also score each of crclean's models without the search for long tracks along rows "
                             "and columns (crclean mask --no-axis-tracks)")
    parser.add_argument("--without-star-check", action="store_true",
                        help="also score each of crclean's models without taking back the flags on stars that "
                             "the frame's other stars explain (crclean mask --no-star-check)")
    parser.add_argument("--paired", default=None, metavar="MODEL",
                        help="also print each other model's difference from MODEL (a label of the table) on "
                             "the pooled scores, with a 95%% paired bootstrap interval over the exposures and "
                             "the exposure that moves it most")
    parser.add_argument("--psf-shear", type=float, default=0.0, metavar="G",
                        help="shear every PSF of the independent families by G more, in a direction drawn per "
                             "exposure (0.4: a round star's axis ratio becomes 0.43), as guiding errors and "
                             "optics elongate stars; scenes, hits and noise stay those of the same exposure")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md and the ROC plot")
    args = parser.parse_args(argv)
    if args.size < 64 or args.exposures < 1:
        parser.error(f"--size must be >= 64 and --exposures >= 1, got {args.size} and {args.exposures}")
    if args.grow_threshold is not None and not 0 < args.grow_threshold < 0.5:
        parser.error(f"--grow-threshold must lie between 0 and the default threshold 0.5, got {args.grow_threshold}")
    if not 0.0 <= args.psf_shear < 1.0:
        parser.error(f"--psf-shear must lie in [0, 1), got {args.psf_shear}")
    # Exposure 1000 + j of one family has the integer seed of the next family's exposure j, but no family shares
    # a generator stream with another (the independent generator mixes the family's name into its seed, crclean's
    # simulator interleaves families, the SAAO injections are one family); past 10,000, crclean's simulator would
    # reach the independent generator's seeds.
    if not 0 <= args.first_exposure or args.first_exposure + args.exposures > MAX_EXPOSURE:
        parser.error(f"--first-exposure must be >= 0, and with --exposures at most {MAX_EXPOSURE}, "
                     f"got {args.first_exposure}")
    from crclean import weights

    register_candidates(parser, args.candidate)
    own = args.models if args.models is not None else [
        name for name, spec in weights.MODELS.items() if spec.kind == "network" and spec.package is None]
    import torch

    def progress(message):
        if not args.quiet:
            print(f"[masks] {message}", file=sys.stderr, flush=True)

    start = time.perf_counter()
    tools = contenders(own, deepcr_package_runs=args.deepcr_package, anchors=not args.no_anchors, warn=progress,
                       grow_threshold=args.grow_threshold, without_axis_tracks=args.without_axis_tracks,
                       without_star_check=args.without_star_check)
    scored = [f for f in args.families if f != "real_frames"]
    counts = {} if args.paired is not None else None
    if args.paired is not None and args.paired not in [tool.label for tool in tools]:
        parser.error(f"--paired {args.paired!r} is not one of the models scored: "
                     f"{', '.join(tool.label for tool in tools)}")
    rows, curves = run_families(scored, args.size, args.exposures, tools, progress, args.first_exposure, counts,
                                args.psf_shear)
    real_rows = real_frame_checks(tools, progress) if "real_frames" in args.families else []
    last = args.first_exposure + args.exposures - 1
    span = f" (exposures {args.first_exposure}-{last})" if args.first_exposure else ""
    if args.psf_shear:
        span += f", the independent families' PSFs sheared by g = {args.psf_shear:g} more,"
    header = (f"{args.exposures} exposure(s){span} of {args.size}x{args.size} px per simulated family "
              f"(saao_footprints: {args.exposures} injections into the 512x510 frame); truth: cosmic-ray charge "
              f">= 2 sigma of the local noise; CPU, {torch.get_num_threads()} threads; "
              f"{time.perf_counter() - start:.0f} s in all.")
    text = table(rows)
    print(header)
    print(text)
    if real_rows:
        print()
        print(real_table(real_rows))
    if counts:
        print()
        print(paired_table(counts, args.paired, args.first_exposure))
    if args.write_docs:
        plot(curves, scored, ROOT / "docs" / "benchmarks_masks_roc.png")
        command = "python benchmarks/masks.py " + " ".join(argv if argv is not None else sys.argv[1:])
        body = f"{header}\n\n{text}\n\n"
        if real_rows:
            body += f"Real frames (qualitative):\n\n{real_table(real_rows)}\n\n"
        write_section("masks", "Cosmic-ray masks", command, body + "![ROC curves](benchmarks_masks_roc.png)")


if __name__ == "__main__":
    main()
