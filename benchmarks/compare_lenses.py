"""Is one lens finder's AP@50 really above another's on the same benchmark tiles?

Reads two or more runs saved by ``benchmarks/lenses.py --save-detections`` on
the same tiles (same simulator, seed and tile size) and redraws the tiles with
replacement (`crclean.training.lenses.paired_tile_bootstrap`; Efron &
Tibshirani 1993), the same draws for every run. Prints each run's AP@50 with a
95% interval, and for each run after the first its difference from the first:
the 95% interval of the difference and the share of draws in which it is
above the first. With 120 lenses a single AP@50 is uncertain by several
hundredths; the paired difference is what an adoption decision needs.

Usage::

    python benchmarks/compare_lenses.py BASE.npz OTHER.npz [MORE.npz ...] [--resamples 2000] [--seed 0]
"""

import argparse
from pathlib import Path

import numpy as np

META = ("simulator", "seed", "size", "bands")


def load_run(path):
    """Per-tile (scores, hits), per-tile lens counts and the run's metadata."""
    with np.load(path) as saved:
        n_truth = saved["n_truth"]
        tile, scores, hits = saved["tile"], saved["scores"], saved["hits"]
        meta = {key: saved[key].item() for key in ("simulator", "seed", "size", "model", "views")}
        meta["bands"] = saved["bands"].item() if "bands" in saved else ""  # runs saved before --bands
    tiles = [(scores[tile == index], hits[tile == index]) for index in range(len(n_truth))]
    return tiles, n_truth, meta


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="files written by benchmarks/lenses.py --save-detections")
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if len(args.runs) < 2:
        parser.error("give at least two runs to compare")
    missing = [path for path in args.runs if not Path(path).is_file()]
    if missing:
        parser.error(f"no such run file: {', '.join(missing)}; write one with benchmarks/lenses.py --save-detections")

    from crclean.training.lenses import average_precision, paired_tile_bootstrap

    loaded = [load_run(path) for path in args.runs]
    first_truth, first_meta = loaded[0][1], loaded[0][2]
    for path, (_, n_truth, meta) in zip(args.runs[1:], loaded[1:]):
        different = [key for key in META if meta[key] != first_meta[key]]
        if different or not np.array_equal(n_truth, first_truth):
            parser.error(f"{path} was run on other tiles than {args.runs[0]} "
                         f"({', '.join(different) or 'lens counts'} differ); rerun both with the same options")
    draws = paired_tile_bootstrap([tiles for tiles, _, _ in loaded], first_truth, resamples=args.resamples,
                                  seed=args.seed)
    low, high = np.percentile(draws, [2.5, 97.5], axis=0)
    print(f"{first_meta['simulator']} tiles (seed {first_meta['seed']}): {len(first_truth)} tiles, "
          f"{int(first_truth.sum())} lenses; {args.resamples} paired tile resamples\n")
    print("| run | views | AP@50 | 95% interval | minus the first: 95% interval | draws above the first |")
    print("|---|---|---|---|---|---|")
    for column, (tiles, _, meta) in enumerate(loaded):
        ap = average_precision(np.concatenate([s for s, _ in tiles]), np.concatenate([h for _, h in tiles]),
                               int(first_truth.sum()))
        if column:
            difference = draws[:, column] - draws[:, 0]
            d_low, d_high = np.percentile(difference, [2.5, 97.5])
            versus = f"{d_low:+.3f} to {d_high:+.3f} | {np.mean(difference > 0):.2f}"
        else:
            versus = "- | -"
        print(f"| {meta['model']} | {meta['views']} | {ap:.3f} | {low[column]:.3f}-{high[column]:.3f} | {versus} |")


if __name__ == "__main__":
    main()
