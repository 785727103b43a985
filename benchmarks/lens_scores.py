"""Are small lenses scored low because of the score calibration, or because the detector is unsure?

Runs a lens model's network over the held-out windows its score calibration
was fitted on (``calibration_set`` of its training config: the validation stamp
bank, the calibration stream) and prints two tables:

1. By Einstein radius: how many lenses some box matches at IoU >= 0.5 (the
   detector's ten best boxes per window), their median IoU, their median
   calibrated score and the share of them at calibrated score >= 0.9. Lenses
   that are well boxed but scored low are not being mislocated.
2. The Platt fit (Platt 1999) of "this detection matches a lens" on the
   score's logit, with and without a term in the log of the box side, and the
   likelihood-ratio statistic of that term (chi-square, one degree of freedom:
   above 3.8 it matters at 95%). Then the precision of detections by box size
   at calibrated 0.5, 0.7 and 0.9. If precision does not depend on box size,
   a size-aware calibration cannot lift small lenses without letting in as
   many false detections.

Usage::

    python benchmarks/lens_scores.py [--model NAME | --checkpoint PATH --calibration SLOPE OFFSET]
                                     [--config TOML] [--bank-dir DIR] [--threads 1]
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from lenses import _finder_spec, _network, add_checkpoint_options, check_checkpoint_options

CONFIGS = Path(__file__).resolve().parents[1] / "crclean" / "training" / "configs"
THETA_BINS = ((0.5, 1.0), (1.0, 1.5), (1.5, 2.0), (2.0, 3.01))
SIDE_BINS = ((0, 16), (16, 22), (22, 30), (30, 1000))


def _config_for(model):
    """The training config whose ``name`` is ``model``."""
    from crclean.training.lenses import load_lens_config

    for path in sorted(CONFIGS.glob("lenses-*.toml")):
        if load_lens_config(path)["name"] == model:
            return path
    raise SystemExit(f"no training config names {model}; pass --config")


def _detections(network, windows, theta_e):
    """Per true lens: (theta_E, best IoU, raw score of that box); per detection: (raw score, hit, side)."""
    import torch

    from crclean.training.lenses._calibrate import detect_windows
    from crclean.training.lenses._metrics import iou_matrix, match_detections

    lenses, detections = [], []
    with torch.no_grad():
        for start in range(0, len(windows), 16):
            chunk = windows[start:start + 16]
            found_in = detect_windows(network, [image for image, _ in chunk], top_k=10, min_score=0.01)
            for (_, truth), radii, found in zip(chunk, theta_e[start:start + 16], found_in):
                boxes, scores = found["boxes"].numpy(), found["scores"].numpy()
                for column in range(len(truth)):
                    overlap = iou_matrix(boxes, truth[column:column + 1])[:, 0] if len(boxes) else np.zeros(1)
                    best = int(np.argmax(overlap))
                    lenses.append((radii[column], overlap[best], scores[best] if len(boxes) else 0.0))
                # What the calibration was fitted on: the best 3 (scores come best first) from 0.05 up.
                kept = scores[:3] >= 0.05
                boxes, scores = boxes[:3][kept], scores[:3][kept]
                hits = match_detections(boxes, scores, truth)
                sides = (boxes[:, 2] - boxes[:, 0] + boxes[:, 3] - boxes[:, 1]) / 2
                detections.extend(zip(scores, hits, sides))
    return np.array(lenses, float).reshape(-1, 3), np.array(detections, float).reshape(-1, 3)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="lens model name (default: crclean's default lens model)")
    add_checkpoint_options(parser)
    parser.add_argument("--config", help="the model's training config (default: the one whose name is the model's)")
    parser.add_argument("--bank-dir", help="keep the rendered validation bank here (default: a temporary folder)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    check_checkpoint_options(parser, args)

    import torch

    from crclean.lenses import DEFAULT_LENS_MODEL
    from crclean.lenses._manifest import load_lens_network
    from crclean.training.lenses import load_lens_config
    from crclean.training.lenses._calibrate import fit_logistic, score_logit
    from crclean.training.lenses._train import _bank, calibration_set

    torch.set_num_threads(args.threads)
    model = args.model or DEFAULT_LENS_MODEL
    spec = _finder_spec(args, model)
    if args.checkpoint and not (args.config and args.calibration):
        parser.error("--checkpoint needs --config and --calibration")
    network = _network(args.checkpoint) if args.checkpoint else load_lens_network(spec)
    config = load_lens_config(args.config or _config_for(model))
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.bank_dir or scratch
        Path(folder).mkdir(parents=True, exist_ok=True)
        bank = _bank(config, config["seed"] + config["val_bank_seed_offset"], folder, print, shrink=4)
        windows, theta_e = calibration_set(config, bank)
    lenses, detections = _detections(network, windows, theta_e)

    def calibrated(raw):
        return 1 / (1 + np.exp(-(spec.score_slope * score_logit(raw) + spec.score_offset)))

    name = args.checkpoint or model
    print(f"\n{name} on {len(windows)} held-out windows of {config['name']}'s calibration set\n")
    print("| theta_E (arcsec) | lenses | boxed at IoU >= 0.5 | median IoU | median score | score >= 0.9 |")
    print("|---|---|---|---|---|---|")
    theta, iou, raw = lenses.T
    for low, high in THETA_BINS:
        chosen = (theta >= low) & (theta < high)
        boxed = chosen & (iou >= 0.5)
        if not boxed.any():
            continue
        print(f"| {low:g}-{min(high, 3):g} | {chosen.sum()} | {boxed.sum() / chosen.sum():.2f} | {np.median(iou[boxed]):.2f} "
              f"| {np.median(calibrated(raw[boxed])):.2f} | {np.mean(calibrated(raw[boxed]) >= 0.9):.2f} |")

    scores, hits, sides = detections.T
    ones = np.ones_like(scores)
    plain, plain_nll = fit_logistic(np.stack([score_logit(scores), ones], 1), hits, start=[1.0, 0.0])
    sized, sized_nll = fit_logistic(np.stack([score_logit(scores), np.log(sides / 20.0), ones], 1), hits,
                                    start=[1.0, 0.0, 0.0])
    print(f"\n{len(scores)} detections (top 3 per window, raw score >= 0.05), {int(hits.sum())} true")
    print(f"plain Platt: slope {plain[0]:.3f}, offset {plain[1]:.3f}")
    print(f"with log(side / 20 px): slope {sized[0]:.3f}, size term {sized[1]:+.3f}, offset {sized[2]:.3f}; "
          f"likelihood-ratio statistic {2 * (plain_nll - sized_nll):.1f}\n")
    print("| box side (px) | " + " | ".join(f"precision at {t} (n)" for t in (0.5, 0.7, 0.9)) + " |")
    print("|---|---|---|---|")
    for low, high in SIDE_BINS:
        cells = []
        for threshold in (0.5, 0.7, 0.9):
            chosen = (sides >= low) & (sides < high) & (calibrated(scores) >= threshold)
            cells.append(f"{hits[chosen].mean():.2f} ({chosen.sum()})" if chosen.any() else "- (0)")
        print(f"| {low}-{high if high < 1000 else 'up'} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
