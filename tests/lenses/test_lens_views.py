"""Test-time views: flipping windows, mapping boxes back, fusing what the views saw."""

import numpy as np
import pytest
from lens_fixtures import blob_image

from crclean.lenses import LensFinder
from crclean.lenses._views import VIEWS, flip_batch, fuse_views, unflip_boxes


@pytest.mark.parametrize("view", VIEWS)
def test_a_box_found_in_a_flipped_window_maps_back(view):
    window = np.zeros((1, 32, 32), np.float32)
    window[0, 5:9, 20:26] = 1.0  # x 20-26, y 5-9
    seen = flip_batch(window, view)[0]
    rows, cols = np.nonzero(seen)
    box_in_view = [[cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]]
    assert np.allclose(unflip_boxes(box_in_view, view, 32), [[20, 5, 26, 9]])


def test_the_eight_views_are_the_eight_symmetries_of_the_square():
    window = np.arange(16.0).reshape(1, 4, 4)  # no symmetry of its own
    seen = {flip_batch(window, view).tobytes() for view in VIEWS}
    assert len(seen) == 8
    assert np.array_equal(flip_batch(window, VIEWS[0]), window)


def test_fusion_averages_over_views_and_keeps_one_box_per_view_per_cluster():
    box = np.array([[10.0, 10.0, 30.0, 30.0]])
    shifted = box + 1.0
    boxes, scores = fuse_views([(box, [0.8]), (shifted, [0.8]), (box, [0.8]), (shifted, [0.8])])
    assert len(boxes) == 1 and np.isclose(scores[0], 0.8)
    assert np.allclose(boxes[0], box[0] + 0.5)
    # Seen in one view only: a quarter of its score.
    boxes, scores = fuse_views([(box, [0.8]), (np.zeros((0, 4)), []), (np.zeros((0, 4)), []), (np.zeros((0, 4)), [])])
    assert np.isclose(scores[0], 0.2)
    # Two overlapping boxes of the same view stay two candidates.
    boxes, scores = fuse_views([(np.vstack([box, shifted]), [0.9, 0.5])])
    assert len(boxes) == 2 and np.allclose(sorted(scores), [0.5, 0.9])
    # Far apart boxes are not fused.
    boxes, scores = fuse_views([(box, [0.6]), (box + 100.0, [0.6])])
    assert len(boxes) == 2 and np.allclose(scores, 0.3)


@pytest.mark.parametrize("views", [4, 8])
def test_several_views_find_the_same_sources(blob_detector, views):
    positions = [(40.0, 50.0), (125.0, 118.0), (210.0, 60.0)]
    image = blob_image((200, 250), positions, seed=4)
    # A model without a second stage, so only the views differ.
    one = LensFinder("rtdetr-lens-v9", conf=0.5, network=blob_detector, device="cpu").find(image, pixel_scale=0.2)
    many = LensFinder("rtdetr-lens-v9", conf=0.5, network=blob_detector, device="cpu", views=views).find(
        image, pixel_scale=0.2)
    assert len(one.catalog) == len(many.catalog) == 3
    for x, y in positions:
        assert np.hypot(many.catalog["x"] - x, many.catalog["y"] - y).min() < 1.0
    assert np.allclose(np.sort(one.catalog["score"]), np.sort(many.catalog["score"]), atol=1e-6)


@pytest.mark.parametrize("views", [2, 3, True, 4.5])
def test_other_view_counts_are_refused(views):
    with pytest.raises(ValueError, match="views"):
        LensFinder(views=views)

