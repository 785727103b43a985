"""Cosmic-ray mask benchmark: crclean's models against deepCR, Cosmic-CoNN and LA Cosmic.

Every model scores the same held-out simulated exposures (seeds and LSST
footprints never used in training) of three kinds: a thin ground CCD, a
thick (deep-depletion) ground CCD with real LSST cosmic rays, and an HST-like
space CCD. Each model gets the units it was built for (deepCR DECam: ADU;
deepCR ACS/WFC, Cosmic-CoNN and LA Cosmic: electrons; crclean: any).

    python benchmarks/masks.py                       # prints the table
    python benchmarks/masks.py --write-docs          # also docs/benchmarks.md + ROC plot

Metrics are pixel-level and skip the ignore band (charge below 3 sigma or on
defects): TPR at FPR 1e-4 and 1e-3, precision at 95% recall, dice at each
model's default threshold (0.5; LA Cosmic at sigclip 4.5), false positives on
star cores at that threshold, and seconds per megapixel on this machine.
LA Cosmic gives a mask, not a probability, so its ROC comes from a sweep of
sigclip; its TPR at a given FPR is the best sweep point within that FPR.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from _docs import write_section

from crclean.training.mask import mask_scores
from crclean.training.simulate import simulate_exposure

SETS = {"ground thin CCD": "ground_thin", "ground thick CCD": "ground_thick", "space (HST-like)": "space"}
SEED = 20_000_000  # far from the training (0...) and validation (10_000_000...) seeds
LACOSMIC_SIGCLIPS = (3.0, 4.5, 6.0, 9.0, 15.0, 30.0)
ROOT = Path(__file__).resolve().parent.parent


def build_sets(size, n_exposures, cr_rate):
    sets = {}
    for label, profile in SETS.items():
        sets[label] = [simulate_exposure((size, size), seed=SEED + 1000 * i + len(sets), profile=profile,
                                         split="validation", cr_rate=cr_rate) for i in range(n_exposures)]
    return sets


def crclean_model(name):
    from crclean import Cleaner

    cleaner = Cleaner(name, inpaint=None, device="cpu").load()
    return lambda e: cleaner.clean_array(e.image_adu, units="adu", gain=e.gain, readnoise=e.readnoise,
                                         label="benchmark").probability


def deepcr_package(name, units):
    from deepCR import deepCR

    model = deepCR(mask=name, device="CPU")

    def run(e):
        image = e.image_adu if units == "adu" else e.image_adu * e.gain
        return model.clean(image, binary=False, segment=True, patch=256)

    return run


def cosmic_conn(name):
    import logging

    from cosmic_conn import init_model

    model = init_model(name)
    logging.getLogger().setLevel(logging.WARNING)
    return lambda e: model.detect_cr((e.image_adu * e.gain).astype(np.float32), ret_numpy=True)


def lacosmic_masks(e):
    import astroscrappy

    out = {}
    for sigclip in LACOSMIC_SIGCLIPS:
        mask, _ = astroscrappy.detect_cosmics(e.image_adu * e.gain, gain=1.0, readnoise=e.readnoise,
                                              sigclip=sigclip, objlim=5.0, satlevel=np.inf)
        out[sigclip] = mask
    return out


def contenders(own_models):
    runs = {name: crclean_model(name) for name in own_models}
    runs["deepCR DECam (crclean port)"] = crclean_model("deepcr-decam")
    runs["deepCR DECam (deepCR package)"] = deepcr_package("decam", "adu")
    runs["deepCR ACS-WFC (crclean port)"] = crclean_model("deepcr-acs-wfc")
    runs["deepCR ACS-WFC (deepCR package)"] = deepcr_package("ACS-WFC", "electron")
    try:
        runs["Cosmic-CoNN ground_imaging"] = cosmic_conn("ground_imaging")
        runs["Cosmic-CoNN HST_ACS_WFC"] = cosmic_conn("HST_ACS_WFC")
    except ImportError:
        print("cosmic-conn is not installed: pip install cosmic-conn torch==2.13.0", file=sys.stderr)
    return runs


def roc_points(probability, truth, keep):
    positives = np.sort(probability[keep & truth])
    negatives = np.sort(probability[keep & ~truth])
    thresholds = np.unique(np.quantile(probability[keep], np.linspace(0.5, 1.0, 400)))
    tpr = 1 - np.searchsorted(positives, thresholds, side="right") / max(positives.size, 1)
    fpr = 1 - np.searchsorted(negatives, thresholds, side="right") / max(negatives.size, 1)
    return fpr, tpr


def score_lacosmic(exposures):
    truth = np.concatenate([e.cr_mask.ravel() for e in exposures])
    keep = ~np.concatenate([e.ignore_mask.ravel() for e in exposures])
    cores = np.concatenate([e.star_core_mask.ravel() for e in exposures])
    start = time.perf_counter()
    sweeps = [lacosmic_masks(e) for e in exposures]
    seconds = (time.perf_counter() - start) / len(LACOSMIC_SIGCLIPS)
    points = []
    for sigclip in LACOSMIC_SIGCLIPS:
        flagged = np.concatenate([s[sigclip].ravel() for s in sweeps])
        tp, fp = np.sum(flagged & truth & keep), np.sum(flagged & ~truth & keep)
        points.append((sigclip, fp / np.sum(~truth & keep), tp / np.sum(truth & keep), tp, fp))
    default = next(p for p in points if p[0] == 4.5)
    scores = {f"tpr_at_fpr_{f}": max([p[2] for p in points if p[1] <= fv] or [0.0])
              for f, fv in (("1e-4", 1e-4), ("1e-3", 1e-3))}
    recall_ok = [p for p in points if p[2] >= 0.95]
    scores["precision_at_recall_0.95"] = max([p[3] / (p[3] + p[4]) for p in recall_ok], default=float("nan"))
    scores["dice"] = 2 * default[3] / (default[3] + default[4] + np.sum(truth & keep))
    flagged = np.concatenate([s[4.5].ravel() for s in sweeps])
    scores["star_core_fp"] = int(np.sum(flagged & cores & ~truth & keep))
    return scores, seconds, ([p[1] for p in points], [p[2] for p in points])


def run_benchmark(size, n_exposures, cr_rate, own_models):
    sets = build_sets(size, n_exposures, cr_rate)
    runs = contenders(own_models)
    rows, curves = [], {}
    megapixels = size * size * n_exposures / 1e6
    for set_label, exposures in sets.items():
        truth = np.concatenate([e.cr_mask.ravel() for e in exposures])
        keep = ~np.concatenate([e.ignore_mask.ravel() for e in exposures])
        cores = np.concatenate([e.star_core_mask.ravel() for e in exposures])
        for model_label, run in runs.items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                probability = np.concatenate([np.asarray(run(e), np.float64).ravel() for e in exposures])
            seconds = time.perf_counter() - start
            scores = mask_scores(probability, truth, ignore=~keep, star_cores=cores)
            rows.append((set_label, model_label, scores, seconds / megapixels))
            curves[(set_label, model_label)] = roc_points(probability, truth, keep)
        scores, seconds, curve = score_lacosmic(exposures)
        rows.append((set_label, "LA Cosmic (astroscrappy)", scores, seconds / megapixels))
        curves[(set_label, "LA Cosmic (astroscrappy)")] = curve
    return rows, curves, sets


def table(rows):
    lines = ["| set | model | TPR@FPR 1e-4 | TPR@FPR 1e-3 | precision@95% recall | dice | star-core FP | s/Mpx |",
             "|---|---|---|---|---|---|---|---|"]
    for set_label, model_label, s, seconds in rows:
        lines.append(f"| {set_label} | {model_label} | {s['tpr_at_fpr_1e-4']:.4f} | {s['tpr_at_fpr_1e-3']:.4f} | "
                     f"{s['precision_at_recall_0.95']:.4f} | {s['dice']:.4f} | {s['star_core_fp']} | {seconds:.2f} |")
    return "\n".join(lines)


def plot(curves, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    set_labels = list(SETS)
    figure, axes = plt.subplots(1, len(set_labels), figsize=(6 * len(set_labels), 5))
    for axis, set_label in zip(axes, set_labels):
        for (label_set, model_label), (fpr, tpr) in curves.items():
            if label_set == set_label:
                style = "o-" if "LA Cosmic" in model_label else "-"
                axis.plot(np.maximum(fpr, 1e-7), tpr, style, label=model_label, markersize=3)
        axis.set_xscale("log")
        axis.set_xlim(1e-6, 1e-1)
        axis.set_ylim(0, 1)
        axis.set_xlabel("false-positive rate (pixels)")
        axis.set_ylabel("true-positive rate (pixels)")
        axis.set_title(set_label)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=90)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="exposure side in pixels")
    parser.add_argument("--exposures", type=int, default=2, help="exposures per set")
    parser.add_argument("--cr-rate", type=float, default=1.0, help="cosmic rays per cm^2 per s")
    parser.add_argument("--models", nargs="*", default=None, help="crclean's own models to score")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md and the ROC plot")
    args = parser.parse_args(argv)
    from crclean.weights import MODELS

    own = args.models if args.models is not None else [
        name for name, spec in MODELS.items() if spec.kind == "network" and spec.package is None]
    import torch

    start = time.perf_counter()
    rows, curves, _ = run_benchmark(args.size, args.exposures, args.cr_rate, own)
    text = table(rows)
    header = (f"{args.exposures} exposures of {args.size}x{args.size} px per set, cosmic-ray rate "
              f"{args.cr_rate} /cm^2/s, seeds from {SEED}, held-out footprints; CPU, "
              f"{torch.get_num_threads()} threads; {time.perf_counter() - start:.0f} s in all.")
    print(header)
    print(text)
    if args.write_docs:
        plot(curves, ROOT / "docs" / "benchmarks_masks_roc.png")
        command = "python benchmarks/masks.py " + " ".join(argv if argv is not None else sys.argv[1:])
        write_section("masks", "Cosmic-ray masks", command,
                      f"{header}\n\n{text}\n\n![ROC curves](benchmarks_masks_roc.png)")


if __name__ == "__main__":
    main()
