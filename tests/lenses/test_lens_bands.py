"""Multi-band tiles: the band pattern, registration onto one grid, the finder, cutouts and the command."""

from dataclasses import replace

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from click.testing import CliRunner
from lens_fixtures import BlobDetector, BlueBlobDetector, blob_image, colour_tile, tan_wcs

from crclean.cli._lenses import lenses_command
from crclean.exceptions import InputError
from crclean.lenses import LensFinder, cutout_thumbnail, get_lens_model
from crclean.lenses._bands import band_paths, reference_index, register_bands
from crclean.weights import ModelSpec

BLUE, GREY = [(60.0, 70.0)], [(150.0, 130.0), (40.0, 170.0)]
BANDS = ("g", "r", "i")


def _colour_spec():
    return replace(get_lens_model("rtdetr-lens-v9"), name="colour-test", config={"in_channels": 3}, bands=BANDS)


def _nearest(catalog, x, y):
    return float(np.hypot(catalog["x"] - x, catalog["y"] - y).min()) if len(catalog) else np.inf


def test_band_pattern_and_reference_band():
    assert band_paths("d/tile_{band}.fits", BANDS) == ["d/tile_g.fits", "d/tile_r.fits", "d/tile_i.fits"]
    with pytest.raises(InputError, match=r"tile.fits: the lens model takes 3 bands \(g, r, i\).*tile_\{band\}.fits"):
        band_paths("tile.fits", BANDS)
    assert reference_index(BANDS) == 1 and reference_index(("g", "i", "z")) == 1
    assert reference_index(("i", "z")) == 0


def _lens_spec(**options):
    return ModelSpec(name="x", kind="network", task="lens", instruments="", arch="rtdetr", **options)


def test_a_spec_names_one_band_per_input_channel():
    with pytest.raises(ValueError, match="in_channels = 3"):
        _lens_spec(bands=BANDS)
    with pytest.raises(ValueError, match="names no bands"):
        _lens_spec(config={"in_channels": 2})
    with pytest.raises(ValueError, match="distinct"):
        _lens_spec(config={"in_channels": 2}, bands=("g", "g"))
    assert _colour_spec().n_bands == 3 and get_lens_model("rtdetr-lens-v9").n_bands == 1
    assert get_lens_model("rtdetr-lens-v20").bands == BANDS


def test_bands_on_one_grid_are_stacked_as_they_are():
    shape, wcs = (64, 80), tan_wcs((64, 80), 0.2)
    images = [np.full(shape, float(value), np.float32) for value in (1, 2, 3)]
    wcses = [wcs, wcs.deepcopy(), wcs.deepcopy()]
    stack, ref_wcs, resampled = register_bands(images, wcses, bands=BANDS)
    assert stack.shape == (3, 64, 80) and resampled == [] and ref_wcs is wcses[1]  # the r band's
    assert np.array_equal(stack[:, 0, 0], [1, 2, 3])
    stack, ref_wcs, _ = register_bands(images, [None] * 3, bands=BANDS)
    assert ref_wcs is None and np.array_equal(stack[2], images[2])


def test_a_band_on_another_grid_is_resampled_onto_the_reference():
    # Band i comes on a coarser, larger grid centred elsewhere; its blob must land where r's is.
    shape_r, shape_i = (120, 120), (100, 110)
    wcs_r, wcs_i = tan_wcs(shape_r, 0.2), tan_wcs(shape_i, 0.263, ra=150.0 + 1e-4)
    ra, dec = wcs_r.pixel_to_world_values(70.0, 50.0)
    x_i, y_i = wcs_i.world_to_pixel_values(ra, dec)
    r = blob_image(shape_r, [(70.0, 50.0)], seed=1, amplitude=100.0, width=3.0)
    i = blob_image(shape_i, [(float(x_i), float(y_i))], seed=2, amplitude=100.0, width=3.0 * 0.2 / 0.263)
    stack, ref_wcs, resampled = register_bands([r, r, i], [wcs_r, wcs_r, wcs_i], bands=BANDS, where="t")
    assert resampled == ["i"] and stack.shape == (3, 120, 120) and ref_wcs is wcs_r
    smooth = np.nan_to_num(stack[2], nan=0.0)
    y, x = np.unravel_index(np.argmax(smooth), smooth.shape)
    assert abs(x - 70) <= 1 and abs(y - 50) <= 1
    with pytest.raises(InputError, match="t: band i is 110x100 pixels and band r 120x120.*add WCS keywords"):
        register_bands([r, r, i], [None, None, None], bands=BANDS, where="t")


def test_the_finder_gives_each_band_its_own_sky_and_noise_and_the_network_all_bands():
    image = colour_tile((200, 220), BLUE, GREY, seed=3)
    before = image.copy()
    finder = LensFinder(_colour_spec(), conf=0.9, network=BlueBlobDetector(), device="cpu")
    result = finder.find(image, pixel_scale=0.2, tile="t_{band}")
    # Only the blob brighter in g than in i; the grey ones are the same in every band once each is normalised.
    assert len(result.catalog) == 1 and _nearest(result.catalog, *BLUE[0]) <= 1.5
    assert result.image.shape == image.shape and np.array_equal(image, before)
    assert abs(float(np.nanmedian(result.image[2]))) < 2.0  # band i's sky (300, noise 8) removed on its own
    # A grey detector sees every blob: the bands are all there.
    everything = LensFinder(_colour_spec(), conf=0.9, network=BlobDetector(), device="cpu").find(image, pixel_scale=0.2)
    assert len(everything.catalog) == 3


def test_the_finder_refuses_the_wrong_number_of_bands():
    finder = LensFinder(_colour_spec(), network=BlueBlobDetector(), device="cpu")
    with pytest.raises(InputError, match=r"t: lens model 'colour-test' takes 3 bands \(g, r, i\).*got shape \(100, 100\)"):
        finder.find(np.zeros((100, 100)), tile="t")
    with pytest.raises(InputError, match="takes 3 bands"):
        finder.find(np.zeros((2, 100, 100)), tile="t")
    with pytest.raises(InputError, match=r"t: need band images of at least 16x16 pixels, got shape \(3, 8, 100\)"):
        finder.find(np.zeros((3, 8, 100)), tile="t")


def test_a_colour_cutout_shows_a_blue_object_blue_and_a_grey_one_grey():
    image = colour_tile((200, 220), BLUE, GREY, seed=4) - np.array([100.0, 200.0, 300.0])[:, None, None]
    row = {"x": BLUE[0][0], "y": BLUE[0][1], "xmin": 52.0, "xmax": 68.0, "ymin": 62.0, "ymax": 78.0}
    red, green, blue = np.moveaxis(cutout_thumbnail(image, row).astype(int), 2, 0)
    assert blue[48, 48] - red[48, 48] > 100
    grey = cutout_thumbnail(image, {**row, "x": GREY[0][0], "y": GREY[0][1]}).astype(int)
    assert abs(grey[48, 48, 2] - grey[48, 48, 0]) < 30
    single = cutout_thumbnail(image[1], row)
    assert np.array_equal(single[..., 0], single[..., 2])


@pytest.fixture
def colour_model(monkeypatch):
    """The default model name stands for a g, r, i model with a colour stand-in detector."""
    monkeypatch.setattr("crclean.lenses._finder.get_lens_model", lambda name: _colour_spec())
    monkeypatch.setattr("crclean.lenses._finder.load_lens_network", lambda spec, device: BlueBlobDetector())


def _write_bands(folder, image, *, skip=()):
    shape = image.shape[1:]
    for band, plane in zip(BANDS, image):
        if band not in skip:
            fits.PrimaryHDU(plane, tan_wcs(shape, 0.2).to_header()).writeto(folder / f"tile_{band}.fits")
    return folder / "tile_{band}.fits"


def _run(args):
    return CliRunner().invoke(lenses_command, [str(a) for a in args], catch_exceptions=False)


def test_the_command_searches_one_file_per_band(tmp_path, colour_model):
    pattern = _write_bands(tmp_path, colour_tile((200, 220), BLUE, GREY, seed=5))
    out = tmp_path / "cat.ecsv"
    result = _run([pattern, "-o", out, "--cutouts", tmp_path / "cuts", "-q"])
    assert result.exit_code == 0, result.output
    table = Table.read(out)
    assert len(table) == 1 and table["tile"][0] == str(pattern) and table.meta["bands"] == "g,r,i"
    assert abs(table["x"][0] - BLUE[0][0]) <= 1.5 and np.isfinite(table["ra"][0])
    assert sorted(p.name for p in (tmp_path / "cuts").iterdir()) == ["lens_00001.png", "mosaic.png"]



def test_band_files_without_wcs_are_searched_at_the_reference_band_header_scale(tmp_path, colour_model):
    image = colour_tile((200, 220), BLUE, GREY, seed=5)
    # Only the reference band (r) states a scale; the others' keywords would fail if read.
    for band, plane in zip(BANDS, image):
        header = fits.Header({"PIXSCALE": 0.27 if band == "r" else "unknown"})
        fits.PrimaryHDU(plane, header).writeto(tmp_path / f"tile_{band}.fits")
    out = tmp_path / "cat.ecsv"
    result = _run([tmp_path / "tile_{band}.fits", "-o", out])
    assert result.exit_code == 0, result.output
    table = Table.read(out)
    assert len(table) == 1 and abs(table["x"][0] - BLUE[0][0]) <= 1.5 and np.isnan(table["ra"][0])
    assert np.allclose(table["xmax"] - table["xmin"] + 1, 16 * 0.2 / 0.27, atol=0.5)
    assert "from its PIXSCALE keyword(s)" in result.output

def test_the_command_refuses_a_missing_band_or_a_plain_file(tmp_path, colour_model):
    pattern = _write_bands(tmp_path, colour_tile((200, 220), BLUE, GREY, seed=6), skip=("i",))
    out = tmp_path / "cat.ecsv"
    result = _run([pattern, "-o", out])
    assert result.exit_code == 1 and not out.exists()
    assert f"crclean: error: {tmp_path / 'tile_i.fits'}: no such file" in result.output
    result = _run([tmp_path / "tile_g.fits", "-o", out])
    assert result.exit_code == 1 and not out.exists()
    assert "takes 3 bands (g, r, i), one file each; give the tile as a pattern with {band}" in result.output


def test_a_single_band_model_refuses_a_band_pattern(tmp_path, monkeypatch):
    monkeypatch.setattr("crclean.lenses._finder.load_lens_network", lambda spec, device: BlobDetector())
    _write_bands(tmp_path, colour_tile((100, 100), [], [], seed=7))
    result = _run([tmp_path / "tile_{band}.fits", "--model", "rtdetr-lens-v9", "-q"])
    assert result.exit_code == 1
    assert "the lens model takes one image per tile, so {band} is not filled in" in result.output


def test_band_patterns_on_a_dask_cluster_give_the_local_catalogue(tmp_path, colour_model):
    from distributed import LocalCluster

    from crclean import _dask

    first = tmp_path / "a"
    second = tmp_path / "b"
    first.mkdir(), second.mkdir()
    patterns = [_write_bands(first, colour_tile((200, 220), BLUE, GREY, seed=8)),
                _write_bands(second, colour_tile((150, 160), [(100.0, 80.0)], [], seed=9))]
    local = _run([*patterns, "-o", tmp_path / "local.ecsv", "-q"])
    assert local.exit_code == 0, local.output
    try:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
            remote = _run([*patterns, "-o", tmp_path / "remote.ecsv", "--scheduler", cluster.scheduler_address, "-q"])
    finally:
        _dask._RESOURCES.clear()
    assert remote.exit_code == 0, remote.output
    assert (tmp_path / "remote.ecsv").read_text() == (tmp_path / "local.ecsv").read_text()
    assert list(Table.read(tmp_path / "local.ecsv")["tile"]) == [str(p) for p in patterns]


def test_a_band_pattern_selects_the_multi_band_default(tmp_path, monkeypatch):
    from crclean.lenses._manifest import DEFAULT_MULTIBAND_LENS_MODEL, get_lens_model as real_spec

    chosen = []
    monkeypatch.setattr("crclean.lenses._finder.get_lens_model", lambda name: chosen.append(name) or real_spec(name))
    monkeypatch.setattr("crclean.lenses._finder.load_lens_network", lambda spec, device: BlueBlobDetector())
    pattern = _write_bands(tmp_path, colour_tile((200, 220), BLUE, GREY, seed=10))
    result = _run([pattern, "-o", tmp_path / "cat.ecsv", "-q"])
    assert result.exit_code == 0, result.output
    assert chosen == [DEFAULT_MULTIBAND_LENS_MODEL]
    assert Table.read(tmp_path / "cat.ecsv").meta["model"] == DEFAULT_MULTIBAND_LENS_MODEL
    mixed = _run([pattern, tmp_path / "tile_g.fits"])
    assert mixed.exit_code == 2 and "some TILEs are {band} patterns and some single files" in mixed.output


def test_a_bright_star_beside_a_candidate_does_not_fade_it():
    yy, xx = np.mgrid[0:120, 0:120]
    image = np.random.default_rng(11).normal(0.0, 1.0, (120, 120))
    image += 20.0 * np.exp(-((xx - 60) ** 2 + (yy - 60) ** 2) / 8.0)  # a faint candidate
    image += 5e4 * np.exp(-((xx - 78) ** 2 + (yy - 76) ** 2) / 4.0)  # a saturated star in the cutout
    row = {"x": 60.0, "y": 60.0, "xmin": 54.0, "xmax": 66.0, "ymin": 54.0, "ymax": 66.0}
    thumb = cutout_thumbnail(image, row)
    assert thumb[48, 48, 0] > 200 and np.median(thumb[..., 0]) < 120


def test_bands_at_another_pixel_scale_are_resampled_together_and_mapped_back():
    image = colour_tile((200, 220), BLUE, GREY, seed=12)
    wcs = tan_wcs((200, 220), 0.25)
    result = LensFinder(_colour_spec(), conf=0.9, network=BlueBlobDetector(), device="cpu").find(image, wcs=wcs)
    assert result.resampled and result.image.shape == image.shape
    assert len(result.catalog) == 1 and _nearest(result.catalog, *BLUE[0]) <= 1.5
