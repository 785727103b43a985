"""Uncertainty of the lens benchmark's AP: whole tiles resampled, the same draws for every detector."""

import numpy as np
import pytest

from crclean.training.lenses import average_precision, paired_tile_bootstrap


def _run(rng, n_tiles, true_score, false_score):
    """One lens per tile, found with ``true_score`` plus noise, and one false detection at ``false_score``."""
    tiles = []
    for _ in range(n_tiles):
        scores = np.array([true_score + rng.normal(0, 0.1), false_score + rng.normal(0, 0.1)])
        tiles.append((scores, np.array([True, False])))
    return tiles


def test_identical_runs_differ_by_nothing_on_every_draw():
    run = _run(np.random.default_rng(1), 40, 0.6, 0.5)
    draws = paired_tile_bootstrap([run, run], [1] * 40, resamples=200, seed=3)
    assert draws.shape == (200, 2)
    assert np.array_equal(draws[:, 0], draws[:, 1])
    # The draws scatter around the AP of the tiles as they are.
    scores = np.concatenate([s for s, _ in run])
    hits = np.concatenate([h for _, h in run])
    assert abs(np.median(draws[:, 0]) - average_precision(scores, hits, 40)) < 0.05
    assert draws[:, 0].std() > 0.005


def test_a_better_detector_wins_on_nearly_every_draw_and_draws_repeat_with_the_seed():
    rng = np.random.default_rng(2)
    weak, strong = _run(rng, 60, 0.55, 0.5), _run(rng, 60, 0.9, 0.3)
    draws = paired_tile_bootstrap([weak, strong], [1] * 60, resamples=300, seed=4)
    assert np.mean(draws[:, 1] > draws[:, 0]) > 0.99
    again = paired_tile_bootstrap([weak, strong], [1] * 60, resamples=300, seed=4)
    assert np.array_equal(draws, again)
    other = paired_tile_bootstrap([weak, strong], [1] * 60, resamples=300, seed=5)
    assert not np.array_equal(draws, other)


def test_lens_free_tiles_count_only_their_false_detections():
    # Tile 1 holds no lens; its confident false detection lowers the AP whenever it is drawn.
    found = (np.array([0.9]), np.array([True]))
    false = (np.array([0.95]), np.array([False]))
    draws = paired_tile_bootstrap([[found, false]], [1, 0], resamples=100, seed=0)
    assert set(np.round(draws[:, 0], 6)) <= {0.0, 0.5, 1.0}
    assert 0.0 in draws[:, 0] and 1.0 in draws[:, 0]


def test_runs_must_cover_the_same_tiles():
    run = _run(np.random.default_rng(0), 5, 0.6, 0.5)
    with pytest.raises(ValueError, match="run 1 has 4 tiles, n_truth has 5"):
        paired_tile_bootstrap([run, run[:4]], [1] * 5)
    with pytest.raises(ValueError, match="at least one true object"):
        paired_tile_bootstrap([run], [0] * 5)
