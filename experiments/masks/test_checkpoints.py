"""The kept experiment weights are the ones their README records (run with `python -m pytest experiments`)."""

import hashlib
import re
from pathlib import Path

import torch

CHECKPOINTS = Path(__file__).parent / "checkpoints"


def _recorded():
    rows = re.findall(r"^\| `([\w.-]+\.pt)` \|.*\| `([0-9a-f]{64})` \|$", (CHECKPOINTS / "README.md").read_text(),
                      flags=re.MULTILINE)
    return dict(rows)


def test_every_kept_checkpoint_is_recorded_with_its_checksum():
    recorded = _recorded()
    kept = sorted(p.name for p in CHECKPOINTS.glob("*.pt"))
    assert kept and sorted(recorded) == kept
    for name, digest in recorded.items():
        assert hashlib.sha256((CHECKPOINTS / name).read_bytes()).hexdigest() == digest, name


def test_kept_checkpoints_load_as_plain_state_dicts():
    for path in CHECKPOINTS.glob("*.pt"):
        state = torch.load(path, map_location="cpu", weights_only=True)
        assert all(isinstance(v, torch.Tensor) for v in state.values()), path.name
