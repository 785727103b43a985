"""`benchmarks/masks.py`'s count of hits left in the cleaned image: each hit counts once."""

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.append(str(BENCHMARKS))

import masks  # noqa: E402


def _exposure():
    clean = np.full((40, 40), 100.0, np.float32)
    cr_mask = np.zeros((40, 40), bool)
    cr_mask[5, 5:15] = True  # a track
    cr_mask[30, 30] = True  # a spot
    cr_mask[20:22, 20:22] = True  # a small blob
    return SimpleNamespace(clean_adu=clean, cr_mask=cr_mask, gain=1.0,
                           noise_sigma_electrons=np.ones((40, 40), np.float32))


def test_a_hit_counts_once_however_many_of_its_pixels_are_left():
    e = _exposure()
    cleaned = e.clean_adu.copy()
    assert masks.hits_left([e], [cleaned]) == 0
    cleaned[5, 5:15] += 1000.0  # the whole track left
    cleaned[30, 30] += 5.0  # the spot cleaned to within 10 sigma
    assert masks.hits_left([e], [cleaned]) == 1
    cleaned[21, 21] += 50.0  # one pixel of the blob left
    assert masks.hits_left([e], [cleaned]) == 2
    # Pixels off the truth mask (an inpainting smear beside a hit) are not hits.
    cleaned[35, 5] += 1e4
    assert masks.hits_left([e], [cleaned]) == 2
    # Over several exposures the counts add up.
    assert masks.hits_left([e, e], [cleaned, cleaned]) == 4
