"""crclean's own shipped mask networks, through the public API."""

import numpy as np
import pytest

from crclean import Cleaner
from crclean.training.mask import mask_scores
from crclean.training.simulate import simulate_exposure
from crclean.weights import MODELS

OWN = [name for name, spec in MODELS.items() if spec.kind == "network" and spec.package is None]
PROFILE = {"crclean-ccd": "ground_thick", "crclean-ground": "ground_thick", "crclean-ground-transunet": "ground_thick",
           "crclean-space": "space",
           "crclean-space-transunet": "space"}


def test_both_own_models_ship():
    assert set(OWN) == {"crclean-ccd", "crclean-ground", "crclean-ground-transunet", "crclean-space",
                         "crclean-space-transunet"}


@pytest.mark.parametrize("name", OWN)
def test_result_does_not_depend_on_tile_size(name):
    exposure = simulate_exposure((299, 299), seed=20_500_000, profile=PROFILE[name], split="validation",
                                 cr_rate=1.0)
    # With the model's default overlap (160 px), from one tile (its default
    # 1024 px) down to four tiles of 320 x 320 px.
    large = Cleaner(name, inpaint=None, device="cpu").clean_array(exposure.image_adu)
    small = Cleaner(name, tile_size=336, inpaint=None, device="cpu").clean_array(exposure.image_adu)
    assert (large.probability > 0.5).sum() > 100
    assert np.abs(large.probability - small.probability).max() < 1e-3


@pytest.mark.parametrize("name", OWN)
def test_finds_held_out_cosmic_rays_in_any_units(name):
    exposure = simulate_exposure((256, 256), seed=20_600_000, profile=PROFILE[name], split="validation",
                                 cr_rate=1.5)
    cleaner = Cleaner(name, inpaint=None, device="cpu")
    in_adu = cleaner.clean_array(exposure.image_adu)
    scores = mask_scores(in_adu.probability, exposure.cr_mask, ignore=exposure.ignore_mask)
    assert scores["tpr_at_fpr_1e-3"] > 0.95 and scores["dice"] > 0.9
    # Electrons with a bias offset: the sky-noise normalisation makes units irrelevant.
    in_electrons = cleaner.clean_array(exposure.image_adu * exposure.gain + 500.0, units="electron")
    assert np.abs(in_adu.probability - in_electrons.probability).max() < 0.02


@pytest.mark.parametrize("name", ["crclean-ground", "crclean-ground-transunet"])
def test_bright_hits_are_found_like_faint_ones(name):
    # The first TransUNet took hits brighter than ~100 sigma for stars and
    # missed them; both ground models now train on cosmic rays scaled 0.7-12x.
    from synthetic import synthetic_exposure

    image, truth = synthetic_exposure((150, 200), seed=11)  # hits of 200-3000 ADU on a sky noise of ~14
    found = Cleaner(name, inpaint=None, device="cpu").clean_array(image).mask
    bright = truth & (image - 800.0 > 1400.0)
    assert bright.sum() > 30
    assert (found & bright).sum() / bright.sum() > 0.9
    assert (found & truth).sum() / truth.sum() > 0.9
