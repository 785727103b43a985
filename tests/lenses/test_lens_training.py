"""The training entry point: config validation, checkpoints, resume, fine-tuning, weights and card."""

import hashlib

import pytest
from click.testing import CliRunner

from crclean.cli import main

_TINY_MODEL = {"widths": [8, 16, 24, 32], "depths": [1, 1, 1, 1], "dim": 32, "encoder_ffn": 64,
               "decoder_ffn": 64, "num_queries": 8, "decoder_layers": 1, "num_denoising": 4}


def _config(steps, **extra):
    return {"name": "tiny", "steps": steps, "batch_size": 2, "window": 64, "warmup": 1, "val_windows": 4,
            "val_every": 100, "checkpoint_every": 1, "calibration_windows": 4,
            "bank": {"n_lenses": 4, "n_negatives": 4, "n_field": 4, "size": 48},
            "model": _TINY_MODEL, **extra}


def test_train_resume_and_write_weights_with_card(tmp_path):
    import torch

    from crclean.training.lenses import train_lenses

    run = tmp_path / "run"
    first = train_lenses(_config(2), out_dir=run, progress=False)
    assert first["steps"] == 2 and (run / "checkpoint.pt").is_file()
    messages = []
    second = train_lenses(_config(3), out_dir=run, resume=True, progress=False, log=messages.append)
    assert "resumed from" in messages[0] and "at step 2" in messages[0]
    assert second["steps"] == 3
    weights = run / "tiny.pt"
    assert second["weights"] == weights
    assert second["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    state = torch.load(weights, weights_only=True)
    assert any(key.startswith("decoder.") for key in state)
    card = (run / "tiny.md").read_text()
    assert second["sha256"] in card and "0.2 arcsec/pixel" in card and "Zhao et al. 2024" in card
    assert "clumpy Sersic sources" in card and "star-forming knots" not in card
    assert "Sersic lens light" in card and "Moffat PSF" in card and "chance alignments" not in card


def test_fine_tuning_starts_from_the_given_weights(tmp_path):
    import torch

    from crclean.training.lenses import train_lenses

    start = train_lenses(_config(1), out_dir=tmp_path / "first", progress=False)
    messages = []
    # With a zero learning rate nothing moves, so the result must be the starting weights.
    bank = {"n_lenses": 4, "n_negatives": 5, "n_field": 4, "size": 48, "smooth_source_fraction": 0.25,
            "clumpy_negatives": True, "varied_lenses": True, "unlensed_negatives": True}
    tuned = train_lenses(_config(1, lr=0.0, init_weights=str(start["weights"]),
                                 scene={"gain_range": [5.0, 50.0], "psf_families": True}, bank=bank),
                         out_dir=tmp_path / "second", progress=False, log=messages.append)
    assert any(message.startswith("initialised from") for message in messages)
    before = torch.load(start["weights"], weights_only=True)
    after = torch.load(tuned["weights"], weights_only=True)
    floats = [key for key, value in before.items() if value.dtype.is_floating_point and "running" not in key]
    assert floats and all(torch.equal(before[key], after[key]) for key in floats)
    card = tuned["card"].read_text()
    assert f"initialised from `{start['weights']}`" in card and '"gain_range": [5.0, 50.0]' in card
    # The card says what the bank options changed: smooth sources and knotty look-alikes.
    assert "75% with star-forming clumps, 25% smooth" in card and "with star-forming knots" in card
    assert "bulge-plus-disk" in card and "irregular (several blobs)" in card and "chance alignments" in card
    assert "Kolmogorov PSF" in card
    with pytest.raises(FileNotFoundError, match="neither a lens model"):
        train_lenses(_config(1, init_weights="rtdetr-lens-v99"), out_dir=tmp_path / "third", progress=False)
    assert not (tmp_path / "third").exists()


def test_fine_tuning_with_mined_look_alikes(tmp_path):
    from crclean.training.lenses import train_lenses

    start = train_lenses(_config(1), out_dir=tmp_path / "first", progress=False)
    messages = []
    tuned = train_lenses(_config(2, init_weights=str(start["weights"]), hard_negative_share=0.5, mining_repeats=1),
                         out_dir=tmp_path / "second", progress=False, log=messages.append)
    assert any(message.startswith("mined 4 look-alikes with") for message in messages)
    assert any(message.startswith("look-alike scores: ring mean") for message in messages)
    assert (tmp_path / "second" / "mined_20261123_tiny_1.npy").is_file()
    card = tuned["card"].read_text()
    assert "Hard-negative mining" in card and "50% of the look-alike draws follow score ** 1" in card


def test_bad_configs_are_refused(tmp_path):
    from crclean.training.lenses import load_lens_config

    with pytest.raises(ValueError, match="unknown training config keys: \\['stepz'\\]"):
        load_lens_config({"stepz": 3})
    with pytest.raises(ValueError, match="window must be a multiple of 32, got 50"):
        load_lens_config({"window": 50})
    with pytest.raises(ValueError, match="unknown \\[scene\\] options: \\['seeing'\\]"):
        load_lens_config({"scene": {"seeing": [0.5, 1.0]}})
    with pytest.raises(ValueError, match="unknown \\[bank\\] options: \\['clumpy'\\]"):
        load_lens_config({"bank": {"clumpy": True}})
    with pytest.raises(ValueError, match="smooth_source_fraction must be a number within 0-1, got 1.5"):
        load_lens_config({"bank": {"smooth_source_fraction": 1.5}})
    with pytest.raises(ValueError, match="task 'mask', not 'lenses'"):
        load_lens_config({"task": "mask"})
    with pytest.raises(FileNotFoundError, match="no such config file"):
        load_lens_config(tmp_path / "missing.toml")


def test_the_configs_of_the_shipped_lens_finders_load_and_chain():
    """lenses-v9.toml and lenses-v20.toml, and every config between them and the first model, are packaged."""
    from crclean.cli._train import _CONFIGS
    from crclean.lenses._manifest import LENS_MODELS, REMOVED_LENS_MODELS
    from crclean.training.lenses import load_lens_config

    chain = [0, 1, 2, 3, 7, 8, 9, 12, 13, 14, 15, 17, 20]
    assert sorted(path.name for path in _CONFIGS.glob("lens*.toml")) == sorted(f"lenses-v{v}.toml" for v in chain)
    configs = {v: load_lens_config(_CONFIGS / f"lenses-v{v}.toml") for v in chain}
    assert all(configs[v]["name"] == f"rtdetr-lens-v{v}" for v in chain)
    assert not configs[0]["init_weights"] and not configs[0]["scene"]
    for before, after in zip(chain, chain[1:]):
        start = configs[after]["init_weights"]
        header = (_CONFIGS / f"lenses-v{after}.toml").read_text().split("\ntask = ")[0]
        if f"rtdetr-lens-v{before}" in LENS_MODELS:
            assert start == f"rtdetr-lens-v{before}", after
        else:
            # A removed starting model: its file, restored from git history as the header says.
            assert start == f"weights/rtdetr-lens-v{before}.pt", after
            commit = REMOVED_LENS_MODELS[f"rtdetr-lens-v{before}"]
            assert f"git show {commit}:weights/rtdetr-lens-v{before}.pt > {start}" in header, after
    assert configs[9]["name"] in LENS_MODELS and not configs[9]["bands"]
    assert configs[20]["name"] in LENS_MODELS and configs[20]["bands"] == ["g", "r", "i"]
    assert LENS_MODELS["rtdetr-lens-v20"].bands == ("g", "r", "i")
    # v12 spreads v9 over three bands; v20 is v17's recipe at a 4x learning rate.
    assert configs[12]["model"] == {"in_channels": 3} and configs[12]["bank"] == {**configs[9]["bank"],
                                                                                  "colour_parts": True}
    assert (configs[20]["lr"], configs[20]["steps"]) == (4 * configs[17]["lr"], 6000)


def test_a_removed_starting_model_says_how_to_restore_it(tmp_path, monkeypatch):
    from crclean.training.lenses._warm_start import initial_weights

    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"crclean no longer ships rtdetr-lens-v8; restore its checkpoint "
                                                r"from git \(`git show becd0300b153:weights/rtdetr-lens-v8.pt > "
                                                r"weights/rtdetr-lens-v8.pt`"):
        initial_weights("weights/rtdetr-lens-v8.pt")
    with pytest.raises(FileNotFoundError, match="git show de5729e49226:weights/rtdetr-lens-v3.pt"):
        initial_weights("rtdetr-lens-v3")
    with pytest.raises(FileNotFoundError, match="is neither a lens model"):
        initial_weights("rtdetr-lens-v99")


def test_train_command_reports_config_errors(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("task = \"lenses\"\nsteps = 0\n")
    result = CliRunner().invoke(main, ["train", "lenses", "--config", str(config), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "steps must be a positive int, got 0" in result.output
    result = CliRunner().invoke(main, ["train", "lenses", "--config", str(tmp_path / "nope.toml"),
                                       "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no such config file" in result.output
    assert not (tmp_path / "o").exists()


def test_train_command_will_not_restart_a_run_without_resume(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text("task = \"lenses\"\n")
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "checkpoint.pt").write_bytes(b"")
    result = CliRunner().invoke(main, ["train", "lenses", "--config", str(config), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "pass --resume" in result.output


def test_train_command_refuses_a_damaged_starting_model(tmp_path, monkeypatch):
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "rtdetr-lens-v9.pt").write_bytes(b"not the real weights")
    monkeypatch.setattr("crclean.weights.SHIPPED_WEIGHTS_DIR", shipped)
    config = tmp_path / "tune.toml"
    config.write_text('task = "lenses"\ninit_weights = "rtdetr-lens-v9"\n')
    result = CliRunner().invoke(main, ["train", "lenses", "--config", str(config), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "checksum mismatch for lens model 'rtdetr-lens-v9'" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_a_model_with_input_stretches_starts_as_the_one_without(tmp_path):
    import torch

    from crclean.models.rtdetr import build_rtdetr
    from crclean.training.lenses import train_lenses
    from crclean.training.lenses._warm_start import _widen_input

    start = train_lenses(_config(1), out_dir=tmp_path / "first", progress=False)
    messages = []
    wide = {**_TINY_MODEL, "input_stretches": [20.0, 500.0]}
    tuned = train_lenses(_config(1, lr=0.0, init_weights=str(start["weights"]), model=wide),
                         out_dir=tmp_path / "second", progress=False, log=messages.append)
    assert any("input channels 1 -> 3" in message for message in messages)
    before = torch.load(start["weights"], weights_only=True)["backbone.stem.0.0.weight"]
    after = torch.load(tuned["weights"], weights_only=True)["backbone.stem.0.0.weight"]
    assert after.shape[1] == 3 and torch.equal(after[:, :1], before) and not after[:, 1:].any()
    narrow_model, wide_model = build_rtdetr(_TINY_MODEL).eval(), build_rtdetr(wide).eval()
    wide_model.load_state_dict(_widen_input(narrow_model.state_dict(), wide_model, messages.append))
    images = torch.asinh(torch.rand(2, 1, 64, 64) * 300.0)
    with torch.no_grad():
        # Zero weights on the new channels: the same detections as the starting model.
        torch.testing.assert_close(wide_model(images)["pred_logits"], narrow_model(images)["pred_logits"])
    with pytest.raises(ValueError, match="this model needs"):
        _widen_input(wide_model.state_dict(), narrow_model, messages.append)
    # A starting model of another size is refused with a message, before OUT is made.
    other = {**_TINY_MODEL, "widths": [8, 16, 24, 48]}
    with pytest.raises(ValueError, match="does not fit this config's model"):
        train_lenses(_config(1, init_weights=str(start["weights"]), model=other), out_dir=tmp_path / "third",
                     progress=False)
    assert not (tmp_path / "third").exists()


def test_a_fine_level_is_added_to_a_model_trained_without_one(tmp_path, monkeypatch):
    import torch

    from crclean.models.rtdetr import build_rtdetr
    from crclean.training.lenses import train_lenses
    from crclean.training.lenses import _train, _warm_start

    torch.manual_seed(1)
    coarse_model = build_rtdetr(_TINY_MODEL).eval()
    fine_model = build_rtdetr({**_TINY_MODEL, "fine_level": True}).eval()
    state, fresh = _warm_start._add_new_tensors(coarse_model.state_dict(), fine_model, print)
    fine_model.load_state_dict(state)
    assert fresh and all(key.startswith(("encoder.fine_", "decoder.input_proj.3.")) for key in fresh)
    # The new level's attention rows copy the stride-8 level's, its logits lowered.
    attention = fine_model.decoder.layers[0].cross_attention
    rows = attention.attention_weights.bias.view(attention.heads, 4, attention.points)
    torch.testing.assert_close(rows[:, 3], rows[:, 0] + _warm_start._NEW_LEVEL_LOGIT_OFFSET)
    images = torch.asinh(torch.rand(2, 1, 64, 64) * 300.0)
    with torch.no_grad():
        assert not torch.equal(fine_model(images)["pred_logits"], coarse_model(images)["pred_logits"])
        # With the new level's attention shut, the fitted model computes what the starting one did.
        monkeypatch.setattr(_warm_start, "_NEW_LEVEL_LOGIT_OFFSET", -1e4)
        fine_model.load_state_dict(_warm_start._add_new_tensors(coarse_model.state_dict(), fine_model, print)[0])
        torch.testing.assert_close(fine_model(images)["pred_logits"], coarse_model(images)["pred_logits"])
    with pytest.raises(ValueError, match="unexpected key"):
        _warm_start._add_new_tensors(fine_model.state_dict(), coarse_model, print)
    # Fine-tuning with it: the new tensors train new_lr_scale times faster than the rest.
    monkeypatch.undo()
    start = train_lenses(_config(1), out_dir=tmp_path / "coarse", progress=False)
    seen = []
    original_step = torch.optim.AdamW.step

    def recording_step(self, *args, **kwargs):
        seen.append(sorted((group["lr_scale"], group["lr"]) for group in self.param_groups))
        return original_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", recording_step)
    messages = []
    train_lenses(_config(1, init_weights=str(start["weights"]), model={**_TINY_MODEL, "fine_level": True},
                         new_lr_scale=4.0, lr=1e-4, warmup=0),
                 out_dir=tmp_path / "fine", progress=False, log=messages.append)
    assert any("added a fine level" in message for message in messages)
    (base, new), = seen
    assert base[0] == 1.0 and new[0] == 4.0 and new[1] == pytest.approx(4 * base[1]) and base[1] > 0
    for bad in (0, -1.0, True, "4"):
        with pytest.raises(ValueError, match="new_lr_scale must be a positive number"):
            _train.load_lens_config({"new_lr_scale": bad})


def test_residual_blocks_are_added_to_a_model_trained_without_them(tmp_path):
    import torch

    from crclean.models.rtdetr import build_rtdetr
    from crclean.training.lenses import train_lenses
    from crclean.training.lenses import _warm_start

    torch.manual_seed(2)
    shallow = build_rtdetr(_TINY_MODEL).eval()
    deep = build_rtdetr({**_TINY_MODEL, "residual_blocks": [0, 1, 1, 0]}).eval()
    messages = []
    state, fresh = _warm_start._add_new_tensors(shallow.state_dict(), deep, messages.append)
    deep.load_state_dict(state)
    assert fresh and all(key.startswith(("backbone.stages.1.1.branch.", "backbone.stages.2.1.branch.")) for key in fresh)
    # Only the blocks are new: no level is added, so no decoder projection is silenced.
    assert messages == ["added 2 residual blocks to the backbone, each starting as the identity"]
    torch.testing.assert_close(state["decoder.input_proj.2.1.weight"], shallow.state_dict()["decoder.input_proj.2.1.weight"])
    images = torch.asinh(torch.rand(2, 1, 64, 64) * 300.0)
    with torch.no_grad():
        torch.testing.assert_close(deep(images)["pred_logits"], shallow(images)["pred_logits"])
        torch.testing.assert_close(deep(images)["pred_boxes"], shallow(images)["pred_boxes"])
    # Fine-tuning through train_lenses takes the same path and trains the blocks.
    start = train_lenses(_config(1), out_dir=tmp_path / "shallow", progress=False)
    messages = []
    result = train_lenses(_config(2, init_weights=str(start["weights"]),
                                  model={**_TINY_MODEL, "residual_blocks": [0, 1, 1, 0]}, new_lr_scale=4.0),
                          out_dir=tmp_path / "deep", progress=False, log=messages.append)
    assert any("added 2 residual blocks" in message for message in messages)
    trained = torch.load(result["weights"], weights_only=True)
    assert trained["backbone.stages.1.1.branch.1.1.weight"].abs().max() > 0


def test_training_device_is_checked_before_any_work(tmp_path, monkeypatch):
    from crclean.training.lenses import load_lens_config

    assert load_lens_config({})["device"] == "cpu"
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    for bad, message in (("cuda", "sees no CUDA GPU"), ("tpu", "must be 'auto', 'cpu' or 'cuda'"),
                         (0, "must be 'auto', 'cpu' or 'cuda'")):
        with pytest.raises(ValueError, match=message):
            load_lens_config({"device": bad})
    config = tmp_path / "gpu.toml"
    config.write_text('task = "lenses"\ndevice = "cuda"\n')
    result = CliRunner().invoke(main, ["train", "lenses", "--config", str(config), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "sees no CUDA GPU" in result.output
    # --device overrides the config, and is refused on its own name when no GPU is there.
    plain = tmp_path / "plain.toml"
    plain.write_text('task = "lenses"\n')
    result = CliRunner().invoke(main, ["train", "lenses", "--config", str(plain), "--out", str(tmp_path / "o"),
                                       "--device", "cuda:0"])
    assert result.exit_code == 2 and "--device" in result.output and "sees no CUDA GPU" in result.output
    assert not (tmp_path / "o").exists()


def test_train_command_device_option_reaches_the_run(tmp_path):
    import json

    import torch

    config = tmp_path / "tiny.toml"
    model = "\n".join(f"{key} = {json.dumps(value)}" for key, value in _TINY_MODEL.items())
    config.write_text('task = "lenses"\nname = "tiny"\nsteps = 1\nbatch_size = 2\nwindow = 64\nwarmup = 1\n'
                      'val_windows = 4\nval_every = 100\ncalibration_windows = 4\ndevice = "cuda"\n'
                      '[bank]\nn_lenses = 4\nn_negatives = 4\nn_field = 4\nsize = 48\n[model]\n' + model + "\n")
    out = tmp_path / "o"
    result = CliRunner().invoke(main, ["train", "lenses", "--config", str(config), "--out", str(out), "-q",
                                       "--device", "cpu"])
    assert result.exit_code == 0, result.output
    saved = json.loads(torch.load(out / "checkpoint.pt", weights_only=True)["config"])
    assert saved["device"] == "cpu" and saved["steps"] == 1
    state = torch.load(out / "tiny.pt", weights_only=True)
    assert all(value.device.type == "cpu" for value in state.values())
    # Fine-tuning it into a model of another size is one error line, exit 1, and no second OUT.
    wider = config.read_text().replace("widths = [8, 16, 24, 32]", "widths = [8, 16, 24, 48]")
    config.write_text(wider.replace('device = "cuda"', f"device = \"cpu\"\ninit_weights = \"{out / 'tiny.pt'}\""))
    result = CliRunner().invoke(main, ["train", "lenses", "--config", str(config), "--out", str(tmp_path / "o2"), "-q"])
    assert result.exit_code == 1 and "does not fit this config's model" in result.output
    assert "crclean: error:" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o2").exists()
