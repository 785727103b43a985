"""Calibrate detector scores into probabilities of a true lens (Platt 1999).

RT-DETR's varifocal loss trains a query's score towards the IoU of its box
(Zhao et al. 2024), so a well-found lens scores about its IoU (0.6-0.9), not
near 1, and ``--conf 0.9`` would mean "box IoU above 0.9" rather than "90%
sure". A logistic map of the score's logit, fitted on held-out simulated
windows, turns scores into the fraction of detections that match a lens at
IoU >= 0.5.

References
----------
Platt, J. 1999, "Probabilistic Outputs for Support Vector Machines".
Zhao, Y. et al. 2024, "DETRs Beat YOLOs on Real-time Object Detection", CVPR.
"""

import numpy as np

from crclean.training.lenses._metrics import match_detections

__all__ = ["fit_score_calibration", "collect_scores"]


def collect_scores(network, windows, *, batch_size=16, top_k=3, min_score=0.05):
    """Raw scores of the top detections per window, and whether each is a true lens."""
    import torch

    from crclean.models.rtdetr import postprocess

    network.eval()
    scores, hits = [], []
    with torch.no_grad():
        for start in range(0, len(windows), batch_size):
            chunk = windows[start:start + batch_size]
            images = torch.as_tensor(np.stack([w[0] for w in chunk]))[:, None]
            for (_, truth), result in zip(chunk, postprocess(network(images), images.shape[-2:], top_k=top_k,
                                                              min_score=min_score)):
                score = result["scores"].numpy()
                scores.append(score)
                hits.append(match_detections(result["boxes"].numpy(), score, truth))
    return np.concatenate(scores), np.concatenate(hits)


def fit_score_calibration(scores, hits):
    """Fit ``p = sigmoid(slope * logit(score) + offset)`` by maximum likelihood.

    Returns
    -------
    slope, offset : float
    """
    from scipy.optimize import minimize

    scores = np.clip(np.asarray(scores, float), 1e-6, 1 - 1e-6)
    hits = np.asarray(hits, bool)
    if hits.all() or not hits.any():
        raise ValueError("calibration needs both true and false detections")
    logit = np.log(scores / (1 - scores))

    def loss(params):
        z = params[0] * logit + params[1]
        residual = 1.0 / (1.0 + np.exp(-z)) - hits
        return float(np.sum(np.logaddexp(0, z) - hits * z)), np.array([np.sum(residual * logit), np.sum(residual)])

    slope, offset = minimize(loss, x0=[1.0, 0.0], jac=True, method="BFGS").x
    return float(slope), float(offset)
