"""Fit how the detector's score and the vetter's logit combine (stacking, Wolpert 1992).

The detector runs over seeded simulated survey tiles (held-out stamp bank);
every candidate from the vetter floor up is graded by the vetter, labelled
true when it matches a lens at IoU >= 0.5, and a three-parameter logistic
regression ``p = sigmoid(a * logit(detector) + b * vetter + c)`` is fitted by
maximum likelihood. The result is a calibrated probability, so ``--conf``
keeps its meaning.

References
----------
Wolpert, D. H. 1992, "Stacked generalization", Neural Networks 5, 241.
"""

import numpy as np

from crclean.lenses._normalise import normalise_image
from crclean.lenses._vetting import cut_stamps, vetter_logits
from crclean.training.lenses._calibrate import fit_logistic, score_logit
from crclean.training.lenses._metrics import match_detections
from crclean.training.lenses._scene import compose_scene

__all__ = ["stacking_tile", "stacking_candidates", "fit_stacking", "mined_candidates"]


def stacking_tile(rng, bank, size=1000, *, n_lenses=1, **scene_options):
    """A survey-like tile at the bank's scale: ``n_lenses`` lenses, 12 hard negatives, 15 arc-free
    ellipticals, 100 field galaxies, 25 stars; returns ``(normalised image, lens boxes)``."""
    scene = compose_scene(rng, bank, (size, size), n_lenses=n_lenses, n_negatives=12, n_field=100, n_stars=25,
                          n_ellipticals=15, lens_margin=4,
                          **{key: tuple(value) if isinstance(value, list) else value
                             for key, value in scene_options.items()})
    return normalise_image(scene.image, scene.sigma), scene.boxes


def stacking_candidates(finder, vetter, tiles):
    """Detector scores, vetter logits and truth of every candidate in ``tiles``.

    Parameters
    ----------
    finder : crclean.lenses.LensFinder
        Loaded, with ``conf`` at the floor wanted and no vetter of its own.
    vetter : torch.nn.Module
    tiles : iterable of (image, boxes)
        Normalised images at the model's scale and their lens boxes.
    """
    scores, logits, hits = [], [], []
    vetter.eval()
    for image, truth in tiles:
        boxes, score = finder._detect(image)
        scores.append(score)
        hits.append(match_detections(boxes, score, truth))
        # Graded as at run time: the mean over the stamp's eight orientations.
        logits.append(vetter_logits(vetter, cut_stamps(image, boxes, finder.spec.vetter_stamp)))
    return np.concatenate(scores), np.concatenate(logits), np.concatenate(hits)


def fit_stacking(detector_scores, vetter_logits, hits):
    """Maximum-likelihood ``(a, b, c)`` of ``sigmoid(a * logit(detector) + b * vetter + c)``.

    Raises
    ------
    ValueError
        Without both true and false candidates.
    """
    hits = np.asarray(hits, bool)
    if hits.all() or not hits.any():
        raise ValueError("stacking needs both true and false candidates")
    logit = score_logit(detector_scores)
    features = np.stack([logit, np.asarray(vetter_logits, float), np.ones(len(logit))], 1)
    coefficients, _ = fit_logistic(features, hits, start=[1.0, 1.0, 0.0])
    return tuple(float(value) for value in coefficients)


def mined_candidates(finder, tiles, *, size=64):
    """Stamps of every candidate ``finder`` proposes in ``tiles``, labelled by IoU >= 0.5 with a lens.

    Trains the vetter on what the detector actually proposes (hard-negative
    mining): ``(stamps (n, size, size) float32, labels (n,) int64)``.
    """
    stamps, labels = [], []
    for image, truth in tiles:
        boxes, score = finder._detect(image)
        stamps.append(cut_stamps(image, boxes, size))
        labels.append(match_detections(boxes, score, truth).astype(np.int64))
    return np.concatenate(stamps), np.concatenate(labels)
