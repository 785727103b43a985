"""The training entry point: config validation, checkpoints, resume, fine-tuning, weights and card."""

import hashlib
from pathlib import Path

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


def test_shipped_lens_configs_load_and_chain():
    from crclean.cli._train import _CONFIGS
    from crclean.lenses._manifest import LENS_MODELS
    from crclean.training.lenses import load_lens_config

    first = load_lens_config(_CONFIGS / "lenses-v0.toml")
    assert first["name"] == "rtdetr-lens-v0" and not first["init_weights"] and not first["scene"]
    second = load_lens_config(_CONFIGS / "lenses-v1.toml")
    assert second["name"] == "rtdetr-lens-v1" and second["init_weights"] == "rtdetr-lens-v0"
    assert second["scene"]["gaussian_psf_fraction"] == 0.25 and second["ellipticals"] == 1.0
    third = load_lens_config(_CONFIGS / "lenses-v2.toml")
    assert third["init_weights"] == "rtdetr-lens-v1" and third["negatives"] == 2.0
    assert {first["name"], second["name"], third["name"]} <= set(LENS_MODELS)
    # v5 differs from v4 only in its extra input channels: the comparison the docs report.
    fourth, fifth = load_lens_config(_CONFIGS / "lenses-v4.toml"), load_lens_config(_CONFIGS / "lenses-v5.toml")
    assert fifth["model"] == {"input_stretches": [20.0, 500.0]} and not fourth["model"]
    same = {key: value for key, value in fifth.items() if key not in ("name", "model")}
    assert same == {key: value for key, value in fourth.items() if key not in ("name", "model")}
    sixth = load_lens_config(_CONFIGS / "lenses-v6.toml")
    assert sixth["bank"] == {**fourth["bank"], "early_type_rings": True}
    assert {**sixth, "name": "", "bank": {}} == {**fourth, "name": "", "bank": {}}
    # v7 is v6's bank with clumps made no cue, started from v3 on its own bank seed for 10000 steps.
    seventh = load_lens_config(_CONFIGS / "lenses-v7.toml")
    assert seventh["bank"] == {**sixth["bank"], "smooth_source_fraction": 0.35, "clumpy_negatives": True}
    assert seventh["init_weights"] == "rtdetr-lens-v3" and seventh["steps"] == 10000
    assert {**seventh, "name": "", "bank": {}, "seed": 0, "steps": 0} == {**sixth, "name": "", "bank": {}, "seed": 0,
                                                                         "steps": 0}
    # v8 continues v7 (kept in weights/, run from the repository root) at half the rate on a fresh bank.
    eighth = load_lens_config(_CONFIGS / "lenses-v8.toml")
    assert eighth["init_weights"] == "weights/rtdetr-lens-v7.pt" and eighth["bank"] == seventh["bank"]
    assert (eighth["lr"], eighth["steps"], eighth["seed"]) == (seventh["lr"] / 2, 6000, seventh["seed"] + 1)
    assert (Path(__file__).parents[2] / eighth["init_weights"]).is_file()
    # v9 repeats v8's recipe from v8 on the next bank seed, for longer.
    ninth = load_lens_config(_CONFIGS / "lenses-v9.toml")
    assert ninth["init_weights"] == "weights/rtdetr-lens-v8.pt" and ninth["bank"] == eighth["bank"]
    assert (ninth["lr"], ninth["steps"]) == (eighth["lr"], 8000) and ninth["seed"] > eighth["seed"]
    assert (Path(__file__).parents[2] / ninth["init_weights"]).is_file()
    assert ninth["name"] in LENS_MODELS
    tenth = load_lens_config(_CONFIGS / "lenses-v10.toml")
    assert tenth["init_weights"] == "weights/rtdetr-lens-v9.pt" and tenth["bank"] == ninth["bank"]
    assert (tenth["lr"], tenth["steps"], tenth["seed"]) == (ninth["lr"], 6000, ninth["seed"] + 1)
    # v11 is v10's run (same bank, batches and schedule) from v9 with a fine level: v10 is its control.
    eleventh = load_lens_config(_CONFIGS / "lenses-v11.toml")
    assert eleventh["model"] == {"fine_level": True} and eleventh["init_weights"] == "rtdetr-lens-v9"
    assert {**eleventh, "name": "", "model": {}, "init_weights": "", "new_lr_scale": 1.0} == {
        **tenth, "name": "", "init_weights": ""}
    # v12 is v9's recipe in three bands from v9 on a coloured bank, its widened first layer learning faster.
    twelfth = load_lens_config(_CONFIGS / "lenses-v12.toml")
    assert twelfth["bands"] == ["g", "r", "i"] and twelfth["model"] == {"in_channels": 3}
    assert twelfth["bank"] == {**ninth["bank"], "colour_parts": True} and twelfth["init_weights"] == "rtdetr-lens-v9"
    assert {**twelfth, "name": "", "model": {}, "bands": [], "bank": {}, "init_weights": "", "seed": 0,
            "new_lr_scale": 1.0} == {**ninth, "name": "", "bank": {}, "init_weights": "", "seed": 0}
    assert twelfth["name"] in LENS_MODELS and LENS_MODELS[twelfth["name"]].bands == ("g", "r", "i")
    # v13 continues v12 (shipped) with its recipe on the next bank seed.
    thirteenth = load_lens_config(_CONFIGS / "lenses-v13.toml")
    assert thirteenth["init_weights"] == "rtdetr-lens-v12" and thirteenth["seed"] == twelfth["seed"] + 1
    assert {**thirteenth, "name": "", "init_weights": "", "seed": 0, "new_lr_scale": 4.0} == {
        **twelfth, "name": "", "init_weights": "", "seed": 0}
    # v14 continues v13 on the next bank seed, with half of the look-alike draws mined by v13.
    fourteenth = load_lens_config(_CONFIGS / "lenses-v14.toml")
    assert fourteenth["init_weights"] == "rtdetr-lens-v13" and fourteenth["seed"] == thirteenth["seed"] + 1
    assert (fourteenth["hard_negative_share"], fourteenth["hard_negative_power"]) == (0.5, 2.0)
    assert {**fourteenth, "name": "", "init_weights": "", "seed": 0, "hard_negative_share": 0.0,
            "hard_negative_power": 1.0} == {**thirteenth, "name": "", "init_weights": "", "seed": 0}
    # v15 is v14's recipe again from v14 (shipped), so its look-alikes are mined by v14.
    fifteenth = load_lens_config(_CONFIGS / "lenses-v15.toml")
    assert fifteenth["init_weights"] == "rtdetr-lens-v14" and fifteenth["seed"] == fourteenth["seed"] + 1
    assert {**fifteenth, "name": "", "init_weights": "", "seed": 0} == {
        **fourteenth, "name": "", "init_weights": "", "seed": 0}
    assert fifteenth["name"] in LENS_MODELS and fourteenth["name"] in LENS_MODELS
    # v16 (a candidate) is the same recipe again from v15.
    sixteenth = load_lens_config(_CONFIGS / "lenses-v16.toml")
    assert sixteenth["init_weights"] == "rtdetr-lens-v15" and sixteenth["seed"] == fifteenth["seed"] + 1
    assert {**sixteenth, "name": "", "init_weights": "", "seed": 0} == {
        **fifteenth, "name": "", "init_weights": "", "seed": 0}
    # v17 is v16's round from the same start (v15), its look-alikes in wider colours.
    seventeenth = load_lens_config(_CONFIGS / "lenses-v17.toml")
    assert seventeenth["init_weights"] == "rtdetr-lens-v15" and seventeenth["seed"] == sixteenth["seed"] + 1
    assert seventeenth["scene"] == {**sixteenth["scene"], "wide_lookalike_colours": True}
    assert {**seventeenth, "name": "", "init_weights": "", "seed": 0, "scene": {}} == {
        **sixteenth, "name": "", "init_weights": "", "seed": 0, "scene": {}}
    # v18 is v17's recipe from v17 (shipped), with a fine level and 6000 steps.
    eighteenth = load_lens_config(_CONFIGS / "lenses-v18.toml")
    assert eighteenth["init_weights"] == "rtdetr-lens-v17" and eighteenth["seed"] == seventeenth["seed"] + 1
    assert eighteenth["model"] == {**seventeenth["model"], "fine_level": True}
    assert {**eighteenth, "name": "", "init_weights": "", "seed": 0, "model": {}, "steps": 0, "new_lr_scale": 1.0} == {
        **seventeenth, "name": "", "init_weights": "", "seed": 0, "model": {}, "steps": 0}
    # v19 is v17's recipe from v17, its backbone deepened by identity-start residual blocks.
    nineteenth = load_lens_config(_CONFIGS / "lenses-v19.toml")
    assert nineteenth["init_weights"] == "rtdetr-lens-v17" and nineteenth["seed"] == eighteenth["seed"] + 1
    assert nineteenth["model"] == {**seventeenth["model"], "residual_blocks": [1, 2, 2, 1]}
    assert {**nineteenth, "name": "", "init_weights": "", "seed": 0, "model": {}, "new_lr_scale": 1.0} == {
        **seventeenth, "name": "", "init_weights": "", "seed": 0, "model": {}}
    # v20 is v17's recipe from v17 with the network unchanged: a 4x learning rate, 6000 steps.
    twentieth = load_lens_config(_CONFIGS / "lenses-v20.toml")
    assert twentieth["init_weights"] == "rtdetr-lens-v17" and twentieth["seed"] == nineteenth["seed"] + 1
    assert (twentieth["lr"], twentieth["steps"]) == (4 * seventeenth["lr"], 6000)
    assert {**twentieth, "name": "", "init_weights": "", "seed": 0, "lr": 0, "steps": 0} == {
        **seventeenth, "name": "", "init_weights": "", "seed": 0, "lr": 0, "steps": 0}
    # v21 is v20's recipe, unchanged, from v20 on a fresh bank.
    twenty_first = load_lens_config(_CONFIGS / "lenses-v21.toml")
    assert twenty_first["init_weights"] == "rtdetr-lens-v20" and twenty_first["seed"] == twentieth["seed"] + 1
    assert {**twenty_first, "name": "", "init_weights": "", "seed": 0} == {
        **twentieth, "name": "", "init_weights": "", "seed": 0}
    # v22 is v10's one-band round from v9 with the three-band line's mining and learning rate.
    tenth = load_lens_config(_CONFIGS / "lenses-v10.toml")
    twenty_second = load_lens_config(_CONFIGS / "lenses-v22.toml")
    assert twenty_second["init_weights"] == "rtdetr-lens-v9" and twenty_second["bands"] == tenth["bands"]
    assert twenty_second["lr"] == twentieth["lr"] == 4 * tenth["lr"]
    mining = ("hard_negative_share", "hard_negative_power", "mining_repeats")
    assert [twenty_second[key] for key in mining] == [twentieth[key] for key in mining]
    assert {**twenty_second, "name": "", "init_weights": "", "seed": 0, "lr": 0, **{key: 0 for key in mining}} == {
        **tenth, "name": "", "init_weights": "", "seed": 0, "lr": 0, **{key: 0 for key in mining}}
    # v23 splits v22's two changes: v22 exactly, but at v10's learning rate.
    twenty_third = load_lens_config(_CONFIGS / "lenses-v23.toml")
    assert twenty_third["lr"] == tenth["lr"] and twenty_third["seed"] == twenty_second["seed"]
    assert {**twenty_third, "name": "", "lr": 0} == {**twenty_second, "name": "", "lr": 0}
    # v24 is v10's round from v9 on a fresh bank with the wider lens, source and PSF families, and nothing else.
    twenty_fourth = load_lens_config(_CONFIGS / "lenses-v24.toml")
    assert twenty_fourth["bank"] == {**tenth["bank"], "varied_lenses": True}
    assert twenty_fourth["scene"] == {**tenth["scene"], "psf_families": True}
    assert twenty_fourth["seed"] == twenty_third["seed"] + 1
    assert {**twenty_fourth, "name": "", "seed": 0, "bank": {}, "scene": {}} == {
        **tenth, "name": "", "seed": 0, "bank": {}, "scene": {}}
    # v25 is v24 with the lenses' unlensed look-alikes added, on a fresh bank.
    twenty_fifth = load_lens_config(_CONFIGS / "lenses-v25.toml")
    assert twenty_fifth["bank"] == {**twenty_fourth["bank"], "unlensed_negatives": True}
    assert twenty_fifth["seed"] == twenty_fourth["seed"] + 1
    assert {**twenty_fifth, "name": "", "seed": 0, "bank": {}} == {**twenty_fourth, "name": "", "seed": 0, "bank": {}}
    # v26 is v24 with the PSF families alone.
    twenty_sixth = load_lens_config(_CONFIGS / "lenses-v26.toml")
    assert twenty_sixth["bank"] == tenth["bank"] and twenty_sixth["scene"] == twenty_fourth["scene"]
    assert twenty_sixth["seed"] == twenty_fifth["seed"] + 1
    assert {**twenty_sixth, "name": "", "seed": 0, "bank": {}} == {**twenty_fourth, "name": "", "seed": 0, "bank": {}}
    # v27 is v26's round again, from v26's own output, on a fresh bank.
    twenty_seventh = load_lens_config(_CONFIGS / "lenses-v27.toml")
    assert twenty_seventh["init_weights"] == "runs/lenses-v26/rtdetr-lens-v26.pt"
    assert twenty_seventh["seed"] == twenty_sixth["seed"] + 1
    assert {**twenty_seventh, "name": "", "seed": 0, "init_weights": ""} == {
        **twenty_sixth, "name": "", "seed": 0, "init_weights": ""}
    # v28 is v21's three-band round from v20 with the PSF families, at v10's (and v17's) learning rate.
    twenty_eighth = load_lens_config(_CONFIGS / "lenses-v28.toml")
    assert twenty_eighth["scene"] == {**twenty_first["scene"], "psf_families": True}
    assert twenty_eighth["lr"] == tenth["lr"] and twenty_eighth["seed"] == twenty_seventh["seed"] + 1
    assert {**twenty_eighth, "name": "", "seed": 0, "lr": 0, "scene": {}} == {
        **twenty_first, "name": "", "seed": 0, "lr": 0, "scene": {}}


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
    (shipped / "rtdetr-lens-v0.pt").write_bytes(b"not the real weights")
    monkeypatch.setattr("crclean.weights.SHIPPED_WEIGHTS_DIR", shipped)
    config = tmp_path / "tune.toml"
    config.write_text('task = "lenses"\ninit_weights = "rtdetr-lens-v0"\n')
    result = CliRunner().invoke(main, ["train", "lenses", "--config", str(config), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "rtdetr-lens-v0" in result.output and "Traceback" not in result.output
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
