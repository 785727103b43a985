"""`benchmarks/masks.py --first-exposure`: a later span of each family's exposures, never the first ones."""

import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.append(str(BENCHMARKS))

import masks  # noqa: E402


@pytest.mark.parametrize("family", ["sim_ground_thin", "thick_ground"])
def test_a_later_span_is_the_tail_of_a_longer_run(family):
    whole = masks.build_family(family, 64, 3)
    tail = masks.build_family(family, 64, 2, first=1)
    for expected, got in zip(whole[1:], tail):
        np.testing.assert_array_equal(got.image_adu, expected.image_adu)
        np.testing.assert_array_equal(got.cr_mask, expected.cr_mask)
    assert not np.array_equal(tail[0].image_adu, whole[0].image_adu)


def test_a_span_past_the_last_exposure_is_refused(capsys):
    with pytest.raises(SystemExit):
        masks.main(["--first-exposure", str(masks.MAX_EXPOSURE - 1), "--exposures", "2", "--families", "thin_ground"])
    assert "--first-exposure" in capsys.readouterr().err


def test_exposures_past_1000_share_no_scene_with_the_next_family():
    # (exposure 1000 + j of one family has the integer seed of the next family's exposure j)
    for family, following in (("thin_ground", "thick_ground"), ("sim_ground_thin", "sim_ground_thick")):
        late = masks.build_family(family, 64, 1, first=1000)[0]
        first = masks.build_family(following, 64, 1)[0]
        assert not np.array_equal(late.clean_adu, first.clean_adu)
        assert not np.isclose(float(np.median(late.image_adu)), float(np.median(first.image_adu)))
