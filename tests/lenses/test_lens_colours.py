"""Multi-band training scenes: colours by population, per-band depth and seeing, single band unchanged."""

import numpy as np
import pytest

from crclean.training.lenses import build_bank, compose_scene
from crclean.training.lenses._colours import band_depths, band_seeing, flux_ratios, reference_band
from crclean.training.lenses._scene import _Colouring


@pytest.fixture(scope="module")
def banks():
    options = {"n_lenses": 3, "n_negatives": 8, "n_field": 3, "size": 48, "wide_negatives": True,
               "early_type_rings": True, "clumpy_negatives": True}
    return build_bank(7, **options), build_bank(7, colour_parts=True, **options)


def test_colour_parts_keep_the_stamps_and_split_them(banks):
    plain, parted = banks
    assert plain.negatives_young is None
    for name in ("lens", "arcs", "negatives", "field"):
        assert np.array_equal(getattr(plain, name), getattr(parted, name))
    young, whole = parted.negatives_young, parted.negatives
    assert young.shape == whole.shape and (young >= 0).all() and (young <= whole).all()
    shares = young.sum(axis=(1, 2))
    kinds = list(parted.negative_kinds)
    # Rings, spiral arms and edge-on disks are mostly young light; a pair's galaxies are old.
    for kind in ("ring", "spiral", "edge_on"):
        assert all(0.03 < share < 1.0 for share, k in zip(shares, kinds) if k == kind), kind
    assert all(share < 0.5 for share, k in zip(shares, kinds) if k == "pair")


def test_single_band_scenes_do_not_depend_on_colour_parts(banks):
    plain, parted = banks
    scenes = [compose_scene(np.random.default_rng(3), bank, (96, 128), n_lenses=1, n_negatives=3, n_field=3,
                            n_stars=2, n_ellipticals=1) for bank in banks]
    assert np.array_equal(scenes[0].image, scenes[1].image) and scenes[0].image.ndim == 2
    assert scenes[0].bands == () and scenes[0].fwhm.shape == (1,)


def test_lensed_sources_are_bluer_than_lens_galaxies_but_not_always():
    rng = np.random.default_rng(0)
    bands = ("g", "r", "i")
    early = np.array([flux_ratios(rng, "early_type", bands) for _ in range(3000)])
    source = np.array([flux_ratios(rng, "lensed_source", bands) for _ in range(3000)])
    young = np.array([flux_ratios(rng, "young", bands) for _ in range(3000)])
    assert np.allclose(early[:, 1], 1.0) and np.allclose(source[:, 1], 1.0)  # r is the reference
    g_over_i = {name: ratios[:, 0] / ratios[:, 2] for name, ratios in
                (("early", early), ("source", source), ("young", young))}
    assert np.mean(g_over_i["source"] > g_over_i["early"]) > 0.9
    # Colour helps but does not decide: some sources are as red as some lens galaxies, and many
    # young rings and arms are as blue as typical sources.
    assert g_over_i["source"].min() < np.median(g_over_i["early"]) * 1.5
    assert np.mean(g_over_i["young"] > np.median(g_over_i["source"])) > 0.2
    assert reference_band(("g", "i", "z")) == "i" and reference_band("gri") == "r"


def test_depth_and_seeing_per_band():
    rng = np.random.default_rng(1)
    bands = ("g", "r", "i", "z")
    depths = np.array([band_depths(rng, bands) for _ in range(2000)])
    assert np.allclose(depths[:, 1], 1.0)
    # z is the shallowest band of a DES-like survey, g the deepest (relative 10-sigma depths).
    medians = np.median(depths, axis=0)
    assert medians[0] > 1.0 > medians[2] > medians[3]
    seeing = np.array([band_seeing(rng, 0.9, bands) for _ in range(2000)])
    assert np.allclose(seeing[:, 1], 0.9)
    expected = [(475.0 / 622.0) ** -0.2, 1.0, (763.0 / 622.0) ** -0.2, (905.0 / 622.0) ** -0.2]
    np.testing.assert_allclose(np.median(seeing, axis=0) / 0.9, expected, rtol=0.01)
    assert seeing[:, 0].std() > 0.02  # bands taken at different times: not one fixed ratio


def test_colouring_paints_each_part_with_its_own_colour():
    rng = np.random.default_rng(2)
    colouring = _Colouring(rng, ("g", "r", "i"))
    canvas = np.zeros((3, 8, 8))
    red, blue = np.zeros((4, 4)), np.zeros((4, 4))
    red[1, 1], blue[2, 2] = 5.0, 3.0
    colouring.paste(canvas, [(red, "early_type"), (blue, "lensed_source")], 2, 2)
    assert canvas[1, 3, 3] == pytest.approx(5.0) and canvas[1, 4, 4] == pytest.approx(3.0)
    # In g over i, the red part is fainter relative to the blue one.
    assert canvas[0, 3, 3] / canvas[2, 3, 3] < canvas[0, 4, 4] / canvas[2, 4, 4]
    assert np.count_nonzero(canvas) == 6


def test_multi_band_scenes(banks):
    _, parted = banks
    scene = compose_scene(np.random.default_rng(4), parted, (96, 128), n_lenses=1, n_negatives=3, n_field=3,
                          n_stars=2, n_ellipticals=1, bands=("g", "r", "i"), seeing_range=(0.8, 0.8))
    assert scene.image.shape == (3, 96, 128) and scene.image.dtype == np.float32
    assert scene.bands == ("g", "r", "i") and scene.fwhm[1] == pytest.approx(0.8) and scene.fwhm[0] > scene.fwhm[2]
    assert len(scene.boxes) == 1
    again = compose_scene(np.random.default_rng(4), parted, (96, 128), n_lenses=1, n_negatives=3, n_field=3,
                          n_stars=2, n_ellipticals=1, bands=("g", "r", "i"), seeing_range=(0.8, 0.8))
    assert np.array_equal(scene.image, again.image)
    # Each band is in its own sky-noise units: an empty scene has unit noise in every band.
    empty = compose_scene(np.random.default_rng(5), parted, (128, 128), n_lenses=0, n_negatives=0, n_field=0,
                          n_stars=0, bands="gri")
    np.testing.assert_allclose(empty.image.std(axis=(1, 2)), 1.0, atol=0.05)
    with pytest.raises(ValueError, match="colour_parts"):
        compose_scene(np.random.default_rng(4), banks[0], (64, 64), n_lenses=0, n_negatives=1, n_field=0,
                      n_stars=0, bands=("g", "r"))
    for bad in (("g", "g"), ("g", "y"), ()):
        with pytest.raises(ValueError, match="bands must be distinct names"):
            compose_scene(np.random.default_rng(4), parted, (64, 64), n_lenses=0, n_negatives=0, n_field=0,
                          n_stars=0, bands=bad)


def test_a_stored_bank_keeps_its_young_parts_or_their_absence(tmp_path):
    from crclean.training.lenses._train import _bank

    for colour_parts in (False, True):
        config = {"pixel_scale": 0.2, "bank": {"n_lenses": 1, "n_negatives": 4, "n_field": 1, "size": 48,
                                               "colour_parts": colour_parts}}
        folder = tmp_path / str(colour_parts)
        folder.mkdir()
        made = _bank(config, 9, folder, print)
        loaded = _bank(config, 9, folder, print)  # from the file this time
        assert len(list(folder.iterdir())) == 1
        assert np.array_equal(made.negatives, loaded.negatives)
        if colour_parts:
            assert np.array_equal(made.negatives_young, loaded.negatives_young)
        else:
            assert made.negatives_young is None and loaded.negatives_young is None


def test_multi_band_training_windows_and_config(banks):
    from crclean.training.lenses._train import _batch, load_lens_config, sample_window

    _, parted = banks
    image, boxes = sample_window(np.random.default_rng(6), parted, 64, bands=("g", "r", "i"))
    assert image.shape == (3, 64, 64) and image.dtype == np.float32
    # Normalised per band: unit-ish sky noise under the asinh stretch in each of them.
    assert all(0.1 < np.median(np.abs(plane)) < 1.0 for plane in image)
    config = load_lens_config({"bands": ["g", "r", "i"], "window": 64, "batch_size": 2,
                               "bank": {"colour_parts": True}, "model": {"in_channels": 3}})
    images, _ = _batch(1, 0, parted, config)
    assert tuple(images.shape) == (2, 3, 64, 64)
    bad = [({"bank": {}, "model": {"in_channels": 3}}, "colour_parts = true"),
           ({"bank": {"colour_parts": True}, "model": {}}, "in_channels must be 3"),
           ({"bank": {"colour_parts": True}, "model": {"in_channels": 3, "input_stretches": [20.0]}},
            "input_stretches work on one band")]
    for extra, message in bad:
        with pytest.raises(ValueError, match=message):
            load_lens_config({"bands": ["g", "r", "i"], **extra})
    with pytest.raises(ValueError, match="bands must be distinct names"):
        load_lens_config({"bands": ["g", "u"], "bank": {"colour_parts": True}, "model": {"in_channels": 2}})


def test_a_single_band_model_starts_a_multi_band_one(tmp_path):
    import torch

    from crclean.models.rtdetr import build_rtdetr
    from crclean.training.lenses import train_lenses
    from crclean.training.lenses._warm_start import _widen_input

    tiny = {"widths": [8, 16, 24, 32], "depths": [1, 1, 1, 1], "dim": 32, "encoder_ffn": 64, "decoder_ffn": 64,
            "num_queries": 8, "decoder_layers": 1, "num_denoising": 4}
    torch.manual_seed(0)
    single, multi = build_rtdetr(tiny).eval(), build_rtdetr({**tiny, "in_channels": 3}).eval()
    multi.load_state_dict(_widen_input(single.state_dict(), multi, print, spread=True))
    grey = torch.asinh(torch.rand(2, 1, 64, 64) * 300.0)
    with torch.no_grad():
        # A colourless object (the same in every band) gives the single-band model's detections.
        torch.testing.assert_close(multi(grey.repeat(1, 3, 1, 1))["pred_logits"], single(grey)["pred_logits"])
    with pytest.raises(ValueError, match="only a single-band model"):
        _widen_input(multi.state_dict(), build_rtdetr({**tiny, "in_channels": 6}), print, spread=True)
    base = {"name": "tiny", "batch_size": 2, "window": 64, "warmup": 1, "val_windows": 4, "val_every": 100,
            "checkpoint_every": 1, "calibration_windows": 4, "model": tiny,
            "bank": {"n_lenses": 4, "n_negatives": 4, "n_field": 4, "size": 48, "colour_parts": True}}
    start = train_lenses({**base, "steps": 1}, out_dir=tmp_path / "single", progress=False)
    messages = []
    result = train_lenses({**base, "steps": 1, "bands": ["g", "r", "i"], "init_weights": str(start["weights"]),
                           "model": {**tiny, "in_channels": 3}}, out_dir=tmp_path / "multi", progress=False,
                          log=messages.append)
    assert any("1 -> 3 bands" in message for message in messages)
    state = torch.load(result["weights"], weights_only=True)
    assert state["backbone.stem.0.0.weight"].shape[1] == 3
    assert "3 bands (g, r, i, each normalised on its own)" in result["card"].read_text()
    assert "single band" in start["card"].read_text() and "sees no colour" in start["card"].read_text()
    assert "Needs a tile's g, r, i images on one grid" in result["card"].read_text()


def test_the_widened_first_convolution_learns_at_the_new_rate():
    import torch

    from crclean.models.rtdetr import build_rtdetr
    from crclean.training.lenses._warm_start import fit_initial_weights, parameter_groups

    tiny = {"widths": [8, 16, 24, 32], "depths": [1, 1, 1, 1], "dim": 32, "encoder_ffn": 64, "decoder_ffn": 64,
            "num_queries": 8, "decoder_layers": 1, "num_denoising": 4}
    torch.manual_seed(0)
    single, multi = build_rtdetr(tiny), build_rtdetr({**tiny, "in_channels": 3})
    _, fresh = fit_initial_weights(single.state_dict(), multi, print, spread=True)
    assert fresh == {"backbone.stem.0.0.weight"}
    groups = parameter_groups(multi, fresh, 4.0)
    assert [group["lr_scale"] for group in groups] == [1.0, 4.0]
    assert groups[1]["params"] == [multi.backbone.stem[0][0].weight]
    # The same shapes: nothing is fresh, one group.
    _, unchanged = fit_initial_weights(single.state_dict(), build_rtdetr(tiny), print)
    assert unchanged == set()


def test_wide_lookalike_colours_reach_the_lens_galaxies_red_sequence():
    rng = np.random.default_rng(8)
    bands = ("g", "r", "i")
    g_over_r = {name: np.array([flux_ratios(rng, name, bands)[0] for _ in range(3000)])
                for name in ("old", "old_wide", "young", "young_wide", "early_type", "lensed_source")}
    # Redder means less g light per r light. The usual old light stops short of the reddest lens galaxies,
    # the wide one reaches them; the wide young light reaches the bluest sources.
    assert g_over_r["old"].min() > np.percentile(g_over_r["early_type"], 25)
    assert g_over_r["old_wide"].min() < g_over_r["early_type"].min() * 1.05
    assert g_over_r["young"].max() < g_over_r["lensed_source"].max() / 1.05
    assert g_over_r["young_wide"].max() > g_over_r["lensed_source"].max() / 1.05


def test_wide_lookalike_colours_change_only_the_lookalike_colours(banks):
    _, parted = banks
    options = {"n_lenses": 1, "n_negatives": 4, "n_field": 2, "n_stars": 1, "n_ellipticals": 1,
               "bands": ("g", "r", "i"), "seeing_range": (0.8, 0.8)}
    plain = compose_scene(np.random.default_rng(9), parted, (256, 256), **options)
    wide = compose_scene(np.random.default_rng(9), parted, (256, 256), wide_lookalike_colours=True, **options)
    # Same draws in number, so the same objects in the same places and the same lens box; only the
    # look-alikes' pixels differ.
    assert plain.objects == wide.objects and np.array_equal(plain.boxes, wide.boxes)
    yy, xx = np.mgrid[0:256, 0:256]
    near = np.zeros((256, 256), bool)
    for thing in plain.objects:
        if thing["kind"] in ("ring", "spiral", "pair", "edge_on"):
            near |= (np.abs(xx - thing["x"]) < 40) & (np.abs(yy - thing["y"]) < 40)
    assert near.any() and not near.all()
    differs = (plain.image != wide.image).any(axis=0)
    assert differs.any() and not differs[~near].any()
    # Without look-alikes the option changes nothing.
    empty = {**options, "n_negatives": 0}
    assert np.array_equal(compose_scene(np.random.default_rng(9), parted, (96, 128), **empty).image,
                          compose_scene(np.random.default_rng(9), parted, (96, 128), wide_lookalike_colours=True,
                                        **empty).image)


def test_wide_lookalike_colours_config_checks():
    from crclean.training.lenses._train import load_lens_config

    multi = {"bands": ["g", "r", "i"], "bank": {"colour_parts": True}, "model": {"in_channels": 3}}
    assert load_lens_config({**multi, "scene": {"wide_lookalike_colours": True}})["scene"]["wide_lookalike_colours"]
    with pytest.raises(ValueError, match="must be true or false"):
        load_lens_config({**multi, "scene": {"wide_lookalike_colours": "yes"}})
    with pytest.raises(ValueError, match="needs bands"):
        load_lens_config({"scene": {"wide_lookalike_colours": True}})
