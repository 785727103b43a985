"""Training the lens vetter: config checks, resume, weights and card, and the command."""

import hashlib

import numpy as np
import pytest
from click.testing import CliRunner

from crclean.cli import main


def _config(steps, **extra):
    return {"name": "tiny-vetter", "steps": steps, "batch_size": 4, "n_train": 16, "n_val": 8, "stamp": 32,
            "val_every": 1, "checkpoint_every": 1, "warmup": 1, "stacking_tiles": 1, "stacking_tile_size": 128,
            "bank": {"n_lenses": 4, "n_negatives": 4, "n_field": 4, "size": 48},
            "model": {"widths": [4, 8, 8, 8]}, **extra}


def test_vetting_stamps_are_seeded_and_labelled():
    from crclean.training.lenses import build_bank
    from crclean.training.lenses._vetting import vetting_set

    bank = build_bank(3, n_lenses=3, n_negatives=4, n_field=3, size=48)
    stamps, labels, kinds = vetting_set(5, bank, 12, size=32)
    again, _, _ = vetting_set(5, bank, 12, size=32)
    assert stamps.shape == (12, 32, 32) and np.array_equal(stamps, again) and np.all(np.isfinite(stamps))
    assert list(labels) == [1, 0] * 6
    assert set(kinds[labels == 1]) == {"lens"} and "lens" not in set(kinds[labels == 0])
    # A lens stamp holds its arcs near the middle: more light there than at the edges.
    middle = stamps[labels == 1][:, 8:24, 8:24].mean()
    assert middle > stamps[labels == 1][:, :4, :].mean()


def test_train_resume_and_write_weights_with_card(tmp_path):
    import torch

    from crclean.training.lenses import train_vetter

    run = tmp_path / "run"
    first = train_vetter(_config(2), out_dir=run, progress=False)
    assert first["steps"] == 2 and (run / "vetter_checkpoint.pt").is_file()
    messages = []
    second = train_vetter(_config(3, mined_tiles=1), out_dir=run, resume=True, progress=False, log=messages.append)
    assert any("resumed from" in m and "at step 2" in m for m in messages)
    assert any(m.startswith("mined ") for m in messages)
    assert second["steps"] == 3 and len(second["history"]) == 3
    weights = run / "tiny-vetter.pt"
    assert second["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert any(key.startswith("stages.") for key in torch.load(weights, weights_only=True))
    card = (run / "tiny-vetter.md").read_text()
    assert second["sha256"] in card and "rtdetr-lens-v2" in card and "Stacking" in card


def test_bad_vetter_configs_are_refused():
    from crclean.training.lenses import load_vetter_config

    with pytest.raises(ValueError, match="unknown training config keys: \\['stepz'\\]"):
        load_vetter_config({"stepz": 3})
    with pytest.raises(ValueError, match="stamp must be a multiple of 8, got 30"):
        load_vetter_config({"stamp": 30})
    with pytest.raises(ValueError, match="detector must be a lens model"):
        load_vetter_config({"detector": "rtdetr-lens-v99"})
    with pytest.raises(ValueError, match="task 'lenses', not 'lens-vetter'"):
        load_vetter_config({"task": "lenses"})


def test_shipped_vetter_config_loads():
    from crclean.cli._train import _CONFIGS
    from crclean.training.lenses import load_vetter_config

    config = load_vetter_config(_CONFIGS / "lens-vetter-v2.toml")
    assert config["name"] == "lens-vetter-v2" and config["detector"] == "rtdetr-lens-v2"
    assert config["mined_tiles"] == 400 and config["n_train"] == 60000


def test_train_vetter_command_checks_before_work(tmp_path):
    config = tmp_path / "v.toml"
    config.write_text('task = "lens-vetter"\nsteps = 0\n')
    result = CliRunner().invoke(main, ["train", "vetter", "--config", str(config), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "steps must be a positive int, got 0" in result.output
    config.write_text('task = "lens-vetter"\n')
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "vetter_checkpoint.pt").write_bytes(b"")
    result = CliRunner().invoke(main, ["train", "vetter", "--config", str(config), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "pass --resume" in result.output


def test_train_vetter_command_refuses_a_damaged_detector(tmp_path, monkeypatch):
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "rtdetr-lens-v2.pt").write_bytes(b"not the real weights")
    monkeypatch.setattr("crclean.weights.SHIPPED_WEIGHTS_DIR", shipped)
    config = tmp_path / "v.toml"
    config.write_text('task = "lens-vetter"\n')
    result = CliRunner().invoke(main, ["train", "vetter", "--config", str(config), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "rtdetr-lens-v2" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()
