import json
import tomllib

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from crclean.cli import main
from crclean.training.mask import build_pool, load_config, mask_scores, train_mask
from crclean.training.mask._losses import dice_bce_loss

TINY = {
    "name": "tiny", "arch": "transunet",
    "model": {"channels": [8, 8, 16], "embed_dim": 12, "depth": 1, "heads": 2, "mlp_dim": 16},
    "data": {"size": 64, "train_exposures": 6, "validation_exposures": 3},
    "train": {"steps": 4, "batch_size": 2, "crop": 32, "validate_every": 2, "warmup": 1},
}


def test_scores_on_a_hand_made_case():
    truth = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], bool)
    probability = np.array([0.9, 0.8, 0.7, 0.2, 0.6, 0.1, 0.1, 0.1, 0.1, 0.1])
    ignore = np.zeros(10, bool)
    ignore[9] = True
    scores = mask_scores(probability, truth, ignore=ignore)
    # dice at 0.5: 3 true hits, 1 false, 4 truth pixels -> 2*3 / (4 + 4)
    assert scores["dice"] == pytest.approx(0.75)
    # 95% recall needs every positive (0.2): negatives >= 0.2 are just 0.6.
    assert scores["precision_at_recall_0.95"] == pytest.approx(4 / 5)
    # 5 negatives: an FPR of 1e-4 allows none, so the cut is 0.6.
    assert scores["tpr_at_fpr_1e-4"] == pytest.approx(3 / 4)
    assert scores["n_truth"] == 4


def test_loss_ignores_zero_weight_pixels_and_rewards_truth():
    target = torch.tensor([[1.0, 0.0, 0.0]])
    weight = torch.tensor([[1.0, 1.0, 0.0]])
    good = dice_bce_loss(torch.tensor([[8.0, -8.0, 8.0]]), target, weight)
    bad = dice_bce_loss(torch.tensor([[-8.0, 8.0, 8.0]]), target, weight)
    assert good < 0.01 < bad
    same = dice_bce_loss(torch.tensor([[8.0, -8.0, -8.0]]), target, weight)
    assert same == pytest.approx(float(good), abs=1e-6)


def test_pool_is_reproducible_and_validation_is_held_out():
    first = build_pool(2, size=64, profiles=["ground_thick"], seed=3)
    again = build_pool(2, size=64, profiles=["ground_thick"], seed=3)
    held_out = build_pool(2, size=64, profiles=["ground_thick"], seed=3, split="validation")
    np.testing.assert_array_equal(first.inputs, again.inputs)
    assert not np.array_equal(first.target, held_out.target)
    inputs, target, weight = first.batch(np.random.default_rng(0), 3, 32)
    assert inputs.shape == target.shape == weight.shape == (3, 32, 32)


def test_source_weight_weighs_pixels_on_bright_sources():
    from crclean.training.mask._data import bright_source_pixels
    from crclean.training.simulate import simulate_exposure

    kwargs = dict(size=96, profiles=["ground_thin"], seed=5, split="validation")
    plain, weighted = build_pool(2, **kwargs), build_pool(2, source_weight=4, **kwargs)
    bright = np.stack([bright_source_pixels(simulate_exposure((96, 96), seed=5 + i, profile="ground_thin",
                                                              split="validation")) for i in range(2)])
    assert bright.any() and not bright.all()
    np.testing.assert_array_equal(weighted.weight[bright], 4 * plain.weight[bright])
    np.testing.assert_array_equal(weighted.weight[~bright], plain.weight[~bright])
    assert plain.weight.max() == 1
    with pytest.raises(ValueError, match="source_weight"):
        build_pool(1, source_weight=0.5, **kwargs)
    with pytest.raises(ValueError, match=r"\[data\] source_weight"):
        load_config({"name": "x", "arch": "unet", "data": {"source_weight": 300}})
    with pytest.raises(ValueError, match=r"\[model\] psf_size needs psf_inputs"):
        load_config({"name": "x", "arch": "unet", "model": {"psf_size": True}})


def test_training_writes_weights_card_and_resumes(tmp_path):
    best = train_mask(TINY, out_dir=tmp_path, progress=False)
    assert {"tiny.pt", "tiny.md", "checkpoint.pt", "log.jsonl"} <= {p.name for p in tmp_path.iterdir()}
    assert best["step"] in (2, 4)
    state = torch.load(tmp_path / "tiny.pt", weights_only=True)
    assert "head.weight" in state
    longer = dict(TINY, train={**TINY["train"], "steps": 6})
    train_mask(longer, out_dir=tmp_path, resume=True, progress=False)
    steps = [json.loads(line)["step"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6]  # continued, not restarted
    assert "sha256" in (tmp_path / "tiny.md").read_text()


def test_config_errors_are_named(tmp_path):
    with pytest.raises(ValueError, match="needs a 'arch' entry"):
        load_config({"name": "x"})
    with pytest.raises(ValueError, match=r"unknown keys in \[train\]: stepz"):
        load_config({"name": "x", "arch": "unet", "train": {"stepz": 1}})
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n')
    result = CliRunner().invoke(main, ["train", "mask", "--config", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "needs a 'arch' entry" in result.output
    with pytest.raises(ValueError, match=r"\[data\] saturated must be one of 'negative', 'ignore', 'star_bleeds'"):
        load_config({"name": "x", "arch": "unet", "data": {"saturated": "maybe"}})
    with pytest.raises(ValueError, match=r"\[data\] bad_columns must be one of 'negative', 'ignore'"):
        load_config({"name": "x", "arch": "unet", "data": {"bad_columns": "maybe"}})
    bad.write_text('name = "x"\narch = "unet"\n[data]\nextras = ["sky_lines", "comets"]\n')
    result = CliRunner().invoke(main, ["train", "mask", "--config", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "unknown: comets" in result.output
    assert not (tmp_path / "o").exists()  # refused before any work


def test_shipped_configs_load():
    from pathlib import Path

    import crclean.training

    from crclean.models import build_network

    configs = sorted((Path(crclean.training.__file__).parent / "configs").glob("*.toml"))
    # The inpainter's config is for `crclean train inpaint` (tests/training/test_inpaint_training.py).
    configs = [path for path in configs if tomllib.loads(path.read_text()).get("task", "mask") == "mask"]
    assert {path.stem for path in configs} >= {"ground", "space", "ground-unet"}
    for path in configs:
        config = load_config(path)
        network = build_network(config["arch"], config["model"])
        assert sum(p.numel() for p in network.parameters()) > 100_000


def test_scaled_cosmic_rays_get_a_matching_truth():
    from crclean.training.mask._data import _scale_cosmic_rays
    from crclean.training.simulate import simulate_exposure

    exposure = simulate_exposure((128, 128), seed=7, profile="ground_thin", cr_rate=3.0)
    image, target, ignore = _scale_cosmic_rays(exposure, 5.0)
    hits = exposure.cr_electrons > 0
    unclipped = hits & ~exposure.saturated_mask & (image < image.max())  # the full well caps the rest
    added = (image - exposure.clean_adu)[unclipped]
    expected = (5.0 * (exposure.image_adu - exposure.clean_adu))[unclipped]
    np.testing.assert_allclose(added, expected, rtol=1e-3, atol=1e-2)
    assert target.sum() >= exposure.cr_mask.sum()  # brighter hits: more pixels above 3 sigma
    assert not (target & ignore).any() and not (target & exposure.defect_mask).any()
    assert ((target | ignore) == hits).all()
    np.testing.assert_array_equal(image[~hits], exposure.image_adu[~hits])


def test_where_to_train_is_checked_before_any_work(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"\[train\] device must be 'auto', 'cpu' or 'cuda\[:N\]', got 'gpu'"):
        load_config({**TINY, "train": {**TINY["train"], "device": "gpu"}})
    config = tmp_path / "tiny.toml"
    config.write_text('name = "tiny"\narch = "unet"\n[train]\ndevice = "cuda"\n')
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    asked = CliRunner().invoke(main, ["train", "mask", "--config", str(config), "--out", str(tmp_path / "o"),
                                      "--device", "cuda"])
    assert asked.exit_code == 2 and "sees no CUDA GPU" in asked.output
    named = CliRunner().invoke(main, ["train", "mask", "--config", str(config), "--out", str(tmp_path / "o")])
    assert named.exit_code == 2 and f"--config {config}" in named.output and "sees no CUDA GPU" in named.output
    assert not (tmp_path / "o").exists()


def test_a_config_that_names_a_gpu_trains_on_the_cpu_when_told(tmp_path, monkeypatch):
    # A run prepared for a lent GPU can be checked, or finished, on the CPU: --device overrides the config.
    seen = {}
    import crclean.training.mask as mask_training

    def fake_train(config, **kwargs):
        seen["device"] = config["train"]["device"]
        return {"step": 1, "tpr_at_fpr_1e-4": 0.5, "precision_at_recall_0.95": 0.5, "dice": 0.5}

    monkeypatch.setattr(mask_training, "train_mask", fake_train)
    config = tmp_path / "tiny.toml"
    config.write_text('name = "tiny"\narch = "unet"\n[train]\ndevice = "cuda"\n')
    result = CliRunner().invoke(main, ["train", "mask", "--config", str(config), "--out", str(tmp_path / "o"),
                                       "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert seen["device"] == "cpu"


def test_auto_trains_on_what_the_machine_has_and_saves_weights_that_load_anywhere(tmp_path):
    best = train_mask({**TINY, "train": {**TINY["train"], "device": "auto"}}, out_dir=tmp_path, progress=False)
    assert best["step"] in (2, 4)
    state = torch.load(tmp_path / "tiny.pt", weights_only=True)
    assert all(value.device.type == "cpu" for value in state.values())
