"""Turn the detector's raw outputs into scored pixel boxes.

DETR-style detectors predict a set, so within a window no NMS is needed
(Carion et al. 2020): each query is one candidate with its own score. With a
single class the score is the sigmoid of the query's logit; RT-DETR keeps the
top-k of query x class scores (Zhao et al. 2024).

References
----------
Carion, N. et al. 2020, "End-to-End Object Detection with Transformers", ECCV.
Zhao, Y. et al. 2024, "DETRs Beat YOLOs on Real-time Object Detection", CVPR.
"""

import torch

from crclean.models.rtdetr._box_ops import cxcywh_to_xyxy

__all__ = ["postprocess"]


@torch.no_grad()
def postprocess(outputs, image_size, *, top_k=10, min_score=0.0):
    """Scored ``xyxy`` pixel boxes per image.

    Parameters
    ----------
    outputs : dict
        ``pred_logits`` ``(B, Q, C)`` and ``pred_boxes`` ``(B, Q, 4)``.
    image_size : (int, int)
        ``(height, width)`` of the input in pixels.
    top_k : int, optional
        Most detections kept per image.
    min_score : float, optional
        Drop detections scoring below this.

    Returns
    -------
    list of dict
        Per image ``scores`` ``(n,)``, ``labels`` ``(n,)``, ``boxes``
        ``(n, 4)`` in pixels ``(x0, y0, x1, y1)``, best first. Pixel ``i``
        spans ``[i, i + 1)``.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    logits, boxes = outputs["pred_logits"], outputs["pred_boxes"]
    height, width = image_size
    scale = torch.tensor([width, height, width, height], dtype=boxes.dtype, device=boxes.device)
    classes = logits.shape[-1]
    scores = logits.sigmoid().flatten(1)
    k = min(top_k, scores.shape[1])
    top_scores, top_index = scores.topk(k, dim=1)
    results = []
    for image in range(logits.shape[0]):
        query = top_index[image] // classes
        keep = top_scores[image] >= min_score
        pixel_boxes = cxcywh_to_xyxy(boxes[image, query]) * scale
        results.append({"scores": top_scores[image][keep], "labels": (top_index[image] % classes)[keep],
                        "boxes": pixel_boxes[keep]})
    return results
