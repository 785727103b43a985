"""Pixel-level scores of a cosmic-ray probability map against the truth.

Pixels in the ignore mask (charge too faint to tell from noise, or on a
detector defect) count neither way. The operating points follow deepCR's
evaluation (Zhang & Bloom 2020): true-positive rate at a fixed false-positive
rate, and precision at a fixed recall.
"""

import numpy as np

__all__ = ["mask_scores"]


def _threshold_at_fpr(negatives, fpr):
    """Smallest threshold whose false-positive rate on ``negatives`` is <= ``fpr``."""
    if negatives.size == 0:
        return 0.5
    k = int(np.floor(fpr * negatives.size))
    ordered = np.sort(negatives)[::-1]
    # Flagging the k highest negatives is allowed; ties above the cut are not.
    return ordered[k] if k < ordered.size else -np.inf


def mask_scores(probability, truth, *, ignore=None, threshold=0.5, star_cores=None):
    """Scores of one or many probability maps.

    Parameters
    ----------
    probability : numpy.ndarray
        Probabilities (any shape).
    truth : numpy.ndarray of bool
        Cosmic-ray pixels.
    ignore : numpy.ndarray of bool, optional
        Pixels left out of every score.
    threshold : float, optional
        Threshold for the dice score and the star-core count.
    star_cores : numpy.ndarray of bool, optional
        Star-core pixels; false positives there are counted separately.

    Returns
    -------
    dict
        ``tpr_at_fpr_1e-4``, ``tpr_at_fpr_1e-3``, ``precision_at_recall_0.95``,
        ``dice``, ``n_truth``, ``star_core_fp`` (when ``star_cores`` is given).
    """
    probability = np.asarray(probability, dtype=np.float64).ravel()
    truth = np.asarray(truth, dtype=bool).ravel()
    keep = np.ones_like(truth) if ignore is None else ~np.asarray(ignore, dtype=bool).ravel()
    positives, negatives = probability[keep & truth], probability[keep & ~truth]
    scores = {"n_truth": int(positives.size)}
    for fpr in (1e-4, 1e-3):
        cut = _threshold_at_fpr(negatives, fpr)
        scores[f"tpr_at_fpr_{fpr:.0e}".replace("e-0", "e-")] = (
            float(np.mean(positives > cut)) if positives.size else float("nan"))
    if positives.size:
        cut = np.quantile(positives, 0.05, method="lower")  # 95% of positives are >= cut
        tp = np.sum(positives >= cut)
        fp = np.sum(negatives >= cut)
        scores["precision_at_recall_0.95"] = float(tp / (tp + fp))
    else:
        scores["precision_at_recall_0.95"] = float("nan")
    flagged_pos = np.sum(positives > threshold)
    flagged_neg = np.sum(negatives > threshold)
    scores["dice"] = float(2 * flagged_pos / (flagged_pos + flagged_neg + positives.size)) \
        if positives.size else float("nan")
    if star_cores is not None:
        cores = np.asarray(star_cores, dtype=bool).ravel() & keep & ~truth
        scores["star_core_fp"] = int(np.sum(probability[cores] > threshold))
    return scores
