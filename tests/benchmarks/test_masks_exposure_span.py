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


def test_a_span_past_the_families_seed_spacing_is_refused(capsys):
    with pytest.raises(SystemExit):
        masks.main(["--first-exposure", "999", "--exposures", "2", "--families", "thin_ground"])
    assert "--first-exposure" in capsys.readouterr().err
