"""Issue 29's wider lens training families: each option does what it says, and the defaults draw what they drew."""

import ast
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from crclean.training.lenses import build_bank, compose_scene, load_lens_config, prepare_banks
from crclean.training.lenses._colours import flux_ratios
from crclean.training.lenses._lens_configurations import count_images
from crclean.training.lenses._lookalikes import EXTRA_NEGATIVE_KINDS
from crclean.training.lenses._nuisances import add_detector_nuisances, add_trail

_ROOT = Path(__file__).resolve().parents[2]
_V29 = _ROOT / "experiments" / "lenses" / "configs" / "lenses-v29.toml"


def _old_families_bank():
    return build_bank(11, n_lenses=4, n_negatives=6, n_field=2, colour_parts=True, wide_negatives=True,
                      wide_lenses=True, early_type_rings=True, smooth_source_fraction=0.35, clumpy_negatives=True,
                      varied_lenses=True, unlensed_negatives=True)


def test_defaults_reproduce_the_banks_and_scenes_drawn_before_the_new_options():
    # Fingerprints computed with the code of commit 5c00847, before these options existed.
    bank = _old_families_bank()
    assert bank.lens_configuration is None and bank.n_images is None
    assert "".join(kind[0] for kind in bank.negative_kinds) == "rspear"
    for name, total in (("lens", 3.9999999851455073), ("arcs", 4.000000003937565), ("negatives", 5.999999835937443),
                        ("negatives_young", 3.5055561808233477), ("field", 1.9999999498699594)):
        assert np.float64(getattr(bank, name)).sum() == pytest.approx(total, rel=1e-9)
    for bands, total, following, box in ((None, 62110.44051843109, 2172571022838223460, [52, 28, 83, 65]),
                                         (("g", "r", "i"), 98429.44849648376, 1080973374081488016, [5, 17, 36, 54])):
        rng = np.random.default_rng(5)
        scene = compose_scene(rng, bank, (96, 96), n_lenses=1, n_negatives=2, n_field=3, n_stars=2, n_ellipticals=1,
                              bands=bands, psf_families=True, saturation_fraction=0.5, gain_range=(5.0, 100.0),
                              wide_lookalike_colours=bands is not None, gaussian_psf_fraction=0.25)
        assert np.float64(scene.image).sum() == pytest.approx(total, rel=1e-6)
        assert int(rng.integers(2 ** 62)) == following  # the same number of draws, so every later draw is the same
        assert scene.boxes.tolist() == [box]


def test_earlier_configs_keep_their_bank_file_names(tmp_path):
    from crclean.training.lenses._train import _bank_path

    config = load_lens_config(_ROOT / "crclean" / "training" / "configs" / "lenses-v20.toml")
    path, _ = _bank_path(config, config["seed"], tmp_path, 1)
    # The name a run of this config has always given its bank, so a kept bank is found again.
    assert path.name == "bank_20261211_0.2_True_True_True_6000_12000_8000_64_0.35_True_True.npz"
    widened = _bank_path(load_lens_config(_V29), 1, tmp_path, 4)[0].name
    assert "polar_ring+open_spiral+star_pair+merger+blend+dusty_edge_on" in widened and " " not in widened


def _sis_grid(theta_e=1.0, size=121, extent=3.0):
    axis = np.linspace(-extent, extent, size)
    x, y = np.meshgrid(axis, axis)
    radius = np.hypot(x, y) + 1e-12
    return x, y, x - theta_e * x / radius, y - theta_e * y / radius


@pytest.mark.parametrize("offset, expected", [(0.5, 2), (0.2, 2), (1.5, 1), (1.1, 1)])
def test_count_images_solves_the_singular_isothermal_sphere(offset, expected):
    # An SIS images a source inside theta_E twice (theta_E +- beta), outside it once.
    x, y, beta_x, beta_y = _sis_grid()
    assert count_images(x, y, beta_x, beta_y, (offset, 0.3 * offset)) == expected


def test_multiple_image_lenses_are_doubles_and_quads_by_the_lens_equation():
    bank = build_bank(3, n_lenses=16, n_negatives=1, n_field=1, multiple_image_fraction=1.0)
    kinds = dict(zip(*np.unique(bank.lens_configuration, return_counts=True)))
    assert set(kinds) == {"double", "quad"} and min(kinds.values()) >= 4
    assert all(n == {"double": 2, "quad": 4}[kind] for kind, n in zip(bank.lens_configuration, bank.n_images))
    # The lensed light of a double is two separate images, far apart (on opposite sides of the lens).
    from scipy.ndimage import label

    for arcs in bank.arcs[bank.lens_configuration == "double"]:
        assert label(arcs > 0.02 * arcs.max())[1] >= 2


def test_compact_lenses_have_small_einstein_radii_and_the_rest_keep_theirs():
    bank = build_bank(4, n_lenses=30, n_negatives=1, n_field=1, compact_fraction=0.5)
    compact = bank.lens_configuration == "compact"
    assert 8 <= compact.sum() <= 22 and set(bank.lens_configuration) == {"compact", "extended"}
    assert bank.theta_e[compact].max() <= 1.0 and bank.theta_e[compact].min() >= 0.4
    assert bank.theta_e[~compact].max() > 1.2


def test_extra_lookalikes_are_in_the_bank_unit_flux_with_their_young_light():
    bank = build_bank(5, n_lenses=1, n_negatives=24, n_field=1, extra_negatives=list(EXTRA_NEGATIVE_KINDS),
                      colour_parts=True)
    kinds = list(bank.negative_kinds)
    assert all(kinds.count(kind) == 2 for kind in EXTRA_NEGATIVE_KINDS) and kinds.count("ring") == 3
    assert np.allclose(bank.negatives.sum(axis=(1, 2)), 1.0, atol=1e-4) and bank.negatives.min() >= 0
    assert (bank.negatives_young <= bank.negatives + 1e-7).all()
    for index in np.nonzero(bank.negative_kinds == "star_pair")[0]:
        young = bank.negatives_young[index]
        # The stars are points: a pixel or two hold each one's light.
        assert np.sort(young.ravel())[-2:].sum() >= 0.8 * young.sum() > 0
    for index in np.nonzero(bank.negative_kinds == "polar_ring")[0]:
        # The ring holds a quarter to 60% of the light, and reaches beyond the host.
        young = bank.negatives_young[index]
        assert 0.2 <= young.sum() <= 0.65


def test_scenes_draw_the_new_lookalikes_by_kind():
    bank = build_bank(6, n_lenses=1, n_negatives=12, n_field=1, extra_negatives=["polar_ring", "open_spiral"])
    scene = compose_scene(np.random.default_rng(0), bank, (128, 128), n_lenses=0, n_negatives=4, n_field=0,
                          n_stars=0, negative_kinds=("polar_ring",))
    assert [o["kind"] for o in scene.objects] == ["polar_ring"] * 4


def test_no_lens_light_leaves_the_arcs_alone():
    bank = build_bank(7, n_lenses=3, n_negatives=1, n_field=1)
    dark = type(bank)(**{**bank.__dict__, "lens": np.zeros_like(bank.lens)})
    options = dict(n_lenses=2, n_negatives=0, n_field=0, n_stars=0, no_lens_light_fraction=1.0)
    with_light = compose_scene(np.random.default_rng(1), bank, (128, 128), **options)
    without = compose_scene(np.random.default_rng(1), dark, (128, 128), **options)
    np.testing.assert_array_equal(with_light.image, without.image)  # the lens stamps were never pasted
    assert [o["lens_to_arc"] for o in with_light.objects] == [0.0, 0.0]
    some = compose_scene(np.random.default_rng(2), bank, (128, 128), **{**options, "n_lenses": 40,
                                                                       "no_lens_light_fraction": 0.5},
                         lens_to_arc_range=(0.1, 12.0))
    ratios = np.array([o["lens_to_arc"] for o in some.objects])
    assert 0.2 < np.mean(ratios == 0) < 0.8 and ((ratios > 0) & (ratios < 1)).any()


def _g_minus_r(population, draws=400):
    rng = np.random.default_rng(8)
    return np.array([-2.5 * np.log10(flux_ratios(rng, population, ("g", "r", "i"))[0]) for _ in range(draws)])


def test_wide_lens_colours_reach_blue_lenses_and_red_sources():
    old_lenses, lenses, sources = _g_minus_r("early_type"), _g_minus_r("lens_any"), _g_minus_r("source_any")
    assert old_lenses.min() >= 1.0  # the first banks: every lens galaxy on the red sequence
    assert lenses.min() < 0.0 and lenses.max() > 1.8 and 0.3 < np.mean(lenses < 0.8) < 0.7
    assert sources.max() > 1.5 and 0.2 < np.mean(sources > 0.6) < 0.5
    assert np.mean(lenses < sources) > 0.15  # lenses bluer than their arcs occur


def test_wide_lens_colours_colour_the_scene_lenses():
    bank = build_bank(9, n_lenses=2, n_negatives=1, n_field=1, colour_parts=True)
    dark = type(bank)(**{**bank.__dict__, "arcs": np.zeros_like(bank.arcs)})  # lens light alone
    colours = {False: [], 0.5: [], True: []}
    for wide in colours:
        for seed in range(30):
            scene = compose_scene(np.random.default_rng(seed), dark, (96, 96), n_lenses=1, n_negatives=0, n_field=0,
                                  n_stars=0, bands=("g", "r", "i"), wide_lens_colours=wide,
                                  lens_to_arc_range=(5000.0, 5000.0))
            colours[wide].append(scene.image[0].sum() / scene.image[1].sum())
    # g over r flux in each band's own noise units (g about 0.2 +- 0.3 mag deeper): a red-sequence lens
    # (g - r >= 1) mostly gives 0.2-0.5, a blue-cloud one (half of them when wide) 0.6-1.7; a share of 0.5
    # widens about half the lenses.
    blue = {wide: np.mean(np.array(values) > 0.75) for wide, values in colours.items()}
    assert blue[False] < 0.15 and blue[True] > 0.25 and max(colours[True]) > 1.2
    assert blue[False] < blue[0.5] < blue[True]


def test_nuisances_are_sharp_cosmic_rays_straight_trails_and_whole_columns():
    hits, columns = 0, 0
    for seed in range(200):
        image = add_detector_nuisances(np.random.default_rng(seed), np.zeros((128, 128)), 1.0)
        constant = [c for c in range(128) if np.all(image[:, c] == image[0, c]) and image[0, c] != 0]
        columns += bool(constant)
        rest = image.copy()
        rest[:, constant] = 0
        hits += bool(rest.any())
        if rest.any():
            assert rest[rest != 0].min() >= 10.0  # never smoothed by the PSF: every hit pixel is bright
    # 25% of images draw cosmic rays, of which e**-2 draw none; 5% a bad column.
    assert 28 <= hits <= 60 and 3 <= columns <= 20
    trails = [add_trail(np.random.default_rng(seed), np.zeros((128, 128)), 5.0, 1.0) for seed in range(100)]
    drawn = [t for t in trails if t.any()]
    assert 1 <= len(drawn) <= 8
    for trail in drawn:
        rows, cols = np.nonzero(trail > 0.5 * trail.max())
        spread = np.linalg.svd(np.stack([rows - rows.mean(), cols - cols.mean()]), compute_uv=False)
        assert spread[1] < 0.1 * spread[0]  # a straight band


def test_nuisances_never_change_the_truth():
    bank = build_bank(10, n_lenses=2, n_negatives=2, n_field=1)
    options = dict(n_lenses=1, n_negatives=1, n_field=1, n_stars=1)
    plain = compose_scene(np.random.default_rng(4), bank, (128, 128), **options)
    busy = compose_scene(np.random.default_rng(4), bank, (128, 128), nuisances=True, **options)
    np.testing.assert_array_equal(plain.boxes, busy.boxes)
    assert plain.objects == busy.objects


def test_the_v29_config_loads_and_bad_options_are_refused():
    config = load_lens_config(_V29)
    assert config["bank"]["extra_negatives"] == list(EXTRA_NEGATIVE_KINDS)
    assert config["scene"]["no_lens_light_fraction"] == 0.15 and config["init_weights"] == "rtdetr-lens-v20"
    for bad, message in (({"bank": {"extra_negatives": ["lens"]}}, "extra_negatives must be distinct names"),
                         ({"bank": {"compact_fraction": 0.7, "multiple_image_fraction": 0.5}}, "at most 1"),
                         ({"scene": {"no_lens_light_fraction": 1.5}}, "no_lens_light_fraction must be"),
                         ({"scene": {"wide_lens_colours": True}}, "needs bands"),
                         ({"bands": ["g", "r", "i"], "model": {"in_channels": 3}, "bank": {"colour_parts": True},
                           "scene": {"wide_lens_colours": 1.5}},
                          "wide_lens_colours must be true, false or a share"),
                         ({"scene": {"nuisances": 1}}, "nuisances must be true or false"),
                         ({"batch_workers": -1}, "batch_workers must be")):
        with pytest.raises(ValueError, match=message):
            load_lens_config(bad)


def _tiny_config(tmp_path):
    text = _V29.read_text()
    for key, value in (("n_lenses", 6), ("n_negatives", 10), ("n_field", 4)):
        text = text.replace(f"\n{key} = ", f"\n{key} = {value}\n#", 1)
    path = tmp_path / "tiny.toml"
    path.write_text(text)
    return path


def test_banks_only_writes_compact_banks_that_training_loads(tmp_path):
    from crclean.cli import main
    from crclean.training.lenses._train import _bank

    path = _tiny_config(tmp_path)
    result = CliRunner().invoke(main, ["train", "lenses", "--config", str(path), "--out", str(tmp_path / "run"),
                                       "--banks-only", "-q"])
    assert result.exit_code == 0, result.output
    written = sorted((tmp_path / "run").glob("bank_*.npz"))
    assert len(written) == 2 and result.output.count("wrote ") == 2
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
    config = load_lens_config(path)
    rendered = []
    loaded = _bank(config, config["seed"], tmp_path / "run", rendered.append)
    assert not rendered  # found, not rendered again
    fresh = build_bank(config["seed"], pixel_scale=0.2, **config["bank"])
    assert loaded.lens.dtype == np.float32 and list(loaded.negative_kinds) == list(fresh.negative_kinds)
    np.testing.assert_allclose(loaded.arcs, fresh.arcs, atol=2e-4 * fresh.arcs.max())
    assert list(loaded.lens_configuration) == list(fresh.lens_configuration)
    assert sorted(prepare_banks(path, out_dir=tmp_path / "run")) == written


def test_batch_workers_compose_the_same_batches():
    import torch

    from crclean.training.lenses._prefetch import BatchStream
    from crclean.training.lenses._train import _batch

    config = {**load_lens_config({"bank": {"n_lenses": 2, "n_negatives": 4, "n_field": 2}}), "batch_size": 2,
              "steps": 5}
    bank = build_bank(12, n_lenses=2, n_negatives=4, n_field=2)
    with BatchStream(bank, config, None, start=2, workers=2) as stream:
        ahead = list(stream)
    assert len(ahead) == 3
    for step, (images, targets) in zip(range(2, 5), ahead):
        expected_images, expected_targets = _batch(config["seed"], step, bank, config)
        assert torch.equal(images, expected_images)
        assert all(torch.equal(a["boxes"], b["boxes"]) for a, b in zip(targets, expected_targets))


def test_training_code_never_imports_a_benchmark():
    for path in (_ROOT / "crclean").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(name.startswith(("benchmarks", "_cutout", "lens_cutouts")) for name in names), path
