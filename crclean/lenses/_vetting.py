"""The second stage: re-grade the detector's candidates with the lens vetter.

Each candidate gets a stamp of the detector's input centred on its box, the
vetter (`crclean.models._lens_vetter.LensVetter`) grades it in all eight
orientations (quarter turns and mirror images; their mean logit), and the two
opinions are combined by a logistic fit (stacking; Wolpert 1992) made on
held-out simulated tiles:
``p = sigmoid(a * logit(detector score) + b * vetter logit + c)``.

References
----------
Wolpert, D. H. 1992, "Stacked generalization", Neural Networks 5, 241.
"""

import numpy as np

__all__ = ["cut_stamps", "vetter_logits", "stacked_score"]


def cut_stamps(image, boxes, size):
    """``(n, size, size)`` float32 stamps of ``image`` centred on each ``xyxy`` box; zero (sky) outside it."""
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    half = size // 2
    padded = np.pad(np.asarray(image, np.float32), size)
    stamps = np.empty((len(boxes), size, size), np.float32)
    for index, (x0, y0, x1, y1) in enumerate(boxes):
        cx, cy = int(round((x0 + x1) / 2)), int(round((y0 + y1) / 2))
        stamps[index] = padded[cy + size - half:cy + size - half + size, cx + size - half:cx + size - half + size]
    return stamps


def vetter_logits(network, stamps, *, device="cpu", batch_size=256):
    """Mean logit of ``network`` over the eight orientations of each ``(n, S, S)`` stamp (numpy in and out).

    A lens is a lens in any orientation; averaging over them steadies the grade.
    """
    import torch

    stamps = np.ascontiguousarray(stamps, np.float32)
    total = np.zeros(len(stamps), np.float64)
    with torch.no_grad():
        for start in range(0, len(stamps), batch_size):
            chunk = torch.as_tensor(stamps[start:start + batch_size], device=device)[:, None]
            views = [torch.rot90(chunk, k, dims=(-2, -1)) for k in range(4)]
            views += [view.flip(-1) for view in views]
            logits = network(torch.cat(views)).reshape(8, -1).mean(0)
            total[start:start + len(chunk)] = logits.cpu().numpy()
    return total


def stacked_score(detector_scores, vetter_logits, coefficients):
    """Combined probability ``sigmoid(a * logit(detector) + b * vetter + c)`` with ``coefficients = (a, b, c)``."""
    a, b, c = coefficients
    scores = np.clip(np.asarray(detector_scores, float), 1e-6, 1 - 1e-6)
    z = a * np.log(scores / (1 - scores)) + b * np.asarray(vetter_logits, float) + c
    return 1.0 / (1.0 + np.exp(-z))
