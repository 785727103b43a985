"""Training loss for mask networks: (1 - dice + BCE) / 2, with ignored pixels."""

import torch
from torch.nn import functional as F

__all__ = ["dice_bce_loss"]


def dice_bce_loss(logits, target, weight):
    """Mean of soft-dice loss and binary cross-entropy over weighted pixels.

    The seed study found this pairing converged faster than either term
    alone; pixels with weight 0 (the ignore band) do not contribute.

    Parameters
    ----------
    logits, target, weight : torch.Tensor
        Same shape; ``target`` in {0, 1}, ``weight`` >= 0.

    Returns
    -------
    torch.Tensor
        Scalar loss.
    """
    bce = F.binary_cross_entropy_with_logits(logits, target, weight=weight, reduction="sum")
    bce = bce / weight.sum().clamp_min(1.0)
    probability = torch.sigmoid(logits) * weight
    overlap = (probability * target).sum()
    dice = (2 * overlap + 1.0) / (probability.sum() + (target * weight).sum() + 1.0)
    return 0.5 * (1.0 - dice + bce)
