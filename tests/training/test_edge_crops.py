"""Training crops past an exposure's edge: the input mirrored there as crclean's tiling mirrors a frame, no truth
and no loss weight there, and the crops of a run without them unchanged."""

import numpy as np
import pytest

from crclean.training._common import EDGE_MARGIN, random_crops
from crclean.training.mask import build_pool, load_config

SIZE, CROP = 64, 32


def _stacks():
    rng = np.random.default_rng(1)
    inputs = rng.normal(size=(2, SIZE, SIZE)).astype(np.float32)
    return inputs, np.ones((2, SIZE, SIZE), np.uint8), np.ones((2, SIZE, SIZE), np.uint8)


def _unturned(patch, turns, flip):
    return np.rot90(patch[..., ::-1] if flip else patch, -turns, axes=(-2, -1))


def test_edge_crops_mirror_the_input_and_carry_no_weight_past_the_edge():
    inputs, target, weight = _stacks()
    moves = {}
    crops = random_crops(np.random.default_rng(2), [inputs, target, weight], 60, CROP, moves=moves,
                         edge_share=1.0, edge_pads=("reflect", "zero", "zero"))
    mirrored = np.pad(inputs, ((0, 0), (EDGE_MARGIN, EDGE_MARGIN), (EDGE_MARGIN, EDGE_MARGIN)), mode="reflect")
    inside = np.pad(np.ones((SIZE, SIZE), bool), EDGE_MARGIN)
    for b in range(60):
        i, r, c = moves["index"][b], moves["rows"][b] + EDGE_MARGIN, moves["cols"][b] + EDGE_MARGIN
        turns, flip = moves["turns"][b], moves["flips"][b]
        assert 0 <= r <= SIZE - CROP + 2 * EDGE_MARGIN and 0 <= c <= SIZE - CROP + 2 * EDGE_MARGIN
        seen = inside[r:r + CROP, c:c + CROP]
        assert not seen.all() and seen.any()  # every crop runs past an edge, none wholly outside
        np.testing.assert_array_equal(_unturned(crops[0][b], turns, flip), mirrored[i, r:r + CROP, c:c + CROP])
        for truth_or_weight in crops[1:]:
            np.testing.assert_array_equal(_unturned(truth_or_weight[b], turns, flip), seen)


def test_edge_crops_need_a_fill_per_array():
    with pytest.raises(ValueError, match="edge_pads"):
        random_crops(np.random.default_rng(0), list(_stacks()), 4, CROP, edge_share=0.5)
    with pytest.raises(ValueError, match="edge_pads"):
        random_crops(np.random.default_rng(0), list(_stacks()), 4, CROP, edge_share=0.5, edge_pads=("reflect",))


def test_without_edge_crops_every_crop_lies_inside_and_is_drawn_as_before():
    inputs, target, weight = _stacks()
    plain = random_crops(np.random.default_rng(3), [inputs, target, weight], 40, CROP)
    asked_none = random_crops(np.random.default_rng(3), [inputs, target, weight], 40, CROP, edge_share=0.0,
                              edge_pads=("reflect", "zero", "zero"))
    for a, b in zip(plain, asked_none):
        np.testing.assert_array_equal(a, b)
    assert plain[2].all()


def test_the_mask_pool_and_config_take_an_edge_share():
    pool = build_pool(2, size=64, profiles=["ground_thin"], seed=4)
    inputs, target, weight = pool.batch(np.random.default_rng(5), 16, 32, edge_share=1.0)
    assert inputs.shape == target.shape == weight.shape == (16, 32, 32)
    assert (weight == 0).any(axis=(1, 2)).all() and not target[weight == 0].any()
    config = {"name": "edge", "arch": "unet", "train": {"edge_crops": 0.25}}
    assert load_config(config)["train"]["edge_crops"] == 0.25
    with pytest.raises(ValueError, match="edge_crops"):
        load_config({**config, "train": {"edge_crops": 1.5}})
