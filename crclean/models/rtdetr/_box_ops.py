"""Box conversions and overlaps, written for torch tensors (no torchvision).

Boxes are ``(cx, cy, w, h)`` or ``(x0, y0, x1, y1)``; the detector works in
coordinates normalised to the input window, so every value lies in [0, 1].

References
----------
Rezatofighi, H. et al. 2019, "Generalized Intersection over Union", CVPR.
"""

import torch

__all__ = ["cxcywh_to_xyxy", "xyxy_to_cxcywh", "box_area", "box_iou", "generalized_box_iou"]


def cxcywh_to_xyxy(boxes):
    """``(cx, cy, w, h)`` -> ``(x0, y0, x1, y1)`` along the last axis."""
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=-1)


def xyxy_to_cxcywh(boxes):
    """``(x0, y0, x1, y1)`` -> ``(cx, cy, w, h)`` along the last axis."""
    x0, y0, x1, y1 = boxes.unbind(-1)
    return torch.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], dim=-1)


def box_area(boxes):
    """Area of ``xyxy`` boxes (zero for degenerate ones)."""
    return (boxes[..., 2] - boxes[..., 0]).clamp(min=0) * (boxes[..., 3] - boxes[..., 1]).clamp(min=0)


def box_iou(boxes1, boxes2):
    """Pairwise IoU and union of two sets of ``xyxy`` boxes.

    Parameters
    ----------
    boxes1 : torch.Tensor
        Shape ``(N, 4)``.
    boxes2 : torch.Tensor
        Shape ``(M, 4)``.

    Returns
    -------
    iou, union : torch.Tensor
        Both of shape ``(N, M)``.
    """
    area1, area2 = box_area(boxes1), box_area(boxes2)
    top_left = torch.maximum(boxes1[:, None, :2], boxes2[None, :, :2])
    bottom_right = torch.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (bottom_right - top_left).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = area1[:, None] + area2[None, :] - inter
    return inter / union.clamp(min=1e-12), union


def generalized_box_iou(boxes1, boxes2):
    """Pairwise generalised IoU of ``xyxy`` boxes (Rezatofighi et al. 2019).

    ``GIoU = IoU - |C \\ (A u B)| / |C|`` with ``C`` the smallest box
    enclosing both; it lies in (-1, 1] and, unlike IoU, still has a gradient
    when the boxes do not overlap.

    Returns
    -------
    torch.Tensor
        Shape ``(N, M)``.
    """
    iou, union = box_iou(boxes1, boxes2)
    top_left = torch.minimum(boxes1[:, None, :2], boxes2[None, :, :2])
    bottom_right = torch.maximum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (bottom_right - top_left).clamp(min=0)
    enclosing = (wh[..., 0] * wh[..., 1]).clamp(min=1e-12)
    return iou - (enclosing - union) / enclosing
