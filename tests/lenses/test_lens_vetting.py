"""The second stage: stamps, the vetter network, stacking, and the finder with a vetter."""

import dataclasses

import numpy as np
import pytest
import torch
from lens_fixtures import CentreVetter, PassVetter, blob_image

from crclean.exceptions import ModelError
from crclean.lenses import LensFinder
from crclean.lenses._manifest import get_lens_model, load_vetter_network
from crclean.lenses._vetting import cut_stamps, stacked_score
from crclean.models import build_network
from crclean.training.lenses._stacking import fit_stacking


def test_stamps_are_centred_on_boxes_and_padded_with_sky():
    image = np.arange(100 * 120, dtype=np.float32).reshape(100, 120)
    stamps = cut_stamps(image, [[50, 40, 60, 50], [0, 0, 4, 4]], 16)
    assert stamps.shape == (2, 16, 16)
    assert stamps[0, 8, 8] == image[45, 55] and stamps[0, 0, 0] == image[37, 47]
    assert stamps[1, 8, 8] == image[2, 2] and stamps[1, 0, 0] == 0.0  # outside the image


def test_stacking_recovers_known_coefficients():
    rng = np.random.default_rng(1)
    detector = rng.uniform(0.05, 0.95, 20000)
    vetter = rng.normal(0.0, 2.0, 20000)
    truth = (0.7, 1.3, -0.5)
    hits = rng.random(20000) < stacked_score(detector, vetter, truth)
    assert np.allclose(fit_stacking(detector, vetter, hits), truth, atol=0.1)
    with pytest.raises(ValueError, match="both"):
        fit_stacking(detector, vetter, np.zeros(20000, bool))


def test_vetter_network_grades_each_stamp():
    network = build_network("lens-vetter", {"widths": [4, 8, 8, 8]}).eval()
    assert network(torch.zeros(3, 1, 64, 64)).shape == (3,)
    assert network.config["widths"] == [4, 8, 8, 8]


def _spec_with_vetter(stacking):
    return dataclasses.replace(get_lens_model("rtdetr-lens-v2"), name="vetted", vetter_file="x.pt",
                               vetter_sha256="0" * 64, stacking=stacking, vetter_floor=0.05)


def test_the_vetter_decides_between_candidates(blob_detector):
    # Bright blobs pass the centre test, faint ones (still found by the detector) do not.
    bright, faint = [(50.0, 60.0), (150.0, 140.0)], [(60.0, 150.0)]
    image = blob_image((200, 220), bright, seed=6)
    image += blob_image((200, 220), faint, seed=7, sky=0.0, amplitude=4.0, width=3.0) - blob_image(
        (200, 220), [], seed=7, sky=0.0)
    detector = type(blob_detector)(threshold=1.0)
    finder = LensFinder(_spec_with_vetter((0.0, 1.0, 0.0)), conf=0.9, network=detector, vetter=CentreVetter(),
                        device="cpu")
    catalog = finder.find(image, pixel_scale=0.2).catalog
    assert len(catalog) == 2
    for x, y in bright:
        assert np.hypot(catalog["x"] - x, catalog["y"] - y).min() < 1.0
    assert np.allclose(catalog["score"], 1 / (1 + np.exp(-6.0)))
    # Without an opinion and a = 1, the detector's scores stand.
    plain = LensFinder("rtdetr-lens-v2", conf=0.9, network=detector, device="cpu").find(image, pixel_scale=0.2)
    passed = LensFinder(_spec_with_vetter((1.0, 1.0, 0.0)), conf=0.9, network=detector, vetter=PassVetter(),
                        device="cpu").find(image, pixel_scale=0.2)
    assert len(plain.catalog) >= 3
    assert np.allclose(plain.catalog["score"], passed.catalog["score"])


def test_weak_detections_can_be_raised_by_the_vetter(blob_detector):
    # The detector alone scores below conf; the stacking lifts what the vetter likes.
    image = blob_image((150, 150), [(70.0, 80.0)], seed=8)
    spec = dataclasses.replace(_spec_with_vetter((1.0, 1.0, 0.0)), score_slope=1.0, score_offset=-4.0)  # 0.5
    alone = LensFinder(dataclasses.replace(spec, vetter_file=""), conf=0.9, network=blob_detector, device="cpu")
    assert len(alone.find(image, pixel_scale=0.2).catalog) == 0
    vetted = LensFinder(spec, conf=0.9, network=blob_detector, vetter=CentreVetter(), device="cpu")
    catalog = vetted.find(image, pixel_scale=0.2).catalog
    assert len(catalog) == 1 and catalog["score"][0] >= 0.9


def test_missing_or_damaged_vetter_weights_are_a_model_error(tmp_path, monkeypatch):
    monkeypatch.setattr("crclean.weights.SHIPPED_WEIGHTS_DIR", tmp_path)
    with pytest.raises(ModelError, match="no vetter weights"):
        load_vetter_network(_spec_with_vetter((1.0, 1.0, 0.0)))
    (tmp_path / "x.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError):
        load_vetter_network(_spec_with_vetter((1.0, 1.0, 0.0)))
    assert load_vetter_network(get_lens_model("rtdetr-lens-v2")) is None


def test_vetter_grades_do_not_depend_on_orientation():
    from crclean.lenses._vetting import vetter_logits

    torch.manual_seed(0)
    network = build_network("lens-vetter", {"widths": [4, 8, 8, 8]}).eval()
    stamps = np.random.default_rng(2).normal(size=(5, 32, 32)).astype(np.float32)
    grades = vetter_logits(network, stamps)
    assert grades.shape == (5,) and np.ptp(grades) > 0
    assert np.allclose(vetter_logits(network, np.rot90(stamps, 1, axes=(1, 2))), grades, atol=1e-5)
    assert np.allclose(vetter_logits(network, stamps[:, ::-1, :]), grades, atol=1e-5)
