"""Detection metrics: greedy IoU matching and average precision (VOC style).

References
----------
Everingham, M. et al. 2010, "The Pascal Visual Object Classes (VOC)
Challenge", IJCV 88, 303 (all-point interpolated AP).
"""

import numpy as np

__all__ = ["iou_matrix", "match_detections", "average_precision"]


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
