"""The straight tracks of ``benchmarks/axis_tracks.py``: where they lie, how wide, how much charge."""

import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.append(str(BENCHMARKS))

from axis_tracks import paint_track, tracks  # noqa: E402


def test_a_track_along_a_row_keeps_to_its_row_with_the_diffusion_asked():
    rng = np.random.default_rng(1)
    charge = paint_track((64, 256), rng, (30.0, 20.0), 0.0, 200, 0.8, per_pixel=1000.0)
    rows = charge.sum(axis=1)
    centre = np.sum(np.arange(64) * rows) / rows.sum()
    spread = np.sqrt(np.sum((np.arange(64) - centre) ** 2 * rows) / rows.sum())
    assert abs(centre - 30.0) < 0.05
    assert 0.75 < spread < 0.95  # sigma 0.8 plus the pixel's own width
    columns = np.nonzero(charge.sum(axis=0) > 100)[0]
    assert 18 <= columns.min() <= 20 and 218 <= columns.max() <= 222  # 200 px from x = 20, ends diffused
    # Charge per pixel of length: gamma about 1000 e- with a spread of about 70%.
    assert 0.85 < charge.sum() / (200 * 1000.0) < 1.15
    along = charge[28:33, 25:215].sum(axis=0)
    assert 0.25 < along.std() / along.mean() < 0.6  # diffusion along the track smooths the deposits


def test_eight_tracks_tilted_either_way_none_touching():
    rng = np.random.default_rng(2)
    charge = tracks((1024, 1024), rng, 2.0, 220, 0.5, per_pixel=1000.0)
    labels, n = ndimage.label(charge > 50)
    assert n == 8
    shapes = [(s[0].stop - s[0].start, s[1].stop - s[1].start) for s in ndimage.find_objects(labels)]
    assert sum(w > h for h, w in shapes) == 4 and sum(h > w for h, w in shapes) == 4
    # 2 degrees over 220 px: about 8 px of drift across the axis.
    assert all(5 <= min(h, w) <= 14 for h, w in shapes)
