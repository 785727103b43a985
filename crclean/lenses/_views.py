"""Test-time views of a window: flips that a lens finder should not care about.

A strong lens looks like a lens when mirrored or turned through a right
angle, so the detector is run on flipped (and, for eight views, transposed)
copies of each window and the boxes of all views are fused: a candidate
seen in every view keeps its score, one seen in a single view keeps
``1 / n_views`` of it. Together the eight views are the symmetries of the
square (the dihedral group of order 8). Averaging over views this way is weighted boxes
fusion (Solovyev, Wang & Gabruseva 2021) applied to test-time augmentation.

References
----------
Solovyev, R., Wang, W. & Gabruseva, T. 2021, "Weighted boxes fusion:
Ensembling boxes from different object detection models", Image Vis. Comput. 107, 104117.
"""

import numpy as np

__all__ = ["VIEWS", "VIEW_COUNTS", "flip_batch", "unflip_boxes", "fuse_views"]

#: (flip x, flip y, transpose) of each view; the first is the window as it is, the
#: first four are the mirror images, the last four the same transposed.
VIEWS = tuple((flip_x, flip_y, transpose) for transpose in (False, True)
              for flip_x, flip_y in ((False, False), (True, False), (False, True), (True, True)))

#: How many views a finder may use.
VIEW_COUNTS = (1, 4, 8)


def flip_batch(batch, view):
    """Square windows ``(..., n, n)`` seen through ``view`` (a new contiguous array).

    The flips come first, then the transpose; `unflip_boxes` undoes them in reverse.
    """
    flip_x, flip_y, transpose = view
    if flip_x:
        batch = batch[..., ::-1]
    if flip_y:
        batch = batch[..., ::-1, :]
    if transpose:
        batch = batch.swapaxes(-1, -2)
    return np.ascontiguousarray(batch)


def unflip_boxes(boxes, view, window):
    """Boxes ``(n, 4)`` found in a ``window``-pixel window seen through ``view``, in the window's own pixels."""
    boxes = np.array(boxes, float).reshape(-1, 4)
    flip_x, flip_y, transpose = view
    if transpose:
        boxes = boxes[:, [1, 0, 3, 2]]
    if flip_x:
        boxes[:, [0, 2]] = window - boxes[:, [2, 0]]
    if flip_y:
        boxes[:, [1, 3]] = window - boxes[:, [3, 1]]
    return boxes


def _iou(box, boxes):
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda b: np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)  # noqa: E731
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-12)


def fuse_views(per_view, *, iou_threshold=0.55):
    """Fuse the detections of several views of one window.

    Parameters
    ----------
    per_view : list of (boxes, scores)
        One entry per view: ``(n, 4)`` boxes in the window's pixels and ``(n,)`` scores.
    iou_threshold : float, optional
        A box joins a cluster whose fused box it overlaps by more than this.

    Returns
    -------
    boxes : numpy.ndarray
        ``(m, 4)`` score-weighted mean boxes.
    scores : numpy.ndarray
        ``(m,)`` sum of each cluster's scores (at most one per view) over the number of views.
    """
    n_views = len(per_view)
    entries = [(float(s), view, np.asarray(b, float)) for view, (boxes, scores) in enumerate(per_view)
               for b, s in zip(np.asarray(boxes, float).reshape(-1, 4), np.asarray(scores, float).reshape(-1))]
    entries.sort(key=lambda entry: -entry[0])
    clusters = []  # [weighted box sum, score sum, set of views]
    for score, view, box in entries:
        placed = False
        if clusters:
            fused = np.array([c[0] / max(c[1], 1e-12) for c in clusters])
            overlap = _iou(box, fused)
            for index in np.argsort(-overlap):
                if overlap[index] <= iou_threshold:
                    break
                if view not in clusters[index][2]:
                    clusters[index][0] += score * box
                    clusters[index][1] += score
                    clusters[index][2].add(view)
                    placed = True
                    break
        if not placed:
            clusters.append([score * box, score, {view}])
    boxes = np.array([c[0] / max(c[1], 1e-12) for c in clusters], float).reshape(-1, 4)
    scores = np.array([c[1] / n_views for c in clusters], float)
    return boxes, scores
