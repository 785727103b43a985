"""Lineage of the lens rounds that were not adopted: each config changes one thing from the run it is compared with.

Not part of the package's suite (its configs are not packaged); run it from the repository root with
``python -m pytest experiments``. The configs of the shipped finders' own chain are in
crclean/training/configs/ and are checked by tests/lenses/test_lens_training.py.
"""

from pathlib import Path

from crclean.training.lenses import load_lens_config

_HERE = Path(__file__).resolve().parent / "configs"
_SHIPPED = Path(__file__).resolve().parents[2] / "crclean" / "training" / "configs"


def _load(version):
    name = f"lenses-v{version}.toml"
    return load_lens_config(_HERE / name if (_HERE / name).is_file() else _SHIPPED / name)


def _without(config, **cleared):
    """``config`` with the given keys replaced, for comparing everything else."""
    return {**config, "name": "", "init_weights": "", **cleared}


def test_every_experiment_config_loads():
    names = sorted(path.name for path in _HERE.glob("lenses-v*.toml"))
    assert names and all(load_lens_config(_HERE / name)["name"] == f"rtdetr-lens-{name[7:-5]}" for name in names)


def test_one_band_rounds():
    third, seventh, ninth = _load(3), _load(7), _load(9)
    # v5 differs from v4 only in its extra input channels: the comparison the record reports.
    fourth, fifth = _load(4), _load(5)
    assert fourth["init_weights"] == fifth["init_weights"] == "rtdetr-lens-v3"
    assert fifth["model"] == {"input_stretches": [20.0, 500.0]} and not fourth["model"]
    assert _without(fifth, model={}) == _without(fourth, model={})
    sixth = _load(6)
    assert sixth["bank"] == {**fourth["bank"], "early_type_rings": True}
    assert _without(sixth, bank={}) == _without(fourth, bank={})
    # v7 (on the shipped chain) is v6's bank with clumps made no cue, from v3 on its own seed for 10000 steps.
    assert seventh["bank"] == {**sixth["bank"], "smooth_source_fraction": 0.35, "clumpy_negatives": True}
    assert _without(seventh, bank={}, seed=0, steps=0) == _without(sixth, bank={}, seed=0, steps=0)
    assert third["name"] == "rtdetr-lens-v3"
    tenth = _load(10)
    assert tenth["init_weights"] == "weights/rtdetr-lens-v9.pt" and tenth["bank"] == ninth["bank"]
    assert (tenth["lr"], tenth["steps"], tenth["seed"]) == (ninth["lr"], 6000, ninth["seed"] + 1)
    # v11 is v10's run (same bank, batches and schedule) from v9 with a fine level: v10 is its control.
    eleventh = _load(11)
    assert eleventh["model"] == {"fine_level": True} and eleventh["init_weights"] == "rtdetr-lens-v9"
    assert _without(eleventh, model={}, new_lr_scale=1.0) == _without(tenth)
    # v22 is v10's round from v9 with the three-band line's mining and learning rate.
    twentieth = _load(20)
    twenty_second = _load(22)
    assert twenty_second["init_weights"] == "rtdetr-lens-v9" and twenty_second["bands"] == tenth["bands"]
    assert twenty_second["lr"] == twentieth["lr"] == 4 * tenth["lr"]
    mining = ("hard_negative_share", "hard_negative_power", "mining_repeats")
    assert [twenty_second[key] for key in mining] == [twentieth[key] for key in mining]
    cleared = {"seed": 0, "lr": 0, **{key: 0 for key in mining}}
    assert _without(twenty_second, **cleared) == _without(tenth, **cleared)
    # v23 splits v22's two changes: v22 exactly, but at v10's learning rate.
    twenty_third = _load(23)
    assert twenty_third["lr"] == tenth["lr"] and twenty_third["seed"] == twenty_second["seed"]
    assert _without(twenty_third, lr=0) == _without(twenty_second, lr=0)
    # v24 is v10's round from v9 on a fresh bank with the wider lens, source and PSF families, and nothing else.
    twenty_fourth = _load(24)
    assert twenty_fourth["bank"] == {**tenth["bank"], "varied_lenses": True}
    assert twenty_fourth["scene"] == {**tenth["scene"], "psf_families": True}
    assert twenty_fourth["seed"] == twenty_third["seed"] + 1
    assert {**twenty_fourth, "name": "", "seed": 0, "bank": {}, "scene": {}} == {
        **tenth, "name": "", "seed": 0, "bank": {}, "scene": {}}
    # v25 is v24 with the lenses' unlensed look-alikes added, on a fresh bank.
    twenty_fifth = _load(25)
    assert twenty_fifth["bank"] == {**twenty_fourth["bank"], "unlensed_negatives": True}
    assert twenty_fifth["seed"] == twenty_fourth["seed"] + 1
    assert {**twenty_fifth, "name": "", "seed": 0, "bank": {}} == {**twenty_fourth, "name": "", "seed": 0, "bank": {}}
    # v26 is v24 with the PSF families alone.
    twenty_sixth = _load(26)
    assert twenty_sixth["bank"] == tenth["bank"] and twenty_sixth["scene"] == twenty_fourth["scene"]
    assert twenty_sixth["seed"] == twenty_fifth["seed"] + 1
    assert {**twenty_sixth, "name": "", "seed": 0, "bank": {}} == {**twenty_fourth, "name": "", "seed": 0, "bank": {}}
    # v27 is v26's round again, from v26's own output, on a fresh bank.
    twenty_seventh = _load(27)
    assert twenty_seventh["init_weights"] == "runs/lenses-v26/rtdetr-lens-v26.pt"
    assert twenty_seventh["seed"] == twenty_sixth["seed"] + 1
    assert _without(twenty_seventh, seed=0) == _without(twenty_sixth, seed=0)


def test_three_band_rounds():
    fifteenth, seventeenth, twentieth = _load(15), _load(17), _load(20)
    # v16 (never evaluated) is v15's recipe again from v15; v17 is the same round with wider look-alike colours.
    sixteenth = _load(16)
    assert sixteenth["init_weights"] == "rtdetr-lens-v15" and sixteenth["seed"] == fifteenth["seed"] + 1
    assert _without(sixteenth, seed=0) == _without(fifteenth, seed=0)
    assert seventeenth["seed"] == sixteenth["seed"] + 1
    assert seventeenth["scene"] == {**sixteenth["scene"], "wide_lookalike_colours": True}
    assert _without(seventeenth, seed=0, scene={}) == _without(sixteenth, seed=0, scene={})
    # v18 is v17's recipe from v17, with a fine level and 6000 steps.
    eighteenth = _load(18)
    assert eighteenth["init_weights"] == "rtdetr-lens-v17" and eighteenth["seed"] == seventeenth["seed"] + 1
    assert eighteenth["model"] == {**seventeenth["model"], "fine_level": True}
    assert _without(eighteenth, seed=0, model={}, steps=0, new_lr_scale=1.0) == _without(
        seventeenth, seed=0, model={}, steps=0)
    # v19 is v17's recipe from v17, its backbone deepened by identity-start residual blocks.
    nineteenth = _load(19)
    assert nineteenth["init_weights"] == "rtdetr-lens-v17" and nineteenth["seed"] == eighteenth["seed"] + 1
    assert nineteenth["model"] == {**seventeenth["model"], "residual_blocks": [1, 2, 2, 1]}
    assert _without(nineteenth, seed=0, model={}, new_lr_scale=1.0) == _without(seventeenth, seed=0, model={})
    # v20 (shipped) follows on the next seed.
    assert twentieth["seed"] == nineteenth["seed"] + 1
    # v21 is v20's recipe, unchanged, from v20 on a fresh bank.
    twenty_first = _load(21)
    assert twenty_first["init_weights"] == "rtdetr-lens-v20" and twenty_first["seed"] == twentieth["seed"] + 1
    assert _without(twenty_first, seed=0) == _without(twentieth, seed=0)
    # v28 is v21's three-band round from v20 with the PSF families, at v10's (and v17's) learning rate.
    tenth, twenty_seventh, twenty_eighth = _load(10), _load(27), _load(28)
    assert twenty_eighth["scene"] == {**twenty_first["scene"], "psf_families": True}
    assert twenty_eighth["lr"] == tenth["lr"] and twenty_eighth["seed"] == twenty_seventh["seed"] + 1
    assert {**twenty_eighth, "name": "", "seed": 0, "lr": 0, "scene": {}} == {
        **twenty_first, "name": "", "seed": 0, "lr": 0, "scene": {}}


def test_widened_round():
    # v29 (issue 29) is v21's round from v20 (v20's recipe at its learning rate) on a fresh, smaller bank with the
    # wider lens mix and look-alikes, and scenes with v28's PSF families, every lens light and colour, and
    # nuisances; no mining, and a device of its own (a lent GPU).
    twenty_first, twenty_eighth, twenty_ninth = _load(21), _load(28), _load(29)
    assert twenty_ninth["init_weights"] == "rtdetr-lens-v20" and twenty_ninth["seed"] == twenty_eighth["seed"] + 11
    sizes = {"n_lenses": 800, "n_negatives": 1000, "n_field": 400}
    assert twenty_ninth["bank"] == {**twenty_first["bank"], **sizes, "compact_fraction": 0.2,
                                    "multiple_image_fraction": 0.2,
                                    "extra_negatives": ["polar_ring", "open_spiral", "star_pair", "merger", "blend",
                                                        "dusty_edge_on"]}
    assert twenty_ninth["scene"] == {**twenty_eighth["scene"], "lens_to_arc_range": [0.1, 12.0],
                                     "no_lens_light_fraction": 0.15, "wide_lens_colours": True, "nuisances": True}
    schedule = {"steps": 3000, "val_windows": 300, "val_every": 1000, "calibration_windows": 800, "device": "auto",
                "hard_negative_share": 0.0, "hard_negative_power": 1.0}
    assert {key: twenty_ninth[key] for key in schedule} == schedule
    cleared = {**{key: 0 for key in schedule}, "seed": 0, "bank": {}, "scene": {}}
    assert _without(twenty_ninth, **cleared) == _without(twenty_first, **cleared)


def test_partly_coloured_round():
    # v31 is v29 with lenses of every colour for a share of 0.3 of lenses only, on a fresh bank.
    twenty_ninth, thirty_first = _load(29), _load(31)
    assert thirty_first["scene"] == {**twenty_ninth["scene"], "wide_lens_colours": 0.3}
    assert thirty_first["seed"] == twenty_ninth["seed"] + 2
    assert _without(thirty_first, seed=0, scene={}) == _without(twenty_ninth, seed=0, scene={})


def test_lens_light_and_lookalike_rounds():
    # v32 is v29 with lens light back to v20's (no lens_to_arc_range, no lenses without light); v33 is v32
    # without the six new look-alike kinds. Each on a fresh bank.
    twenty_ninth, thirty_second, thirty_third = _load(29), _load(32), _load(33)
    lens_light = {key: twenty_ninth["scene"][key] for key in ("lens_to_arc_range", "no_lens_light_fraction")}
    assert {**thirty_second["scene"], **lens_light} == twenty_ninth["scene"]
    assert not set(lens_light) & set(thirty_second["scene"])
    assert _without(thirty_second, seed=0, scene={}) == _without(twenty_ninth, seed=0, scene={})
    assert "extra_negatives" not in thirty_third["bank"]
    assert {**thirty_third["bank"], "extra_negatives": thirty_second["bank"]["extra_negatives"]} == thirty_second["bank"]
    assert _without(thirty_third, seed=0, bank={}) == _without(thirty_second, seed=0, bank={})
    assert thirty_third["seed"] == thirty_second["seed"] + 1
