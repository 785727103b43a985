"""`experiments/masks/gpu_round.py`: a lent GPU's round brings back weights even when it runs out of time."""

import subprocess
import sys
from pathlib import Path

import torch

_ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = _ROOT / "experiments" / "masks" / "gpu_round.py"
_CONFIG = _ROOT / "crclean" / "training" / "configs" / "ccd-v40.toml"


def _round(*args):
    return subprocess.run([sys.executable, str(_SCRIPT), *map(str, args)], capture_output=True, text=True,
                          cwd=_ROOT, timeout=600)


def _endless(tmp_path):
    """The v40 config at smoke size, with a schedule far longer than the test waits."""
    sys.path.insert(0, str(_SCRIPT.parent))
    try:
        from gpu_round import smoke_config
    finally:
        sys.path.remove(str(_SCRIPT.parent))
    smoke = smoke_config(_CONFIG, tmp_path)
    endless = tmp_path / "ccd-endless.toml"
    endless.write_text(smoke.read_text().replace("steps = 4", "steps = 1000000"))
    return endless


def test_runs_past_the_deadline_are_stopped_and_keep_their_best_weights(tmp_path):
    out = tmp_path / "out"
    result = _round(_endless(tmp_path), "--device", "cpu", "--deadline-minutes", 0.25, "--out", out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ccd-endless: stopped at the deadline after step" in result.stdout
    state = torch.load(out / "ccd-endless" / "ccd-endless-stopped.pt", map_location="cpu", weights_only=True)
    assert "encoders.0.0.weight" in state  # a mask UNet's state dict, loadable as any candidate
    assert (out / "ccd-endless" / "log.jsonl").read_text().count("tpr_at_fpr_1e-4") >= 1


def test_a_run_that_finishes_is_not_stopped(tmp_path):
    out = tmp_path / "out"
    result = _round(_CONFIG, "--smoke", "--device", "cpu", "--deadline-minutes", 5, "--out", out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "stopped" not in result.stdout
    assert sorted(path.name for path in (out / "ccd-v40").glob("*.pt")) == ["crclean-ccd-v40.pt"]
