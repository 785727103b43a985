"""Real LSST footprints: loading, split, rebinning and injection."""

import numpy as np
import pytest

from crclean.training._footprints import (
    FOOTPRINT_FILE,
    inject_footprints,
    load_footprints,
    rebin_stamp,
    split_of,
)


def test_shipped_file_is_inside_the_package():
    assert FOOTPRINT_FILE.is_file()
    assert "crclean/training/data" in FOOTPRINT_FILE.as_posix()


def test_catalog_rebuilds_every_footprint_in_electrons():
    catalog = load_footprints("all")
    assert len(catalog) == 882
    assert all(s.dtype == np.float32 and s.ndim == 2 for s in catalog.stamps)
    # The harvest kept pixels above ~49 e-, so every stamp has real charge.
    assert min(s[s > 0].min() for s in catalog.stamps) >= 49
    assert catalog.rate_per_pixel_s == pytest.approx(1764 / (1500.0 * 16288000))


def test_splits_are_disjoint_deterministic_and_cover_the_catalog():
    train = load_footprints("train")
    validation = load_footprints("validation")
    assert set(train.fp_ids).isdisjoint(validation.fp_ids)
    assert len(train) + len(validation) == len(load_footprints("all"))
    assert np.all(validation.fp_ids % 5 == 0) and np.all(train.fp_ids % 5 != 0)
    assert (len(train), len(validation)) == (705, 177)
    assert split_of(350) == "validation" and split_of(352) == "train"


def test_loaded_stamps_cannot_be_modified():
    stamp = load_footprints("train").stamps[0]
    with pytest.raises(ValueError):
        stamp[0, 0] = 1.0


def test_unknown_split_is_rejected_by_name():
    with pytest.raises(ValueError, match="split must be one of"):
        load_footprints("test")


@pytest.mark.parametrize("zoom", [0.5, 2 / 3, 1.5])
def test_rebin_conserves_charge(zoom):
    stamp = load_footprints("all").stamps[113]
    rebinned = rebin_stamp(stamp, zoom)
    assert rebinned.shape == tuple(int(np.ceil(n * zoom)) for n in stamp.shape)
    assert rebinned.sum() == pytest.approx(float(stamp.sum()), rel=1e-5)


def test_injection_adds_exactly_the_charge_map_and_leaves_input_alone():
    image = np.full((200, 300), 100.0, np.float32)
    stamps = load_footprints("train").stamps
    new, charge = inject_footprints(image, stamps, 40, rng=np.random.default_rng(0))
    assert np.all(image == 100.0)
    assert new.dtype == charge.dtype == np.float32
    np.testing.assert_array_equal(new, image + charge)
    assert charge.min() >= 0 and (charge > 0).sum() > 100


def test_injection_conserves_flux_of_footprints_inside_the_image():
    # One tiny footprint in a big image never touches the edge.
    stamp = np.array([[0, 50, 0], [10, 900, 30], [0, 70, 0]], np.float32)
    rng = np.random.default_rng(3)
    for zoom, scale in ((1.0, 1.0), (1.0, 0.25), (2 / 3, 1.0)):
        _, charge = inject_footprints(np.zeros((64, 64)), [stamp], 1, rng=rng,
                                      charge_scale=scale, zoom=zoom)
        assert charge.sum() == pytest.approx(stamp.sum() * scale)


def test_injection_rotates_and_flips():
    stamp = np.zeros((1, 5), np.float32)
    stamp[0, :] = 100.0
    rng = np.random.default_rng(1)
    orientations = set()
    for _ in range(20):
        _, charge = inject_footprints(np.zeros((40, 40)), [stamp], 1, rng=rng)
        ys, xs = np.nonzero(charge)
        orientations.add("vertical" if np.ptp(ys) > np.ptp(xs) else "horizontal")
    assert orientations == {"vertical", "horizontal"}


def test_injection_is_reproducible_from_the_generator_seed():
    stamps = load_footprints("train").stamps
    a = inject_footprints(np.zeros((100, 100)), stamps, 10, rng=np.random.default_rng(5))[1]
    b = inject_footprints(np.zeros((100, 100)), stamps, 10, rng=np.random.default_rng(5))[1]
    c = inject_footprints(np.zeros((100, 100)), stamps, 10, rng=np.random.default_rng(6))[1]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_injection_validates_its_inputs():
    with pytest.raises(ValueError, match="image must be 2-D"):
        inject_footprints(np.zeros(10), [np.ones((2, 2))], 1, rng=np.random.default_rng())
    with pytest.raises(ValueError, match="stamps is empty"):
        inject_footprints(np.zeros((10, 10)), [], 1, rng=np.random.default_rng())
    with pytest.raises(ValueError, match="zoom must be > 0"):
        rebin_stamp(np.ones((2, 2)), 0)


def test_anchored_footprints_are_centred_on_the_weighted_sources_and_unanchored_ones_keep_their_places():
    stamp = np.zeros((3, 3), np.float32)
    stamp[1, 1] = 100.0
    anchors = (np.array([20.0, 80.0]), np.array([50.0, 50.0]), np.array([0.0, 1.0]), 0.5)
    _, charge = inject_footprints(np.zeros((100, 100)), [stamp], 50, rng=np.random.default_rng(2),
                                  anchors=anchors, anchor_fraction=1.0)
    ys, xs = np.nonzero(charge)
    # Every footprint lands within a few jitters of the only source with weight.
    assert np.all(np.hypot(xs - 80, ys - 50) <= 3)
    assert not charge[:, :50].any()
    stamps = load_footprints("train").stamps
    plain = inject_footprints(np.zeros((100, 100)), stamps, 10, rng=np.random.default_rng(5))[1]
    for unused in (dict(anchors=None, anchor_fraction=0.5), dict(anchors=anchors, anchor_fraction=0.0)):
        again = inject_footprints(np.zeros((100, 100)), stamps, 10, rng=np.random.default_rng(5), **unused)[1]
        np.testing.assert_array_equal(again, plain)
