import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import crclean.training
from crclean.cli import main
from crclean.inpaint._learned import LEARNED_INPAINTER, decode, encode
from crclean.training.inpaint import build_fill_pool, fill_sample, load_inpaint_config, train_inpaint
from crclean.training.inpaint._loss import fill_errors, fill_loss
from crclean.training.simulate import simulate_exposure

CONFIGS = Path(crclean.training.__file__).parent / "configs"

TINY = {
    "task": "inpaint", "name": "tiny", "arch": "unet",
    "model": {"channels": [4, 8], "norm": "batch", "in_channels": 2},
    "data": {"size": 64, "train_exposures": 6, "validation_exposures": 3},
    "train": {"steps": 4, "batch_size": 2, "crop": 32, "validate_every": 2, "warmup": 1, "star_weight": 3.0},
}


def test_sample_truth_is_the_clean_exposure_in_noise_units():
    exposure = simulate_exposure((96, 96), seed=11, profile="ground_thick", cr_rate=3.0)
    inputs, target, noise, weight, cores = fill_sample(exposure, grow=True, wings=True)
    _, background, rms = encode(exposure.image_adu, inputs[1].astype(bool))
    np.testing.assert_array_equal(cores, exposure.star_core_mask)
    np.testing.assert_allclose(background + rms * target, exposure.clean_adu, rtol=1e-5, atol=1e-2)
    np.testing.assert_allclose(noise * rms, exposure.noise_sigma_electrons / exposure.gain, rtol=1e-5)
    holes = inputs[1].astype(bool)
    assert holes[exposure.cr_mask].all() and holes[exposure.defect_mask].all()
    assert not (weight.astype(bool) & ~holes).any() and not weight[exposure.defect_mask].any()
    narrow = fill_sample(exposure, grow=False, wings=False)[0][1].astype(bool)
    assert narrow.sum() < holes.sum() and not (narrow & ~holes).any()


def test_training_errors_match_the_inference_decoding():
    exposure = simulate_exposure((64, 64), seed=3, profile="space", cr_rate=3.0)
    inputs, target, noise, _, _ = fill_sample(exposure, grow=True, wings=True)
    _, background, rms = encode(exposure.image_adu, inputs[1].astype(bool))
    raw = np.random.default_rng(0).normal(0, 2, target.shape).astype(np.float32)
    errors = fill_errors(*(torch.from_numpy(a) for a in (raw, inputs[0], target, noise))).numpy()
    filled = decode(inputs[0], raw, background, rms)
    expected = (filled - exposure.clean_adu) / (exposure.noise_sigma_electrons / exposure.gain)
    np.testing.assert_allclose(errors, expected, rtol=1e-3, atol=1e-3)


def test_loss_counts_weighted_pixels_only():
    fill = torch.zeros(1, 3)
    target, noise = torch.tensor([[0.0, 0.0, 50.0]]), torch.ones(1, 3)
    weight = torch.tensor([[1.0, 1.0, 0.0]])
    assert float(fill_loss(torch.zeros(1, 3), fill, target, noise, weight)) == pytest.approx(0.0)
    assert float(fill_loss(torch.full((1, 3), 0.1), fill, target, noise, weight)) > 0


def test_pool_is_reproducible_and_validation_is_held_out():
    first = build_fill_pool(3, size=64, profiles=["ground_thick", "space"], seed=3)
    again = build_fill_pool(3, size=64, profiles=["ground_thick", "space"], seed=3)
    held_out = build_fill_pool(3, size=64, profiles=["ground_thick", "space"], seed=3, split="validation")
    np.testing.assert_array_equal(first.inputs, again.inputs)
    assert not np.array_equal(first.target, held_out.target)
    np.testing.assert_array_equal(first.profile, [0, 1, 0])
    inputs, target, noise, weight, cores = first.batch(np.random.default_rng(0), 5, 32)
    assert inputs.shape == (5, 2, 32, 32) and target.shape == noise.shape == weight.shape == (5, 32, 32)
    assert cores.shape == (5, 32, 32)
    crowded = build_fill_pool(3, size=64, profiles=["ground_thick", "space"], seed=3, star_density=(5.0, 5.0))
    assert crowded.star_cores.sum() > 2 * first.star_cores.sum()


def test_training_writes_weights_card_and_resumes(tmp_path):
    best = train_inpaint(TINY, out_dir=tmp_path, progress=False)
    assert {"tiny.pt", "tiny.md", "checkpoint.pt", "log.jsonl"} <= {p.name for p in tmp_path.iterdir()}
    assert best["step"] in (2, 4) and np.isfinite(best["rms_ratio"])
    assert {"rms_ground_thick", "grow_rms_ground_thick"} <= set(best)
    state = torch.load(tmp_path / "tiny.pt", weights_only=True)
    assert "head.weight" in state
    longer = dict(TINY, train={**TINY["train"], "steps": 6})
    train_inpaint(longer, out_dir=tmp_path, resume=True, progress=False)
    steps = [json.loads(line)["step"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6]
    card = (tmp_path / "tiny.md").read_text()
    assert "sha256" in card and "| ground_thick |" in card


def test_config_errors_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"unknown keys in \[data\]: cr_scale"):
        load_inpaint_config({**TINY, "data": {"cr_scale": [1, 2]}})
    result = CliRunner().invoke(main, ["train", "inpaint", "--config", str(CONFIGS / "ground.toml"),
                                       "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "this is a config for task 'mask', not 'inpaint'; use `crclean train mask`" in result.output
    result = CliRunner().invoke(main, ["train", "mask", "--config", str(CONFIGS / "inpaint.toml"),
                                       "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "use `crclean train inpaint`" in result.output


def test_shipped_config_builds_the_shipped_network():
    from crclean.weights import load_network

    config = load_inpaint_config(CONFIGS / "inpaint.toml")
    assert config["arch"] == LEARNED_INPAINTER.arch and config["model"] == LEARNED_INPAINTER.config
    assert config["name"] == LEARNED_INPAINTER.resource.removesuffix(".pt")
    network = load_network(LEARNED_INPAINTER)  # strict: the weights fit the config
    assert not network.training
