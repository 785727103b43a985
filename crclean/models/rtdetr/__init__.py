"""RT-DETR, a real-time detection transformer, in plain PyTorch.

A small single-band version of the detector of Zhao et al. (2024) for finding
strong gravitational lenses in survey images: a ResNet-like backbone with
strides 8/16/32, the hybrid encoder (AIFI + CCFF), IoU-aware query selection,
a deformable-attention decoder (Zhu et al. 2021) trained with denoising
queries, Hungarian matching (Carion et al. 2020), and the varifocal + L1 +
GIoU loss.

References
----------
Carion, N. et al. 2020, "End-to-End Object Detection with Transformers", ECCV.
Zhu, X. et al. 2021, "Deformable DETR: Deformable Transformers for End-to-End
Object Detection", ICLR.
Zhao, Y. et al. 2024, "DETRs Beat YOLOs on Real-time Object Detection", CVPR.
"""

from crclean.models.rtdetr._box_ops import (
    box_iou,
    cxcywh_to_xyxy,
    generalized_box_iou,
    xyxy_to_cxcywh,
)
from crclean.models.rtdetr._criterion import SetCriterion, varifocal_loss
from crclean.models.rtdetr._matcher import HungarianMatcher
from crclean.models.rtdetr._model import DEFAULT_CONFIG, RTDETR, structure_from_state
from crclean.models.rtdetr._postprocess import postprocess

__all__ = [
    "RTDETR",
    "DEFAULT_CONFIG",
    "build_rtdetr",
    "structure_from_state",
    "SetCriterion",
    "HungarianMatcher",
    "varifocal_loss",
    "postprocess",
    "box_iou",
    "generalized_box_iou",
    "cxcywh_to_xyxy",
    "xyxy_to_cxcywh",
]


def build_rtdetr(config=None):
    """Build an untrained RT-DETR from a config mapping.

    Parameters
    ----------
    config : dict, optional
        Keys of `DEFAULT_CONFIG` to override.

    Returns
    -------
    RTDETR
    """
    return RTDETR(**dict(config or {}))
