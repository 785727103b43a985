"""Sliding windows over a tile, and merging their detections (numpy only)."""

import numpy as np

__all__ = ["plan_windows", "nms", "touches_inner_edge"]


def _starts(length, window, stride):
    if length <= window:
        return [0]
    starts = list(range(0, length - window, stride))
    starts.append(length - window)  # the last window ends on the last pixel
    return sorted(set(starts))


def plan_windows(shape, window, overlap):
    """Corners of overlapping windows covering every pixel of ``shape``.

    Parameters
    ----------
    shape : (int, int)
        ``(ny, nx)`` of the tile.
    window : int
        Window side in pixels.
    overlap : int
        Pixels shared by neighbouring windows, ``0 <= overlap < window``.

    Returns
    -------
    list of (int, int)
        ``(y0, x0)`` of each window. A tile smaller than ``window`` along an
        axis gets one window there, to be padded by the caller.
    """
    ny, nx = (int(n) for n in shape)
    if ny < 1 or nx < 1:
        raise ValueError(f"shape must be positive, got {shape!r}")
    if window < 1:
        raise ValueError(f"window must be positive, got {window}")
    if not 0 <= overlap < window:
        raise ValueError(f"overlap must be in [0, window={window}), got {overlap}")
    stride = window - overlap
    return [(y0, x0) for y0 in _starts(ny, window, stride) for x0 in _starts(nx, window, stride)]


def touches_inner_edge(box, corner, window, shape, *, margin=2.0):
    """Whether a box (tile pixels) touches a window edge that is not a tile edge.

    Such a detection is probably a cut lens; with an overlap wider than any
    lens, a neighbouring window sees it whole.
    """
    x0, y0, x1, y1 = box
    wy, wx = corner
    ny, nx = shape
    return bool((wx > 0 and x0 <= wx + margin) or (wy > 0 and y0 <= wy + margin)
                or (wx + window < nx and x1 >= wx + window - margin)
                or (wy + window < ny and y1 >= wy + window - margin))


def nms(boxes, scores, *, iou_threshold=0.3):
    """Greedy non-maximum suppression.

    Parameters
    ----------
    boxes : array_like
        ``(n, 4)`` ``xyxy`` boxes.
    scores : array_like
        ``(n,)``.
    iou_threshold : float, optional
        A box overlapping a better one by more than this is dropped. Boxes
        inside a better one (intersection over the smaller area above 0.7)
        are dropped too, so a cut lens does not survive beside the whole one.

    Returns
    -------
    numpy.ndarray
        Indices of kept boxes, best score first.
    """
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    scores = np.asarray(scores, float).reshape(-1)
    if len(boxes) != len(scores):
        raise ValueError(f"got {len(boxes)} boxes but {len(scores)} scores")
    area = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while len(order):
        best, rest = order[0], order[1:]
        keep.append(best)
        x0 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y0 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x1 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y1 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        iou = inter / np.maximum(area[best] + area[rest] - inter, 1e-12)
        contained = inter / np.maximum(np.minimum(area[best], area[rest]), 1e-12)
        order = rest[(iou <= iou_threshold) & (contained <= 0.7)]
    return np.array(keep, dtype=np.int64)
