import re

import numpy as np
import pytest

from crclean.tiling import MIN_IMAGE_SIZE, Stitcher, blend_window, pad_image, plan_tiles

SHAPES = [(150, 200), (299, 299), (16, 16), (1000, 257), (513, 1024)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("tile_size, overlap", [(256, 32), (128, 32), (64, 16), (256, 0)])
def test_every_pixel_gets_positive_weight(shape, tile_size, overlap):
    plan = plan_tiles(shape, tile_size, overlap)
    stitcher = Stitcher(plan)
    for origin in plan.origins:
        stitcher.add(origin, np.ones(plan.tile_shape, np.float32))
    (top, _), (left, _) = plan.pad
    weight = stitcher._weights()[top : top + shape[0], left : left + shape[1]]
    assert weight.min() > 0.05
    np.testing.assert_allclose(stitcher.result(), 1.0, rtol=1e-6)
    # The weights of a full grid come from 1-D sums; they are the tiles' windows added up.
    summed = np.zeros(plan.padded_shape)
    rows, cols = plan.tile_shape
    for r, c in plan.origins:
        summed[r : r + rows, c : c + cols] += blend_window(plan.tile_shape, overlap)
    np.testing.assert_allclose(stitcher._weights(), summed, rtol=1e-6, atol=1e-7)


def test_a_stitcher_given_some_tiles_weighs_only_those():
    plan = plan_tiles((500, 500), 256, 32)
    stitcher = Stitcher(plan)
    for origin in plan.origins[:2]:
        stitcher.add(origin, np.full(plan.tile_shape, 3.0, np.float32))
    rows, cols = plan.tile_shape
    covered = np.zeros(plan.padded_shape)
    for r, c in plan.origins[:2]:
        covered[r : r + rows, c : c + cols] += blend_window(plan.tile_shape, 32)
    np.testing.assert_allclose(stitcher._weights(), covered, rtol=1e-6, atol=1e-7)
    (top, _), (left, _) = plan.pad
    with np.errstate(invalid="ignore"):  # 0 / 0 where no tile reached
        result = stitcher.result()
    reached = covered[top : top + 500, left : left + 500] > 0
    np.testing.assert_allclose(result[reached], 3.0, rtol=1e-6)


@pytest.mark.parametrize("shape", SHAPES)
def test_tiles_lie_inside_padded_image_on_aligned_grid(shape):
    plan = plan_tiles(shape, 256, 32, multiple=16)
    rows, cols = plan.tile_shape
    assert rows <= 256 and cols <= 256 and rows % 16 == 0 and cols % 16 == 0
    assert all(r % 16 == 0 and c % 16 == 0 for r, c in plan.origins)
    assert all(r + rows <= plan.padded_shape[0] and c + cols <= plan.padded_shape[1] for r, c in plan.origins)
    assert plan.pad[0][0] == plan.pad[1][0] == 16


@pytest.mark.parametrize("n, tiles, length", [(2048, 3, 816), (4096, 5, 960), (1024, 2, 640), (150, 1, 288)])
def test_tiles_shrink_to_cover_an_axis_with_little_waste(n, tiles, length):
    # A 2048 px axis with 1024 px tiles and 128 px overlap needs three tiles
    # either way; balanced, they are 816 px long instead of running 640 px
    # past the image edge.
    plan = plan_tiles((n, 64), 1024, 128)
    assert plan.tile_shape[0] == length
    assert len({r for r, _ in plan.origins}) == tiles
    assert plan.padded_shape[0] - (n + 128) < 16 * tiles


def test_stitching_a_local_function_does_not_depend_on_tile_size():
    # A 3x3 box filter stands in for a network with a small receptive field:
    # away from the zero-weight guard band, each tile computes the same values.
    rng = np.random.default_rng(1)
    image = rng.normal(size=(299, 301)).astype(np.float32)

    def box(tile):
        padded = np.pad(tile, 1)
        return sum(padded[i : i + tile.shape[0], j : j + tile.shape[1]] for i in range(3) for j in range(3)) / 9

    results = []
    for tile_size in (256, 96):
        plan = plan_tiles(image.shape, tile_size, 32)
        padded = pad_image(image, plan)
        stitcher = Stitcher(plan)
        for r, c in plan.origins:
            rows, cols = plan.tile_shape
            stitcher.add((r, c), box(padded[r : r + rows, c : c + cols]))
        results.append(stitcher.result())
    np.testing.assert_allclose(results[0], results[1], atol=1e-5)


def test_blend_window_is_zero_in_guard_band_and_one_inside():
    window = blend_window(256, 32)
    assert window.shape == (256, 256)
    assert np.all(window[:8] == 0) and np.all(window[:, -8:] == 0)
    assert np.all(window[24:-24, 24:-24] == 1)
    assert blend_window((96, 160), 32).shape == (96, 160)


@pytest.mark.parametrize(
    "shape, tile_size, overlap, message",
    [
        ((1, 4096), 256, 32, "1x4096 pixels; crclean needs at least 16x16"),
        ((100, 100), 250, 32, "tile_size must be a multiple of 16"),
        ((100, 100), 256, 24, "overlap must be a multiple of 16"),
        ((100, 100), 64, 48, "overlap must be a multiple of 16 between 0 and tile_size/2 (32), got 48"),
    ],
)
def test_invalid_plans_are_rejected(shape, tile_size, overlap, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        plan_tiles(shape, tile_size, overlap)


def test_min_image_size_is_sixteen():
    assert MIN_IMAGE_SIZE == 16
    plan_tiles((16, 16), 256, 32)
