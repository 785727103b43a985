"""The training entry point: config validation, checkpoints, resume, weights and card."""

import hashlib
import json

import pytest
from click.testing import CliRunner

from crclean.cli._train_lenses import train_lenses_command

_TINY_MODEL = {"widths": [8, 16, 24, 32], "depths": [1, 1, 1, 1], "dim": 32, "encoder_ffn": 64,
               "decoder_ffn": 64, "num_queries": 8, "decoder_layers": 1, "num_denoising": 4}


def _config(tmp_path, steps):
    return {"name": "tiny", "steps": steps, "batch_size": 2, "window": 64, "warmup": 1, "val_windows": 4,
            "val_every": 100, "checkpoint_every": 1, "bank": {"n_lenses": 4, "n_negatives": 4, "n_field": 4, "size": 48},
            "checkpoint_dir": str(tmp_path / "ckpt"), "weights_dir": str(tmp_path / "weights"), "model": _TINY_MODEL}


def test_train_resume_and_write_weights_with_card(tmp_path):
    import torch

    from crclean.training.lenses import train_lenses

    first = train_lenses(_config(tmp_path, 2), progress=False)
    assert first["steps"] == 2 and (tmp_path / "ckpt" / "last.pt").is_file()
    messages = []
    second = train_lenses(_config(tmp_path, 3), resume=True, progress=False, log=messages.append)
    assert "resumed from" in messages[0] and "at step 2" in messages[0]
    assert second["steps"] == 3
    weights = tmp_path / "weights" / "tiny.pt"
    assert second["weights"] == weights
    assert second["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    state = torch.load(weights, weights_only=True)
    assert any(key.startswith("decoder.") for key in state)
    card = (tmp_path / "weights" / "tiny.md").read_text()
    assert second["sha256"] in card and "0.2 arcsec/pixel" in card and "Zhao et al. 2024" in card


def test_bad_configs_are_refused(tmp_path):
    from crclean.training.lenses import train_lenses

    with pytest.raises(ValueError, match="unknown training config keys: \\['stepz'\\]"):
        train_lenses({"stepz": 3})
    with pytest.raises(ValueError, match="window must be a multiple of 32, got 50"):
        train_lenses({"window": 50})
    with pytest.raises(FileNotFoundError, match="training config .* not found"):
        train_lenses(tmp_path / "missing.json")


def test_train_command_reports_config_errors(tmp_path):
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"steps": 0}))
    result = CliRunner().invoke(train_lenses_command, [str(config), "-q"])
    assert result.exit_code == 1 and "steps must be a positive int, got 0" in result.output
    result = CliRunner().invoke(train_lenses_command, [str(tmp_path / "nope.json")])
    assert result.exit_code == 2 and "does not exist" in result.output
