"""Window planning covers every pixel; NMS merges detections across windows."""

import numpy as np
import pytest

from crclean.lenses import nms, plan_windows
from crclean.lenses._windows import touches_inner_edge


@pytest.mark.parametrize("shape", [(299, 299), (150, 200), (100, 50), (128, 128), (129, 300), (1, 1)])
def test_windows_cover_every_pixel(shape):
    window, overlap = 128, 48
    covered = np.zeros(shape, int)
    for y0, x0 in plan_windows(shape, window, overlap):
        assert y0 >= 0 and x0 >= 0
        assert y0 + window <= max(shape[0], window) and x0 + window <= max(shape[1], window)
        covered[y0:y0 + window, x0:x0 + window] += 1
    assert covered.min() >= 1


def test_neighbouring_windows_share_the_overlap():
    corners = plan_windows((128, 300), 128, 48)
    xs = sorted({x0 for _, x0 in corners})
    assert xs == [0, 80, 160, 172]  # the last one ends on the last column
    assert all(b - a <= 80 for a, b in zip(xs, xs[1:]))


@pytest.mark.parametrize("bad", [{"window": 0, "overlap": 0}, {"window": 64, "overlap": 64},
                                 {"window": 64, "overlap": -1}])
def test_bad_window_parameters_are_refused(bad):
    with pytest.raises(ValueError):
        plan_windows((100, 100), bad["window"], bad["overlap"])


def test_nms_merges_the_same_lens_seen_by_two_windows():
    boxes = [[100, 100, 130, 128], [101, 99, 131, 129], [300, 300, 320, 320], [104, 104, 120, 120]]
    scores = [0.91, 0.97, 0.95, 0.99]
    keep = nms(boxes, scores, iou_threshold=0.3)
    # The small box inside the lens wins on score and suppresses the big ones (contained);
    # the far box survives.
    assert keep.tolist() == [3, 2]
    assert nms(boxes[:2], scores[:2]).tolist() == [1]
    assert nms(np.zeros((0, 4)), []).tolist() == []


def test_touches_inner_edge_only_for_edges_inside_the_tile():
    shape = (300, 300)
    assert touches_inner_edge((80, 10, 100, 30), (0, 0), 100, shape)  # right edge, inside the tile
    assert not touches_inner_edge((0, 0, 20, 20), (0, 0), 100, shape)  # tile corner
    assert not touches_inner_edge((40, 40, 60, 60), (0, 0), 100, shape)
    assert not touches_inner_edge((281, 10, 300, 30), (0, 200), 100, shape)  # last column of the tile
