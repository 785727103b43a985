"""Hard-negative mining: scoring look-alikes with a starting model and drawing the hard ones more often."""

import numpy as np
import pytest
import torch

from crclean.training.lenses import build_bank, compose_scene
from crclean.training.lenses._mining import mine_negative_scores, mined_run_weights, mined_weights, score_summary


@pytest.fixture(scope="module")
def bank():
    return build_bank(5, n_lenses=2, n_negatives=8, n_field=2, size=48, colour_parts=True, clumpy_negatives=True)


class PeakDetector(torch.nn.Module):
    """Stand-in detector: one query whose score rises with the window's brightest pixel in the first band."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(1.0))

    def forward(self, images):
        peak = images[:, 0].flatten(1).max(dim=1).values
        logits = (self.scale * (peak - 2.0))[:, None, None]
        boxes = torch.tensor([0.5, 0.5, 0.2, 0.2]).expand(len(images), 1, 4)
        return {"pred_logits": logits, "pred_boxes": boxes}


def test_weights_mix_uniform_draws_with_scores():
    scores = np.array([0.0, 0.1, 0.2, 0.7])
    assert np.allclose(mined_weights(scores, 0.0), 0.25)
    weights = mined_weights(scores, 0.5)
    assert np.isclose(weights.sum(), 1.0) and np.all(np.diff(weights) > 0)
    assert np.isclose(weights[0], 0.125)  # a look-alike that fooled nothing keeps its uniform share
    sharper = mined_weights(scores, 0.5, power=2.0)
    assert sharper[3] > weights[3] and sharper[1] < weights[1]
    assert np.allclose(mined_weights(np.zeros(4), 0.5), 0.25)
    for bad in ({"share": 1.5}, {"share": True}, {"share": 0.5, "power": 0}):
        with pytest.raises(ValueError, match="must be"):
            mined_weights(scores, **{"power": 1.0, **bad})
    with pytest.raises(ValueError, match="non-negative"):
        mined_weights(np.array([0.1, -0.1]), 0.5)


def test_scenes_draw_look_alikes_by_weight(bank):
    alone = np.zeros(len(bank.negatives))
    alone[5] = 1.0
    for bands in (None, ("g", "r", "i")):
        scene = compose_scene(np.random.default_rng(1), bank, (64, 64), n_lenses=0, n_negatives=6, n_field=0,
                              n_stars=0, bands=bands, negative_weights=alone)
        assert [o["kind"] for o in scene.objects] == [bank.negative_kinds[5]] * 6
    with pytest.raises(ValueError, match="must hold 8 non-negative"):
        compose_scene(np.random.default_rng(1), bank, (64, 64), n_lenses=0, n_negatives=1, n_field=0, n_stars=0,
                      negative_weights=alone[:4])
    with pytest.raises(ValueError, match="all zero"):
        other = [kind for kind in bank.negative_kinds if kind != bank.negative_kinds[5]]
        compose_scene(np.random.default_rng(1), bank, (64, 64), n_lenses=0, n_negatives=1, n_field=0, n_stars=0,
                      negative_weights=alone, negative_kinds=other[:1])


def test_mining_scores_each_look_alike_by_what_the_model_sees(bank):
    # Blank out half of the look-alikes: alone in a window they leave only noise, so they must score low.
    blanked = np.arange(len(bank.negatives)) % 2 == 0
    dimmed = type(bank)(**{**bank.__dict__, "negatives": np.where(blanked[:, None, None], 0.0, bank.negatives),
                           "negatives_young": np.where(blanked[:, None, None], 0.0, bank.negatives_young)})
    network = PeakDetector().train()
    scores = mine_negative_scores(network, dimmed, window=64, seed=3, repeats=2, bands=("g", "r", "i"))
    assert not network.training
    assert scores.shape == (len(bank.negatives),) and np.all((scores >= 0) & (scores <= 1))
    assert scores[~blanked].min() > scores[blanked].max()
    again = mine_negative_scores(network, dimmed, window=64, seed=3, repeats=2, bands=("g", "r", "i"))
    assert np.array_equal(scores, again)
    assert "ring mean" in score_summary(scores, bank.negative_kinds)
    with pytest.raises(ValueError, match="repeats must be a positive int"):
        mine_negative_scores(network, dimmed, window=64, seed=3, repeats=0)


def test_a_run_mines_once_and_reuses_its_scores(bank, tmp_path):
    config = {"hard_negative_share": 0.5, "hard_negative_power": 1.0, "mining_repeats": 1, "seed": 9,
              "init_weights": "rtdetr-lens-v20", "window": 64, "bands": ["g", "r", "i"], "scene": {}}
    lines = []
    weights = mined_run_weights(PeakDetector(), bank, config, tmp_path, lines.append, progress=False)
    assert np.isclose(weights.sum(), 1.0) and len(weights) == len(bank.negatives)
    assert [path.name for path in tmp_path.iterdir()] == ["mined_9_rtdetr-lens-v20_1.npy"]
    assert lines[0].startswith("mined 8 look-alikes with rtdetr-lens-v20")

    class Refuses(torch.nn.Module):
        def forward(self, images):
            raise AssertionError("a resumed run must not mine again")

    assert np.array_equal(mined_run_weights(Refuses(), bank, config, tmp_path, lines.append, progress=False), weights)
    assert mined_run_weights(Refuses(), bank, {**config, "hard_negative_share": 0.0}, tmp_path, print) is None


def test_the_config_checks_mining_options():
    from crclean.training.lenses._train import load_lens_config

    assert load_lens_config({})["hard_negative_share"] == 0.0
    bad = [({"hard_negative_share": 0.5}, "needs init_weights"),
           ({"hard_negative_share": 2, "init_weights": "rtdetr-lens-v9"}, "hard_negative_share must be"),
           ({"hard_negative_power": -1}, "hard_negative_power must be"),
           ({"mining_repeats": 0}, "mining_repeats must be")]
    for config, message in bad:
        with pytest.raises(ValueError, match=message):
            load_lens_config(config)
