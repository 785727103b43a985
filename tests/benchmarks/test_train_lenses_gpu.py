"""The GPU lens round's harness, ``benchmarks/train_lenses_gpu.py``: its score table and its refusals."""

import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.append(str(BENCHMARKS))

from train_lenses_gpu import main, score_table  # noqa: E402


def _cutouts():
    category = np.array(["arc"] * 6 + ["double"] * 4 + ["polar_ring"] * 5 + ["spiral"] * 5)
    is_lens = np.arange(20) < 10
    return {"category": category, "is_lens": is_lens, "resolvable": is_lens & (np.arange(20) < 6)}


def test_score_table_gives_auroc_the_paired_interval_and_categories():
    cutouts = _cutouts()
    perfect = np.where(cutouts["is_lens"], 0.95, 0.05)
    # The four doubles below every look-alike, the other lenses above: AUROC 0.6 (6 of 10 lenses win).
    mixed = np.where(cutouts["category"] == "double", 0.01, np.where(cutouts["is_lens"], 0.95, 0.5))
    table = score_table({"new": perfect, "old": mixed}, cutouts, draws=200)
    assert "| new | 1.000 | 1.00 | 0.00 | 1.00 |" in table
    assert "| old | 0.600 | 0.60 | 0.00 | 1.00 |" in table
    low, high = (float(v) for v in table.split("95% paired bootstrap ")[1].split("\n")[0].split(" to "))
    assert 0 < low <= 0.4 <= high <= 0.8
    assert "| double | 4 | 0.95, 1.000 | 0.01, 0.000 |" in table
    assert "| polar_ring | 5 | 0.05, 1.000 | 0.50, 0.600 |" in table


def test_run_refuses_without_the_prepared_banks(tmp_path):
    with pytest.raises(SystemExit, match="no bank .*train_lenses_gpu.py prepare"):
        main(["run", "--run", str(tmp_path / "empty"), "--out", str(tmp_path / "out")])
