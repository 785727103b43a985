"""Hungarian matching of predictions to true boxes (Carion et al. 2020).

The cost of pairing a prediction with a true box mixes a focal-style class
cost, the L1 distance of the boxes and their negative GIoU, as in Deformable
DETR and RT-DETR; ``scipy.optimize.linear_sum_assignment`` finds the
one-to-one pairing of least total cost, so each object is predicted once and
no non-maximum suppression is needed inside a window.

References
----------
Carion, N. et al. 2020, "End-to-End Object Detection with Transformers", ECCV.
Kuhn, H. W. 1955, "The Hungarian method for the assignment problem".
"""

import numpy as np
import torch

from crclean.models.rtdetr._box_ops import cxcywh_to_xyxy, generalized_box_iou

__all__ = ["HungarianMatcher"]


class HungarianMatcher:
    """Match predictions to targets image by image.

    Parameters
    ----------
    cost_class, cost_bbox, cost_giou : float, optional
        Weights of the class, L1 and GIoU costs.
    alpha, gamma : float, optional
        Focal-cost parameters.
    """

    def __init__(self, *, cost_class=2.0, cost_bbox=5.0, cost_giou=2.0, alpha=0.25, gamma=2.0):
        self.cost_class, self.cost_bbox, self.cost_giou = cost_class, cost_bbox, cost_giou
        self.alpha, self.gamma = alpha, gamma

    @torch.no_grad()
    def __call__(self, outputs, targets):
        """Return, per image, ``(prediction_indices, target_indices)`` as int64 tensors."""
        from scipy.optimize import linear_sum_assignment  # training only; keeps inference free of scipy

        logits, boxes = outputs["pred_logits"], outputs["pred_boxes"]
        indices = []
        for image in range(logits.shape[0]):
            target_labels, target_boxes = targets[image]["labels"], targets[image]["boxes"]
            if len(target_labels) == 0:
                empty = torch.zeros(0, dtype=torch.int64)
                indices.append((empty, empty))
                continue
            prob = logits[image].sigmoid()[:, target_labels]
            positive = self.alpha * (1 - prob) ** self.gamma * -(prob + 1e-8).log()
            negative = (1 - self.alpha) * prob ** self.gamma * -(1 - prob + 1e-8).log()
            cost = (self.cost_class * (positive - negative)
                    + self.cost_bbox * torch.cdist(boxes[image], target_boxes, p=1)
                    - self.cost_giou * generalized_box_iou(cxcywh_to_xyxy(boxes[image]),
                                                           cxcywh_to_xyxy(target_boxes)))
            rows, cols = linear_sum_assignment(np.nan_to_num(cost.cpu().numpy(), nan=1e6))
            indices.append((torch.as_tensor(rows, dtype=torch.int64), torch.as_tensor(cols, dtype=torch.int64)))
        return indices
