"""Colour (multi-band) tiles of the independent lens benchmark simulator, ``benchmarks/_independent_lenses.py``."""

import sys
from pathlib import Path

import numpy as np
import pytest

# The simulator lives with the benchmarks, outside the package: import it from there. Appended, not
# prepended, so that the benchmark scripts' module names (lenses, masks, ...) shadow nothing.
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.append(str(BENCHMARKS))

from _independent_galaxies import (GALAXY_COLOURS, NEGATIVE_BUILDERS, _edge_on, _elliptical,  # noqa: E402
                                   _field_galaxy)
from _independent_lenses import (EXTINCTION, _grid, _lens_colours, _render_bands, make_tile)  # noqa: E402

SHAPE = (256, 256)

# Single-band tiles as the simulator made them before colour was added (computed with that version):
# bands=None must keep making them. Tolerances absorb only float summation order in the statistics.
# The lenses' lens_to_arc (the flux ratio they were drawn with) was added to the truth later; images unchanged.
SINGLE_BAND = {
    (0, True, True): dict(sum=183383762.48376465, std=5303.234740107781, nan=0,
                          row=[2114.57421875, 2081.010986328125, 2185.705322265625, 2117.77880859375],
                          boxes=[[119.0, 178.0, 143.0, 191.0]], n=125,
                          first={"kind": "merger", "x": 148.06509081263377, "y": 75.96621000164419},
                          lenses=[{"x": 133.38937384783208, "y": 186.23477721134873, "theta_e": 2.186951042006605,
                                   "arc_snr": 96.03076228199181, "lens_to_arc": 3.012053586308595}]),
    (1, False, True): dict(sum=129972012.72277832, std=1897.0266818163093, nan=0,
                           row=[1772.59521484375, 1769.4815673828125, 1752.38525390625, 1791.62158203125],
                           boxes=[], n=125, first={"kind": "merger", "x": 129.9309456695064, "y": 130.28755442343245},
                           lenses=[]),
    (2, True, False): dict(sum=108937480.62683105, std=5366.901728824277, nan=7936,
                           row=[1279.423828125, 1265.2030029296875, 1270.422119140625, 1298.1937255859375],
                           boxes=[[141.0, 144.0, 155.0, 156.0]], n=141,
                           first={"kind": "edge_on", "x": 116.34623894567835, "y": 229.31994165585294},
                           lenses=[{"x": 148.753457008205, "y": 149.47562892916451, "theta_e": 1.0551058476190716,
                                    "arc_snr": 48.44567574924539, "lens_to_arc": 5.23818139430112}]),
    (5, False, False): dict(sum=160040350.94726562, std=1213.3687470858106, nan=5376,
                            row=[2586.240478515625, 2596.707275390625, 2557.5634765625, 2585.2138671875],
                            boxes=[], n=131, first={"kind": "edge_on", "x": 51.53272604532859, "y": 82.68531701135515},
                            lenses=[]),
}


def tile(seed, *, has_lens=True, **options):
    return make_tile(np.random.default_rng(seed), SHAPE, has_lens=has_lens, **options)


def g_minus_i(g_flux, i_flux):
    """Colour in magnitudes from two fluxes (ADU; throughputs included, fine for comparing objects)."""
    return -2.5 * np.log10(g_flux / i_flux)


@pytest.mark.parametrize("case", sorted(SINGLE_BAND))
def test_single_band_tiles_are_unchanged(case):
    seed, has_lens, ring_clumps = case
    expected = SINGLE_BAND[case]
    result = tile(seed, has_lens=has_lens, ring_clumps=ring_clumps)
    image = result["image"]
    assert image.shape == SHAPE and image.dtype == np.float32
    assert "bands" not in result and "seeing" not in result
    np.testing.assert_allclose(np.nansum(image, dtype=np.float64), expected["sum"], rtol=1e-9)
    np.testing.assert_allclose(np.nanstd(image, dtype=np.float64), expected["std"], rtol=1e-9)
    assert int(np.isnan(image).sum()) == expected["nan"]
    assert image[128, 60:64].tolist() == expected["row"]
    np.testing.assert_allclose(result["boxes"], np.array(expected["boxes"], float).reshape(-1, 4), atol=1e-9)
    assert len(result["objects"]) == expected["n"] and result["objects"][0] == expected["first"]
    # The lens parameters to 1e-12: numpy's transcendental functions may differ in the last bit between CPUs.
    assert result["lenses"] == [pytest.approx(lens, rel=1e-12) for lens in expected["lenses"]]


def test_colour_tile_has_one_float32_plane_per_band():
    result = tile(3, bands=("g", "r", "i"))
    assert result["image"].shape == (3,) + SHAPE and result["image"].dtype == np.float32
    assert result["bands"] == ("g", "r", "i")
    assert set(result["seeing"]) == {"g", "r", "i"}
    (lens,) = result["lenses"]
    assert set(lens["arc_snr_bands"]) == {"g", "r", "i"}
    assert lens["arc_snr_bands"]["r"] == lens["arc_snr"]  # r is the reference band
    # Blue arcs over a darker g sky: in most lenses g sees them best, as in real searches.
    assert lens["arc_snr_bands"]["g"] > lens["arc_snr_bands"]["i"]
    # Each band has its own sky: darker in g, brighter in z (sky medians, objects are few).
    four = tile(3, bands=("g", "r", "i", "z"))
    sky = [float(np.nanmedian(plane)) for plane in four["image"]]
    assert sky[0] < sky[1] < sky[3]


@pytest.mark.parametrize("bands, reference", [(("g", "r", "i"), "r"), (("z", "i", "g"), "i"), (("g",), "g")])
def test_colour_tile_shows_the_single_band_scene(bands, reference):
    single = tile(4, _noiseless=True)
    colour = tile(4, bands=bands, _noiseless=True)
    np.testing.assert_array_equal(colour["boxes"], single["boxes"])
    assert colour["objects"] == single["objects"]
    assert [{k: v for k, v in lens.items() if k != "arc_snr_bands"} for lens in colour["lenses"]] == single["lenses"]
    assert colour["lenses"][0]["arc_snr_bands"][reference] == single["lenses"][0]["arc_snr"]
    assert colour["wcs"].to_header_string() == single["wcs"].to_header_string()
    # The reference band carries the single-band fluxes; the others follow through the colours.
    plane = colour["image"][bands.index(reference)]
    np.testing.assert_allclose(plane, single["image"], rtol=1e-6, atol=1e-6 * np.nanmax(single["image"]))
    others = [k for k in range(len(bands)) if bands[k] != reference]
    for k in others:
        assert not np.allclose(colour["image"][k], plane)


def test_planes_follow_the_order_of_bands():
    forward = tile(6, bands=("g", "i"), _noiseless=True)["image"]
    backward = tile(6, bands=("i", "g"), _noiseless=True)["image"]
    np.testing.assert_array_equal(forward, backward[::-1])


def test_chip_gap_is_the_same_in_every_band():
    for seed in range(30):
        result = tile(seed, has_lens=False, bands=("g", "r", "i", "z"), _noiseless=True)
        gaps = np.isnan(result["image"])
        if gaps.any():
            break
    else:
        pytest.fail("no chip gap in 30 tiles; 30% of tiles should have one")
    assert 0 < gaps[0].sum() < gaps[0].size
    for band_gap in gaps[1:]:
        np.testing.assert_array_equal(band_gap, gaps[0])


def test_lens_galaxy_is_redder_than_its_arcs():
    """g-i of the light on the Einstein radius against that of the lens centre, in noise-free tiles."""
    differences = []
    for seed in range(8):
        result = tile(seed, bands=("g", "r", "i"), _noiseless=True)
        (lens,) = result["lenses"]
        rows, cols = np.mgrid[0:SHAPE[0], 0:SHAPE[1]]
        radius = np.hypot(cols - lens["x"], rows - lens["y"]) * result["pixel_scale"]
        g, i = result["image"][0], result["image"][2]
        centre, ring = radius < 0.3, np.abs(radius - lens["theta_e"]) < 0.3
        differences.append(g_minus_i(g[centre].sum(), i[centre].sum()) - g_minus_i(g[ring].sum(), i[ring].sum()))
    # The arcs are mixed with the lens light on the ring, so the difference is smaller than the SEDs'.
    assert min(differences) > 0.2, differences
    assert np.median(differences) > 0.7, differences


def test_colour_cues_overlap_between_lenses_and_negatives():
    rng = np.random.default_rng(0)
    lens_seds = [_lens_colours(rng, 1) for _ in range(2000)]
    lens_light = np.array([light[0] - light[2] for light, _ in lens_seds])
    sources = np.array([seds[0][0] - seds[0][2] for _, seds in lens_seds])
    assert np.median(sources) < 0.6 < 1.8 < np.median(lens_light)
    assert 0.03 < np.mean(sources > 1.0) < 0.3  # a tail of redder sources
    rings = np.array([(lambda sed: sed[0] - sed[2])(GALAXY_COLOURS["ring"](rng)["ring"]) for _ in range(2000)])
    assert 0.1 < np.mean(rings < np.median(sources)) < 0.6  # some rings are as blue as typical arcs
    # Bright ellipticals without arcs take the lens galaxies' colours, from the same recipe and draws:
    # colour alone cannot tell them apart.
    for seed in range(5):
        light, _ = _lens_colours(np.random.default_rng(seed), 1)
        elliptical = GALAXY_COLOURS["elliptical"](np.random.default_rng(seed))["galaxy"]
        np.testing.assert_array_equal(elliptical, light)


def second_moment_width(plane, x, y, radius=12):
    """Core-and-wing width (pixels) of a star at ``(x, y)``: sqrt of its per-axis second moment less a pixel's."""
    ix, iy = int(round(x)), int(round(y))
    rows, cols = np.mgrid[iy - radius:iy + radius + 1, ix - radius:ix + radius + 1]
    weights = plane[iy - radius:iy + radius + 1, ix - radius:ix + radius + 1].astype(float)
    weights = weights * (np.hypot(cols - x, rows - y) <= radius)
    variance = 0.5 * (weights * ((cols - x) ** 2 + (rows - y) ** 2)).sum() / weights.sum()
    return np.sqrt(variance - 1.0 / 12.0)


def test_seeing_differs_between_bands():
    wavelengths = {"g": 480.0, "r": 640.0, "i": 780.0, "z": 920.0}
    bands = ("g", "r", "i", "z")
    checked = 0
    for seed in range(3):
        # A large tile holds the same number of objects as a small one, so some stars stand alone.
        result = make_tile(np.random.default_rng(seed), (700, 700), has_lens=False, bands=bands, _noiseless=True)
        seeing = result["seeing"]
        for band in bands:
            # r (the reference band) is drawn as single-band seeing; the others scale as wavelength**-0.2,
            # each off by at most 5% since the bands were exposed at different times.
            ratio = seeing[band] / seeing["r"] / (wavelengths[band] / wavelengths["r"]) ** -0.2
            assert (band == "r" and ratio == 1.0) or 0.95 <= ratio <= 1.05, (band, ratio)
        assert seeing["g"] > seeing["z"]
        # The stars in the image have those widths: the brightest star with no object within 40 pixels.
        objects = result["objects"]
        lonely = [o for o in objects if o["kind"] == "star" and 20 < o["x"] < 679 and 20 < o["y"] < 679
                  and min(np.hypot(p["x"] - o["x"], p["y"] - o["y"]) for p in objects if p is not o) > 40
                  and not np.isnan(result["image"][:, int(o["y"]) - 13:int(o["y"]) + 14,
                                                   int(o["x"]) - 13:int(o["x"]) + 14]).any()]
        if not lonely:
            continue
        star = max(lonely, key=lambda o: result["image"][1, int(round(o["y"])), int(round(o["x"]))])
        widths = {band: second_moment_width(result["image"][k], star["x"], star["y"]) for k, band in enumerate(bands)}
        for band in bands:
            np.testing.assert_allclose(widths[band] / widths["r"], seeing[band] / seeing["r"], rtol=0.03)
        checked += 1
    assert checked >= 2


@pytest.mark.parametrize("builder", [*NEGATIVE_BUILDERS.values(), _elliptical, _field_galaxy])
def test_galaxy_parts_add_up_to_the_single_band_profile(builder):
    for seed in range(3):
        profile, extent = builder(np.random.default_rng(seed))
        _, _, dx, dy = _grid(0.0, 0.0, 20, 0.263)
        parts, transmission = profile.parts(dx, dy)
        total = sum(parts.values()) * (1.0 if transmission is None else transmission)
        np.testing.assert_allclose(total, profile(dx, dy), rtol=1e-12, atol=1e-15)
        name = [kind for kind, b in {**NEGATIVE_BUILDERS, "elliptical": _elliptical,
                                     "field": _field_galaxy}.items() if b is builder][0]
        assert set(parts) <= set(GALAXY_COLOURS[name](np.random.default_rng(seed)))


def test_ring_galaxies_report_their_radius_and_nucleus():
    # benchmarks/lens_rings.py sorts flagged rings by these; the light must agree with them.
    rings_only = tuple(float(kind == "ring") for kind in NEGATIVE_BUILDERS)
    rings = [o for o in tile(3, has_lens=False, negative_weights=rings_only)["objects"] if o["kind"] == "ring"]
    assert len(rings) >= 3
    for ring in rings:
        assert 1.0 <= ring["ring_radius"] <= 4.0 and 0.0 <= ring["nucleus_share"] < 0.5
    for seed in range(6):
        profile, _ = NEGATIVE_BUILDERS["ring"](np.random.default_rng(seed))
        _, _, dx, dy = _grid(0.0, 0.0, 80, 0.1)
        parts, _ = profile.parts(dx, dy)
        share = parts.get("nucleus", np.zeros_like(dx)).sum() / sum(parts.values()).sum()
        np.testing.assert_allclose(share, profile.truth["nucleus_share"], atol=0.02)
        # The ring's light peaks at the reported radius (along the major axis, where q does not shrink it).
        ring_light = parts["ring"]
        r = np.hypot(dx, dy)[ring_light > 0.9 * ring_light.max()]
        assert 0.9 * profile.truth["ring_radius"] <= r.max() <= 1.15 * profile.truth["ring_radius"]


def test_dust_lane_reddens_an_edge_on_disk():
    for seed in range(20):  # half the edge-on disks have a dust lane
        profile, extent = _edge_on(np.random.default_rng(seed))
        if profile.parts(*_grid(0.0, 0.0, 20, 0.263)[2:])[1].min() < 0.7:
            break
    else:
        pytest.fail("no dust lane in 20 edge-on disks")
    grey = {"disk": np.ones(3), "bulge": np.ones(3)}  # no intrinsic colour: only the dust's
    reddening = EXTINCTION[[0, 1, 2]] / EXTINCTION[1]
    _, _, (g, r, i) = _render_bands(profile, 30.0, 30.0, extent, 0.263, grey, reddening, 1)
    assert g.sum() < r.sum() < i.sum()
    centre = (slice(g.shape[0] // 2 - 1, g.shape[0] // 2 + 2),) * 2
    assert g[centre].sum() / i[centre].sum() < g.sum() / i.sum()  # reddest in the lane, across the centre


@pytest.mark.parametrize("bands, match", [
    ("gri", "not a string"),
    ((), "at least one band"),
    (("g", "x"), "unknown band names"),
    (("g", 1), "unknown band names"),
    (("g", "r", "g"), "more than once"),
    (3, "sequence of names"),
])
def test_bad_bands_raise(bands, match):
    with pytest.raises(ValueError, match=match) as error:
        tile(0, bands=bands)
    assert "bands" in str(error.value) and repr(bands) in str(error.value)
