"""Detection metrics: greedy IoU matching and average precision (VOC style).

References
----------
Everingham, M. et al. 2010, "The Pascal Visual Object Classes (VOC)
Challenge", IJCV 88, 303 (all-point interpolated AP).
Efron, B. & Tibshirani, R. J. 1993, "An Introduction to the Bootstrap",
Chapman & Hall (resampling whole tiles for the uncertainty of AP).
"""

import numpy as np

__all__ = ["iou_matrix", "match_detections", "average_precision", "paired_tile_bootstrap"]


def iou_matrix(boxes1, boxes2):
    """Pairwise IoU of ``xyxy`` numpy boxes, shape ``(len(boxes1), len(boxes2))``."""
    a, b = np.asarray(boxes1, float).reshape(-1, 4), np.asarray(boxes2, float).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12)


def match_detections(boxes, scores, truth, *, iou_threshold=0.5):
    """Greedy matching, best score first: which detections are true positives.

    Returns
    -------
    numpy.ndarray of bool
        One flag per detection (in the given order).
    """
    scores = np.asarray(scores, float)
    hits = np.zeros(len(scores), bool)
    truth = np.asarray(truth, float).reshape(-1, 4)
    if len(truth) == 0 or len(scores) == 0:
        return hits
    iou = iou_matrix(boxes, truth)
    taken = np.zeros(len(truth), bool)
    for index in np.argsort(-scores, kind="stable"):
        candidates = np.where(~taken & (iou[index] >= iou_threshold))[0]
        if len(candidates):
            best = candidates[np.argmax(iou[index, candidates])]
            taken[best] = hits[index] = True
    return hits


def average_precision(scores, hits, n_truth):
    """All-point interpolated AP of detections pooled over images.

    Parameters
    ----------
    scores : array_like
        Scores of all detections.
    hits : array_like of bool
        Whether each is a true positive (from `match_detections`).
    n_truth : int
        Number of true objects.
    """
    if n_truth <= 0:
        raise ValueError(f"n_truth must be positive, got {n_truth}")
    order = np.argsort(-np.asarray(scores, float), kind="stable")
    hits = np.asarray(hits, bool)[order]
    tp, fp = np.cumsum(hits), np.cumsum(~hits)
    recall = np.concatenate([[0.0], tp / n_truth, [tp[-1] / n_truth if len(tp) else 0.0]])
    precision = np.concatenate([[1.0], tp / np.maximum(tp + fp, 1), [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(recall) * precision[1:]))


def paired_tile_bootstrap(runs, n_truth, *, resamples=2000, seed=0):
    """AP of several detectors on the same tiles, each tile set redrawn with replacement.

    Detections and lenses of one tile are not independent (one sky, one
    crowding), so whole tiles are resampled; every run sees the same draws,
    which makes the spread of a difference between runs much smaller than
    that of either AP.

    Parameters
    ----------
    runs : sequence of sequences of (scores, hits)
        One entry per detector; each holds, per tile and in the same tile
        order, the scores of its detections and whether each is a true
        positive (`match_detections`).
    n_truth : sequence of int
        True objects per tile.
    resamples : int, optional
        Bootstrap draws.
    seed : int, optional
        Seed of the draws, so that a comparison can be repeated exactly.

    Returns
    -------
    numpy.ndarray
        ``(resamples, len(runs))`` AP of each run on each draw.

    Raises
    ------
    ValueError
        If a run does not cover the same number of tiles as ``n_truth``, or
        there are no true objects at all.
    """
    n_truth = np.asarray(n_truth, int)
    if n_truth.sum() <= 0:
        raise ValueError("paired_tile_bootstrap needs at least one true object")
    for index, run in enumerate(runs):
        if len(run) != len(n_truth):
            raise ValueError(f"run {index} has {len(run)} tiles, n_truth has {len(n_truth)}")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(n_truth), size=(resamples, len(n_truth)))
    result = np.zeros((resamples, len(runs)))
    for row, tiles in enumerate(draws):
        total = max(int(n_truth[tiles].sum()), 1)  # a draw with no lenses scores AP 0 rather than failing
        for column, run in enumerate(runs):
            scores = np.concatenate([np.asarray(run[tile][0], float) for tile in tiles])
            hits = np.concatenate([np.asarray(run[tile][1], bool) for tile in tiles])
            result[row, column] = average_precision(scores, hits, total)
    return result
