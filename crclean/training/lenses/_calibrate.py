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

__all__ = ["fit_score_calibration", "fit_logistic", "score_logit", "collect_scores", "fit_theta_e",
           "calibrate_lens_model", "detect_windows", "window_batch"]


def window_batch(images):
    """A ``(B, C, H, W)`` tensor from windows of one band ``(H, W)`` or several ``(C, H, W)``."""
    import torch

    batch = torch.as_tensor(np.stack(images))
    return batch[:, None] if batch.ndim == 3 else batch


def detect_windows(network, images, **options):
    """`postprocess` of ``network`` over a list of windows (2-D, or 3-D with bands first), run on the network's
    device.

    ``options`` go to `crclean.models.rtdetr.postprocess`; the results come
    back on the CPU, ready for numpy, wherever the network runs.
    """
    import torch

    from crclean.models.rtdetr import postprocess

    parameter = next(network.parameters(), None)
    batch = window_batch(images)
    if parameter is not None:
        batch = batch.to(parameter.device)
    return [{key: value.cpu() for key, value in result.items()}
            for result in postprocess(network(batch), batch.shape[-2:], **options)]


def collect_scores(network, windows, *, batch_size=16, top_k=3, min_score=0.05):
    """Raw scores of the top detections per window, and whether each is a true lens."""
    import torch

    network.eval()
    scores, hits = [], []
    with torch.no_grad():
        for start in range(0, len(windows), batch_size):
            chunk = windows[start:start + batch_size]
            results = detect_windows(network, [w[0] for w in chunk], top_k=top_k, min_score=min_score)
            for (_, truth), result in zip(chunk, results):
                score = result["scores"].numpy()
                scores.append(score)
                hits.append(match_detections(result["boxes"].numpy(), score, truth))
    return np.concatenate(scores), np.concatenate(hits)


def score_logit(scores):
    """``log(p / (1 - p))`` of scores in [0, 1], clipped so that 0 and 1 stay finite."""
    scores = np.clip(np.asarray(scores, float), 1e-6, 1 - 1e-6)
    return np.log(scores / (1 - scores))


def fit_logistic(features, hits, start):
    """Maximum-likelihood logistic regression of ``hits`` on the columns of ``features``.

    Parameters
    ----------
    features : numpy.ndarray
        ``(n, k)``; a column of ones gives the offset.
    hits : array of bool
    start : sequence of float
        The ``k`` coefficients the optimiser starts from.

    Returns
    -------
    coefficients : numpy.ndarray
        ``(k,)``: ``p = sigmoid(features @ coefficients)``.
    nll : float
        The negative log-likelihood there (for likelihood-ratio tests).
    """
    from scipy.optimize import minimize

    hits = np.asarray(hits, float)

    def loss(params):
        z = features @ params
        # log(1 + exp(z)) - y z, written stably, and its gradient
        return float(np.sum(np.logaddexp(0.0, z) - hits * z)), features.T @ (1.0 / (1.0 + np.exp(-z)) - hits)

    result = minimize(loss, np.asarray(start, float), jac=True, method="BFGS")
    return result.x, float(result.fun)


def fit_score_calibration(scores, hits):
    """Fit ``p = sigmoid(slope * logit(score) + offset)`` by maximum likelihood.

    Returns
    -------
    slope, offset : float
    """
    hits = np.asarray(hits, bool)
    if hits.all() or not hits.any():
        raise ValueError("calibration needs both true and false detections")
    logit = score_logit(scores)
    (slope, offset), _ = fit_logistic(np.stack([logit, np.ones_like(logit)], 1), hits, start=[1.0, 0.0])
    return float(slope), float(offset)


def fit_theta_e(network, windows, theta_e, *, pixel_scale, batch_size=16):
    """Fit ``theta_E ~ slope * (mean box half-side, arcsec) + offset`` on found lenses.

    Parameters
    ----------
    windows : list of (image, boxes)
    theta_e : list of numpy.ndarray
        True Einstein radii (arcsec) of each window's lenses, in box order.

    Returns
    -------
    slope, offset, scatter : float
        The least-squares line and the rms residual (arcsec).
    """
    import torch

    from crclean.training.lenses._metrics import iou_matrix

    half_sides, truths = [], []
    with torch.no_grad():
        for start in range(0, len(windows), batch_size):
            chunk = windows[start:start + batch_size]
            results = detect_windows(network, [w[0] for w in chunk], top_k=3)
            for (_, truth), radii, result in zip(chunk, theta_e[start:start + batch_size], results):
                boxes = result["boxes"].numpy()
                if not len(truth) or not len(boxes):
                    continue
                overlap = iou_matrix(boxes, truth)
                for column in range(len(truth)):
                    best = int(np.argmax(overlap[:, column]))
                    if overlap[best, column] >= 0.5:
                        box = boxes[best]
                        half_sides.append((box[2] - box[0] + box[3] - box[1]) / 4 * pixel_scale)
                        truths.append(radii[column])
    if len(truths) < 10:
        raise ValueError(f"need at least 10 found lenses to fit theta_E, got {len(truths)}")
    slope, offset = np.polyfit(half_sides, truths, 1)
    residual = np.asarray(truths) - (slope * np.asarray(half_sides) + offset)
    return float(slope), float(offset), float(np.sqrt(np.mean(residual ** 2)))


def calibrate_lens_model(network, windows, theta_e, *, pixel_scale):
    """Score calibration and theta_E estimator of a trained finder, with what they give.

    Parameters
    ----------
    network : torch.nn.Module
    windows : list of (image, boxes)
        Held-out windows, none used in training or validation.
    theta_e : list of numpy.ndarray
        The windows' true Einstein radii (arcsec), in box order.
    pixel_scale : float

    Returns
    -------
    dict
        ``score_slope``, ``score_offset``, ``theta_e_slope``, ``theta_e_offset``,
        ``theta_e_scatter`` and ``operating_points``: precision and recall
        among the windows' detections at calibrated scores 0.5, 0.7 and 0.9.
    """
    network.eval()
    scores, hits = collect_scores(network, windows)
    slope, offset = fit_score_calibration(scores, hits)
    calibrated = 1.0 / (1.0 + np.exp(-(slope * score_logit(scores) + offset)))
    n_truth = sum(len(w[1]) for w in windows)
    points = {}
    for threshold in (0.5, 0.7, 0.9):
        chosen = calibrated >= threshold
        points[threshold] = {"precision": float(hits[chosen].mean()) if chosen.any() else float("nan"),
                             "recall": float(hits[chosen].sum() / max(n_truth, 1))}
    t_slope, t_offset, scatter = fit_theta_e(network, windows, theta_e, pixel_scale=pixel_scale)
    return {"score_slope": slope, "score_offset": offset, "theta_e_slope": t_slope, "theta_e_offset": t_offset,
            "theta_e_scatter": scatter, "operating_points": points}
