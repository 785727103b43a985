"""`benchmarks/masks.py --paired`: a difference between two models with its bootstrap interval over exposures."""

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.append(str(BENCHMARKS))

import masks  # noqa: E402
from _paired import COUNTS, exposure_counts, paired_differences  # noqa: E402


def _counts(rows):
    return np.array(rows, dtype=np.int64)


def test_the_same_model_differs_by_nothing():
    base = _counts([(100, 99, 50, 20, 3, 1)] * 5)
    for value, low, high, driver in paired_differences(base, base.copy()).values():
        assert value == low == high == 0 and driver is None


def test_a_difference_every_exposure_shows_is_resolved():
    base = _counts([(100, 98, 50, 20, 3, 1)] * 8)
    other = _counts([(100, 99, 50, 30, 4, 0)] * 8)
    diff = paired_differences(base, other)
    value, low, high, _ = diff["recall_high"]
    assert value == pytest.approx(0.01) and low == pytest.approx(0.01) and high == pytest.approx(0.01)
    assert diff["star_core_fp"][:3] == (8.0, 8.0, 8.0) and diff["hits_left"][:3] == (-8.0, -8.0, -8.0)


def test_a_difference_one_exposure_makes_is_not_resolved_and_that_exposure_is_named():
    base = _counts([(100, 99, 50, 20, 5, 1)] * 8)
    other = base.copy()
    other[5, 4] += 300  # one frame's star cores, as exposure 691's or 884's
    value, low, high, driver = paired_differences(base, other, seed=3)["star_core_fp"]
    assert value == 300 and low == 0 and high >= 300 and driver == 5


def test_counts_of_different_exposures_are_refused():
    with pytest.raises(ValueError, match="same exposures"):
        paired_differences(_counts([(1, 1, 1, 1, 0, 0)] * 3), _counts([(1, 1, 1, 1, 0, 0)] * 4))


def test_exposure_counts_reads_each_exposure_on_its_own():
    shape = (6, 6)
    cr = np.zeros(shape)
    cr[1, 1:4] = [50.0, 2.5, 20.0]  # bright, a wing, bright
    exposure = SimpleNamespace(cr_mask=cr > 0, ignore_mask=np.zeros(shape, bool), cr_electrons=cr,
                               noise_sigma_electrons=np.ones(shape), star_core_mask=np.zeros(shape, bool))
    exposure.star_core_mask[4, 4] = True
    flagged = np.zeros(shape, bool)
    flagged[1, 1] = flagged[1, 2] = flagged[4, 4] = True
    run = SimpleNamespace(flagged=flagged, cleaned_adu=np.zeros(shape))
    rows = exposure_counts([exposure, exposure], [run, run], high_sigma=10.0, hits_left=lambda e, c: 7)
    assert rows.shape == (2, len(COUNTS))
    assert rows[0].tolist() == [2, 1, 1, 1, 1, 7]  # 2 bright (1 flagged), 1 wing (flagged), 1 star core, 7 left


def test_paired_needs_a_model_of_the_table(capsys):
    with pytest.raises(SystemExit):
        masks.main(["--size", "64", "--exposures", "1", "--families", "thin_ground", "--no-anchors",
                    "--models", "crclean-ccd", "--paired", "deepcr-decam"])
    assert "--paired 'deepcr-decam' is not one of the models scored" in capsys.readouterr().err


def test_paired_prints_each_models_difference(capsys):
    masks.main(["--size", "128", "--exposures", "2", "--families", "thick_ground", "--no-anchors", "--quiet",
                "--models", "crclean-ccd", "--grow-threshold", "0.1", "--paired", "crclean-ccd"])
    out = capsys.readouterr().out
    assert "Difference from crclean-ccd" in out
    assert "| thick_ground | crclean-ccd, grown to 0.1 | " in out
