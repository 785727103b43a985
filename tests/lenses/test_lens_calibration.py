"""Platt calibration of detector scores recovers a known logistic map."""

import numpy as np
import pytest

from crclean.training.lenses._calibrate import fit_score_calibration


def test_recovers_a_known_map():
    rng = np.random.default_rng(0)
    scores = rng.uniform(0.05, 0.95, 4000)
    logit = np.log(scores / (1 - scores))
    truth = rng.random(4000) < 1 / (1 + np.exp(-(3.0 * logit - 1.0)))
    slope, offset = fit_score_calibration(scores, truth)
    assert slope == pytest.approx(3.0, abs=0.3) and offset == pytest.approx(-1.0, abs=0.2)


def test_needs_both_outcomes():
    with pytest.raises(ValueError, match="both true and false"):
        fit_score_calibration([0.5, 0.6], [True, True])
