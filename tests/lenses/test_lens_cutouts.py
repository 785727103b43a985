"""Cutouts as input: border sky, one score per cutout, and ``crclean lenses --cutouts-in``."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from click.testing import CliRunner
from lens_fixtures import BlobDetector, blob_image, tan_wcs

from crclean.cli._lenses import lenses_command
from crclean.exceptions import InputError
from crclean.lenses import LensFinder, get_lens_model
from crclean.lenses._background import subtract_background
from crclean.lenses._cutout_files import CUTOUT_COLUMNS
from crclean.lenses._cutouts import border_sky


def galaxy_cutout(side=96, *, sky=100.0, sigma=2.0, flux=2e5, scale_length=5.0, seed=0):
    """An exponential disk filling the middle of a cutout: ``(image, noise-free galaxy)``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side] - (side - 1) / 2
    galaxy = np.exp(-np.hypot(xx, yy) / scale_length)
    galaxy *= flux / galaxy.sum()
    return (sky + galaxy + rng.normal(0, sigma, (side, side))).astype(np.float32), galaxy


@pytest.fixture
def blob_finder():
    return LensFinder(network=BlobDetector()).load()


def test_border_sky_measures_the_noise_that_a_background_mesh_overestimates():
    image, galaxy = galaxy_cutout()
    subtracted, sigma = border_sky(image)
    assert sigma == pytest.approx(2.0, rel=0.05)
    centre = np.s_[28:68, 28:68]
    assert subtracted[centre].sum() == pytest.approx(galaxy[centre].sum(), rel=0.01)
    # The tile path's mesh reads the galaxy's light as noise: the reason cutouts have their own sky.
    _, mesh_sigma = subtract_background(image)
    assert mesh_sigma > 1.5 * 2.0


def test_border_sky_refuses_a_cutout_without_noise_or_border():
    with pytest.raises(InputError, match="its border has no sky noise"):
        border_sky(np.full((64, 64), 5.0), where="flat.fits")
    blank = np.full((64, 64), np.nan)
    blank[10:54, 10:54] = 1.0
    with pytest.raises(InputError, match=r"blank.fits: only 0 finite pixels in its 8-pixel border"):
        border_sky(blank, where="blank.fits")


def test_one_score_per_cutout_with_its_box_in_the_cutouts_pixels(blob_finder):
    cutouts = np.stack([blob_image((96, 96), [(47.5, 47.5)], seed=1), blob_image((96, 96), [], seed=2),
                        blob_image((96, 96), [(30.0, 60.0)], seed=3)])
    before = cutouts.copy()
    scores = blob_finder.score_cutouts(cutouts)
    np.testing.assert_array_equal(cutouts, before)
    assert [s.score > 0.99 for s in scores] == [True, False, True]
    assert scores[1].score == 0.0 and scores[1].box is None
    for found, (x, y) in zip([scores[0], scores[2]], [(47.5, 47.5), (30.0, 60.0)]):
        centre = (found.box[:2] + found.box[2:]) / 2 - 0.5
        np.testing.assert_allclose(centre, [x, y], atol=1.0)
    assert [s.score for s in blob_finder.score_cutouts(cutouts)] == [s.score for s in scores]  # the margin is seeded


def test_a_cutout_at_another_scale_is_resampled_and_its_box_mapped_back(blob_finder):
    cutout = blob_image((64, 64), [(20.0, 40.0)], seed=4, width=1.0)
    (found,) = blob_finder.score_cutouts(cutout[None], pixel_scale=0.4)
    centre = (found.box[:2] + found.box[2:]) / 2 - 0.5
    assert found.score > 0.99
    np.testing.assert_allclose(centre, [20.0, 40.0], atol=1.0)


def test_wrong_sizes_and_shapes_are_refused(blob_finder):
    with pytest.raises(InputError, match=r"x.fits: a cutout must be 32-256 pixels a side at the model's "
                                         r"scale, these are 300x300 pixels"):
        blob_finder.score_cutouts(np.ones((1, 300, 300)), where="x.fits")
    with pytest.raises(InputError, match=r"these are 20x20 pixels at the model's 0.2 arcsec/pixel; cut them at least "
                                         r"6.4 arcsec wide"):
        blob_finder.score_cutouts(np.ones((1, 20, 20)), where="x.fits")
    with pytest.raises(InputError, match=r"scores cutouts given as \(n, ny, nx\), got shape \(96, 96\)"):
        blob_finder.score_cutouts(np.ones((96, 96)))


def _run(args):
    return CliRunner().invoke(lenses_command, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def fake_weights(monkeypatch):
    monkeypatch.setattr("crclean.lenses._finder.load_lens_network", lambda spec, device: BlobDetector())


@pytest.fixture
def cube(tmp_path):
    """Three 96-pixel cutouts at 0.2 arcsec with a WCS: a blob in the first and last."""
    data = np.stack([blob_image((96, 96), [(47.5, 47.5)], seed=1), blob_image((96, 96), [], seed=2),
                     blob_image((96, 96), [(30.0, 60.0)], seed=3)])
    path = tmp_path / "cube.fits"
    fits.PrimaryHDU(data, tan_wcs((96, 96), 0.2).to_header()).writeto(path)
    return path


def test_cutouts_in_writes_a_row_per_cutout_with_its_provenance(tmp_path, cube, fake_weights):
    before = cube.read_bytes()
    out = tmp_path / "scores.ecsv"
    result = _run(["--cutouts-in", cube, "-o", out])
    assert result.exit_code == 0, result.output
    assert f"{cube}: 3 cutout(s) scored, 2 with score >= 0.9" in result.stderr
    table = Table.read(out)
    assert table.colnames == list(CUTOUT_COLUMNS)
    assert list(table["index"]) == [0, 1, 2] and list(table["candidate"]) == [True, False, True]
    assert np.isnan(table["x"][1]) and np.all(np.isfinite(table["ra"][[0, 2]]))
    assert set(table["model"]) == {"rtdetr-lens-v9"}
    assert table.meta["model"] == "rtdetr-lens-v9" and table.meta["scorecal"].startswith("score = sigmoid(2.01 * logit")
    assert table.meta["modelsha"].startswith("ad2d8b0c")
    assert cube.read_bytes() == before

    again = _run(["--cutouts-in", cube, "-o", out])
    assert again.exit_code == 1 and "exists" in again.stderr and "--overwrite" in again.stderr
    assert _run(["--cutouts-in", cube, "-o", out, "--overwrite"]).exit_code == 0


def test_cutouts_in_takes_one_file_per_band_for_the_colour_model(tmp_path, fake_weights):
    data = np.stack([blob_image((80, 80), [(40.0, 40.0)], seed=s) for s in range(2)])
    for band in "gri":
        fits.PrimaryHDU(data).writeto(tmp_path / f"c_{band}.fits")
    out = tmp_path / "scores.fits"
    result = _run(["--cutouts-in", tmp_path / "c_{band}.fits", "-o", out])
    assert result.exit_code == 0, result.output
    table = Table.read(out)
    assert len(table) == 2 and table.meta["MODEL"] == "rtdetr-lens-v20" and table.meta["BANDS"] == "g,r,i"
    fits.PrimaryHDU(data[:1]).writeto(tmp_path / "c_i.fits", overwrite=True)
    result = _run(["--cutouts-in", tmp_path / "c_{band}.fits", "-o", tmp_path / "other.ecsv"])
    assert result.exit_code == 1 and "the bands' cutouts differ in number or shape" in result.stderr
    assert not (tmp_path / "other.ecsv").exists()


def test_cutouts_in_errors_name_the_file_and_write_nothing(tmp_path, fake_weights):
    big = tmp_path / "big.fits"
    fits.PrimaryHDU(np.random.default_rng(0).normal(size=(400, 400)).astype(np.float32)).writeto(big)
    out = tmp_path / "scores.ecsv"
    result = _run(["--cutouts-in", big, "-o", out, "-q"])
    assert result.exit_code == 1
    assert (f"crclean: error: {big}: a cutout must be 32-256 pixels a side at the model's scale, these are "
            "400x400 pixels at the model's 0.2 arcsec/pixel; search larger images as tiles (without "
            "--cutouts-in)") in result.stderr
    assert not out.exists()


def test_cutouts_in_refuses_options_that_need_tiles(tmp_path, cube):
    result = _run(["--cutouts-in", cube, "--regions", tmp_path / "c.reg"])
    assert result.exit_code == 2
    assert "--cutouts-in scores given cutouts and writes only their catalogue; drop --regions" in result.output


def test_a_small_image_searched_as_a_tile_gets_a_hint(tmp_path, fake_weights):
    path = tmp_path / "stamp.fits"
    fits.PrimaryHDU(blob_image((96, 96), [(47.5, 47.5)], seed=1)).writeto(path)
    result = _run([path, "-q"])
    assert result.exit_code == 0
    assert "is 96x96 pixels, the size of a cutout" in result.stderr
    assert "--cutouts-in scores it with the sky of its border" in result.stderr


def test_a_tile_catalogue_in_fits_names_its_model_weights_and_calibrations(tmp_path, fake_weights):
    path = tmp_path / "tile.fits"
    header = tan_wcs((200, 220), 0.2).to_header()
    fits.PrimaryHDU(blob_image((200, 220), [(50.0, 60.0)], seed=5), header).writeto(path)
    out = tmp_path / "cat.fits"
    assert _run([path, "-o", out, "-q"]).exit_code == 0
    header = fits.getheader(out, 1)  # short keys: plain FITS keywords, no HIERARCH warning on writing
    spec = get_lens_model("rtdetr-lens-v9")
    assert (header["MODEL"], header["MODELVER"], header["MODELSHA"]) == (spec.name, "9", spec.sha256)
    assert header["SCORECAL"] == ("score = sigmoid(2.01 * logit - 0.964) (Platt 1999, fitted on held-out simulated "
                                  "windows)")
    assert header["THETACAL"].startswith("theta_E = 1.058 * box half-side - 0.829 arcsec")
    assert header["CONF"] == 0.9 and header["VIEWS"] == 4 and header["CRCLEAN"]


def test_cutouts_in_reads_every_image_hdu_but_ancillary_ones_or_those_of_ext(tmp_path, fake_weights):
    path = tmp_path / "stamps.fits"
    fits.HDUList([fits.PrimaryHDU(),
                  fits.ImageHDU(blob_image((64, 64), [(31.5, 31.5)], seed=1), name="STAMP1"),
                  fits.ImageHDU(np.stack([blob_image((64, 64), [], seed=s) for s in (2, 3)]), name="STAMPS"),
                  fits.ImageHDU(np.ones((64, 64), np.float32), name="ERR")]).writeto(path)
    out = tmp_path / "all.ecsv"
    assert _run(["--cutouts-in", path, "-o", out, "-q"]).exit_code == 0
    table = Table.read(out)
    assert list(table["plane"]) == ["STAMP1", "STAMPS", "STAMPS"] and list(table["index"]) == [0, 0, 1]
    assert list(table["id"]) == [1, 2, 3] and list(table["candidate"]) == [True, False, False]
    assert _run(["--cutouts-in", path, "--ext", "STAMPS", "-o", tmp_path / "one.ecsv", "-q"]).exit_code == 0
    assert list(Table.read(tmp_path / "one.ecsv")["plane"]) == ["STAMPS", "STAMPS"]


def test_clean_cosmics_scores_a_cutout_without_its_hit_and_leaves_a_blob_alone():
    hit = blob_image((96, 96), [], seed=4)
    hit[40, 30:42] += 150.0  # a cosmic-ray track and nothing else
    blob = blob_image((96, 96), [(47.5, 47.5)], seed=6)
    cutouts = np.stack([hit, blob])
    raw = LensFinder(network=BlobDetector()).load().score_cutouts(cutouts)
    cleaned = LensFinder(network=BlobDetector(), clean_cosmics=True).load().score_cutouts(cutouts)
    assert raw[0].score > 0.99 and cleaned[0].score == 0.0
    assert cleaned[1].score > 0.99 and cleaned[1].box == pytest.approx(raw[1].box)
