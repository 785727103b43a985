"""`benchmarks/masks.py --candidate`: a training round's checkpoint scored beside the shipped models."""

import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.append(str(BENCHMARKS))

import masks  # noqa: E402

from crclean import weights  # noqa: E402
from crclean.models._unet import UNet  # noqa: E402
from crclean.training.mask._loop import _load_init  # noqa: E402


@pytest.mark.parametrize("more", ["psf_skew", "median_plane"])
def test_a_candidate_that_computes_what_the_default_does_scores_the_same(more, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(weights, "MODELS", weights.MODELS)  # the candidate is registered for this test only
    # Told more planes (the PSF's coma and trefoil; the local median), but with those planes' weights at
    # zero: the default's network.
    candidate = UNet(**{**weights.MODELS["crclean-ccd"].config, "psf_skew": True, more: True})
    _load_init(candidate, weights.weights_path(weights.MODELS["crclean-ccd"]))
    torch.save(candidate.state_dict(), tmp_path / "candidate.pt")
    masks.main(["--families", "thin_ground", "--size", "128", "--exposures", "1", "--first-exposure", "3",
                "--no-anchors", "--candidate", f"{tmp_path / 'candidate.pt'}=round-x", "--models", "crclean-ccd",
                "round-x", "--quiet"])
    rows = {line.split("|")[2].strip(): line.split("|")[3:-2] for line in capsys.readouterr().out.splitlines()
            if line.startswith("| thin_ground")}
    assert set(rows) == {"crclean-ccd", "round-x", "truth mask (reference)"}
    assert rows["round-x"] == rows["crclean-ccd"]  # every score but the timing
    assert weights.MODELS["round-x"].config[more]


def test_a_candidate_that_is_not_a_mask_checkpoint_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        masks.main(["--families", "thin_ground", "--candidate", "missing.pt=x", "--models", "x"])
    assert "--candidate" in capsys.readouterr().err
    torch.save({"backbone.weight": torch.zeros(2, 3)}, tmp_path / "lens.pt")  # a checkpoint, but no mask UNet
    with pytest.raises(SystemExit):
        masks.main(["--families", "thin_ground", "--candidate", f"{tmp_path / 'lens.pt'}=x", "--models", "x"])
    assert "not the state dict of a mask UNet" in capsys.readouterr().err


def test_grown_masks_are_scored_beside_the_plain_ones(capsys):
    masks.main(["--families", "thin_ground", "--size", "256", "--exposures", "1", "--first-exposure", "5",
                "--no-anchors", "--models", "crclean-ccd", "--grow-threshold", "0.05", "--quiet"])
    rows = {line.split("|")[2].strip(): [cell.strip() for cell in line.split("|")[3:-1]]
            for line in capsys.readouterr().out.splitlines() if line.startswith("| thin_ground")}
    plain, grown = rows["crclean-ccd"], rows["crclean-ccd, grown to 0.05"]
    assert grown[:3] == plain[:3]  # TPR and precision rank the same probabilities
    assert float(grown[3]) >= float(plain[3])  # > 10 sigma recall: growing only adds flags
    with pytest.raises(SystemExit):
        masks.main(["--families", "thin_ground", "--grow-threshold", "0.5"])
