"""RT-DETR's training loss: varifocal + L1 + GIoU over every decoder output.

The classification term is the varifocal loss (Zhang et al. 2021) with the
IoU of each matched box as its soft target, which makes scores IoU-aware
(Zhao et al. 2024, sec. 4.3); unmatched queries are pushed to zero with a
focal weight. Box terms are L1 on normalised ``cxcywh`` and ``1 - GIoU``,
averaged over true boxes. The same loss is applied to every decoder layer, to
the encoder's selected proposals, and to the denoising queries (whose matches
are known).

References
----------
Carion, N. et al. 2020, "End-to-End Object Detection with Transformers", ECCV.
Zhang, H. et al. 2021, "VarifocalNet: An IoU-aware Dense Object Detector", CVPR.
Zhao, Y. et al. 2024, "DETRs Beat YOLOs on Real-time Object Detection", CVPR.
"""

import torch
import torch.nn.functional as F

from crclean.models.rtdetr._box_ops import box_iou, cxcywh_to_xyxy, generalized_box_iou
from crclean.models.rtdetr._matcher import HungarianMatcher

__all__ = ["SetCriterion", "varifocal_loss"]


def varifocal_loss(logits, target_score, positive, *, alpha=0.75, gamma=2.0):
    """Sum of the varifocal loss over all entries.

    Parameters
    ----------
    logits : torch.Tensor
        Raw scores.
    target_score : torch.Tensor
        IoU of matched predictions, 0 elsewhere (same shape).
    positive : torch.Tensor
        Boolean, True where the prediction is matched to its class.
    """
    prob = logits.sigmoid().detach()
    weight = torch.where(positive, target_score, alpha * prob.pow(gamma))
    loss = F.binary_cross_entropy_with_logits(logits, target_score, weight=weight, reduction="none")
    return loss.sum()


class SetCriterion(torch.nn.Module):
    """Loss of a DETR-style detector.

    Parameters
    ----------
    num_classes : int, optional
    weight_vfl, weight_bbox, weight_giou : float, optional
        Weights of the three terms (RT-DETR: 1, 5, 2).
    matcher : HungarianMatcher, optional
    """

    def __init__(self, *, num_classes=1, weight_vfl=1.0, weight_bbox=5.0, weight_giou=2.0, matcher=None):
        super().__init__()
        self.num_classes = num_classes
        self.weights = {"vfl": weight_vfl, "bbox": weight_bbox, "giou": weight_giou}
        self.matcher = matcher or HungarianMatcher()

    def _single(self, outputs, targets, indices, num_boxes):
        logits, boxes = outputs["pred_logits"], outputs["pred_boxes"]
        batch_index = torch.cat([torch.full_like(src, b) for b, (src, _) in enumerate(indices)])
        source_index = torch.cat([src for src, _ in indices])
        matched = boxes[batch_index, source_index]
        target_boxes = torch.cat([t["boxes"][dst] for t, (_, dst) in zip(targets, indices)])
        target_labels = torch.cat([t["labels"][dst] for t, (_, dst) in zip(targets, indices)])
        target_score = torch.zeros_like(logits)
        positive = torch.zeros_like(logits, dtype=torch.bool)
        if len(matched):
            matched_xyxy, target_xyxy = cxcywh_to_xyxy(matched), cxcywh_to_xyxy(target_boxes)
            iou = torch.diag(box_iou(matched_xyxy.detach(), target_xyxy)[0])
            positive[batch_index, source_index, target_labels] = True
            target_score[batch_index, source_index, target_labels] = iou.clamp(min=0).to(logits.dtype)
            loss_bbox = F.l1_loss(matched, target_boxes, reduction="sum") / num_boxes
            loss_giou = (1 - torch.diag(generalized_box_iou(matched_xyxy, target_xyxy))).sum() / num_boxes
        else:
            loss_bbox = loss_giou = boxes.sum() * 0.0
        loss_vfl = varifocal_loss(logits, target_score, positive) / num_boxes
        return {"vfl": loss_vfl, "bbox": loss_bbox, "giou": loss_giou}

    def forward(self, outputs, targets):
        """Total weighted loss and its parts (for logging).

        Parameters
        ----------
        outputs : dict
            The detector's training outputs.
        targets : list of dict
            Per image ``labels`` (int64 ``(n,)``) and ``boxes`` (``(n, 4)``
            normalised cxcywh).

        Returns
        -------
        total : torch.Tensor
        parts : dict of str to float
        """
        num_boxes = max(float(sum(len(t["labels"]) for t in targets)), 1.0)
        sets = [outputs, *outputs.get("aux_outputs", [])]
        if "enc_outputs" in outputs:
            sets.append(outputs["enc_outputs"])
        parts = {key: 0.0 for key in self.weights}
        total = 0.0
        for item in sets:
            losses = self._single(item, targets, self.matcher(item, targets), num_boxes)
            for key, value in losses.items():
                total = total + self.weights[key] * value
                parts[key] += float(value.detach())
        meta = outputs.get("dn_meta")
        if meta:
            dn_indices = []
            for b, index in enumerate(meta["positive_index"]):
                count = meta["counts"][b]
                dn_indices.append((index, torch.arange(count, device=index.device).repeat(meta["groups"])))
            dn_boxes = num_boxes * meta["groups"]
            for item in outputs["dn_outputs"]:
                losses = self._single(item, targets, dn_indices, dn_boxes)
                for key, value in losses.items():
                    total = total + self.weights[key] * value
                    parts["dn_" + key] = parts.get("dn_" + key, 0.0) + float(value.detach())
        return total, parts
