"""Platt calibration of detector scores and the theta_E estimator recover known maps."""

import numpy as np
import pytest
import torch

from crclean.training.lenses._calibrate import calibrate_lens_model, fit_logistic, fit_score_calibration


def test_recovers_a_known_map():
    rng = np.random.default_rng(0)
    scores = rng.uniform(0.05, 0.95, 4000)
    logit = np.log(scores / (1 - scores))
    truth = rng.random(4000) < 1 / (1 + np.exp(-(3.0 * logit - 1.0)))
    slope, offset = fit_score_calibration(scores, truth)
    assert slope == pytest.approx(3.0, abs=0.3) and offset == pytest.approx(-1.0, abs=0.2)


def test_a_feature_that_matters_raises_the_likelihood_and_one_that_does_not_barely_does():
    rng = np.random.default_rng(1)
    signal, noise = rng.normal(size=(2, 5000))
    hits = rng.random(5000) < 1 / (1 + np.exp(-(2.0 * signal + 0.5)))
    ones = np.ones(5000)
    (slope, offset), plain = fit_logistic(np.stack([signal, ones], 1), hits, start=[0.0, 0.0])
    assert slope == pytest.approx(2.0, abs=0.2) and offset == pytest.approx(0.5, abs=0.15)
    _, without_signal = fit_logistic(ones[:, None], hits, start=[0.0])
    _, with_noise = fit_logistic(np.stack([signal, noise, ones], 1), hits, start=[0.0, 0.0, 0.0])
    # Likelihood-ratio statistics (chi-square, one degree of freedom): large for the signal, small for noise.
    assert 2 * (without_signal - plain) > 100 and 0 <= 2 * (plain - with_noise) < 10


def test_needs_both_outcomes():
    with pytest.raises(ValueError, match="both true and false"):
        fit_score_calibration([0.5, 0.6], [True, True])


class _EncodedBoxes(torch.nn.Module):
    """A stand-in detector that reads its one box and logit from the first pixels of each window."""

    def forward(self, images):
        first = images[:, 0, 0, :5]
        junk = torch.tensor([0.1, 0.1, 0.05, 0.05]).expand(len(images), 4)
        return {"pred_logits": torch.stack([first[:, 4:5], torch.full_like(first[:, 4:5], -6.0)], 1),
                "pred_boxes": torch.stack([first[:, :4], junk], 1)}


def _encoded_windows(rng, n, size=64, scale=0.2):
    windows, theta_e = [], []
    for _ in range(n):
        half = rng.uniform(5, 15)
        cx, cy = rng.uniform(20, 44, 2)
        truth = np.array([[cx - half, cy - half, cx + half, cy + half]])
        found = rng.random() < 0.6
        shift = 0.0 if found else 2.5 * half  # a miss lands beside the lens
        image = np.zeros((size, size), np.float32)
        logit = rng.normal(2.0 if found else -0.5, 1.0)
        image[0, :5] = [(cx + shift) / size, cy / size, 2 * half / size, 2 * half / size, logit]
        windows.append((image, truth))
        theta_e.append(np.array([0.9 * half * scale - 0.3 + rng.normal(0, 0.01)]))
    return windows, theta_e


def test_calibrate_lens_model_fits_scores_and_theta_e():
    windows, theta_e = _encoded_windows(np.random.default_rng(1), 300)
    result = calibrate_lens_model(_EncodedBoxes(), windows, theta_e, pixel_scale=0.2)
    assert result["theta_e_slope"] == pytest.approx(0.9, abs=0.05)
    assert result["theta_e_offset"] == pytest.approx(-0.3, abs=0.05)
    assert result["theta_e_scatter"] < 0.05
    assert result["score_slope"] > 0
    points = result["operating_points"]
    assert points[0.9]["precision"] > points[0.5]["precision"] > 0.6
    assert points[0.9]["recall"] < points[0.5]["recall"] <= 0.6 + 0.1


def test_calibrate_lens_model_needs_found_lenses():
    windows, theta_e = _encoded_windows(np.random.default_rng(2), 6)
    with pytest.raises(ValueError):
        calibrate_lens_model(_EncodedBoxes(), windows, theta_e, pixel_scale=0.2)
