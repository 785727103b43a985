"""The inpainter's loss and scores, in units of each clean pixel's noise."""

import numpy as np
import torch
from torch.nn import functional as F

from crclean.engine._background import ASINH_SIGMA
from crclean.inpaint._learned import MAX_CORRECTION

__all__ = ["fill_errors", "fill_loss", "fill_scores"]


def fill_errors(raw, fill_asinh, target, noise):
    """(filled - clean) / noise per pixel: `crclean.inpaint._learned.decode` on tensors.

    Parameters
    ----------
    raw : torch.Tensor
        The network's output.
    fill_asinh, target, noise : torch.Tensor
        The fill plane of the input, the clean image and its noise, in the
        units of `crclean.training.inpaint.FillPool`.
    """
    bounded = MAX_CORRECTION * torch.tanh(raw / MAX_CORRECTION)
    return (ASINH_SIGMA * torch.sinh(fill_asinh + bounded) - target) / noise


def fill_loss(raw, fill_asinh, target, noise, weight, *, delta=2.0):
    """Huber loss of the fill error in noise units, over weighted pixels.

    Huber (quadratic within ``delta`` sigma, linear beyond) tracks the RMS
    the benchmark scores without letting the few pixels of a saturated star
    that no fill can predict dominate a batch.

    Returns
    -------
    torch.Tensor
        Scalar: the weighted mean over pixels (weight 0: left out).
    """
    errors = fill_errors(raw, fill_asinh, target, noise)
    loss = F.huber_loss(errors, torch.zeros_like(errors), delta=delta, reduction="none")
    return (loss * weight).sum() / weight.sum().clamp_min(1.0)


def fill_scores(raw, pool, profiles):
    """RMS of (fill - clean) / noise per profile, learned and `grow`'s.

    Parameters
    ----------
    raw : numpy.ndarray
        The network's output on every exposure of ``pool``.
    pool : crclean.training.inpaint.FillPool
    profiles : sequence of str
        Names of the pool's profile indices.

    Returns
    -------
    dict
        ``rms_<profile>`` and ``grow_rms_<profile>`` for each profile, the
        same on star-core pixels alone (``core_rms_<profile>``,
        ``grow_core_rms_<profile>``), and ``rms_ratio``: the mean over profiles of learned / grow (below 1:
        the network improves on its starting fill; NaN when no profile
        has a cosmic-ray pixel).
    """
    scores, ratios = {}, []
    for index, name in enumerate(profiles):
        take = pool.profile == index
        weight = pool.weight[take].astype(bool)
        if not weight.any():
            continue
        tensors = [torch.from_numpy(np.ascontiguousarray(a)) for a in
                   (pool.inputs[take, 0], pool.target[take], pool.noise[take])]
        cores = pool.star_cores[take].astype(bool)[weight]
        learned = fill_errors(torch.from_numpy(raw[take]), *tensors).numpy()[weight].astype(np.float64)
        grow = fill_errors(torch.zeros(tensors[0].shape), *tensors).numpy()[weight].astype(np.float64)
        scores[f"rms_{name}"] = float(np.sqrt(np.mean(learned**2)))
        scores[f"grow_rms_{name}"] = float(np.sqrt(np.mean(grow**2)))
        if cores.any():
            scores[f"core_rms_{name}"] = float(np.sqrt(np.mean(learned[cores] ** 2)))
            scores[f"grow_core_rms_{name}"] = float(np.sqrt(np.mean(grow[cores] ** 2)))
        ratios.append(scores[f"rms_{name}"] / scores[f"grow_rms_{name}"])
    scores["rms_ratio"] = float(np.mean(ratios)) if ratios else float("nan")
    return scores
