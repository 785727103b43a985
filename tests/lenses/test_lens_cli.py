"""``crclean lenses`` on the command line: outputs, and every error path."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from click.testing import CliRunner
from lens_fixtures import BlobDetector, blob_image, tan_wcs

from crclean.cli._lenses import lenses_command
from crclean.lenses._manifest import DEFAULT_LENS_MODEL


@pytest.fixture
def tile(tmp_path):
    shape = (200, 220)
    header = tan_wcs(shape, 0.2).to_header()
    path = tmp_path / "tile.fits"
    fits.PrimaryHDU(blob_image(shape, [(50.0, 60.0), (150.0, 140.0)], seed=5), header).writeto(path)
    return path


@pytest.fixture
def fake_weights(monkeypatch):
    # A stand-in detector: scores are its own.
    monkeypatch.setattr("crclean.lenses._finder.load_lens_network", lambda spec, device: BlobDetector())


def _run(args, **kwargs):
    return CliRunner().invoke(lenses_command, [str(a) for a in args], catch_exceptions=False, **kwargs)


def test_writes_catalogue_regions_and_cutouts(tmp_path, tile, fake_weights):
    out = tmp_path / "cat.ecsv"
    result = _run([tile, "-o", out, "--regions", tmp_path / "c.reg", "--cutouts", tmp_path / "cuts", "-q"])
    assert result.exit_code == 0, result.output
    table = Table.read(out)
    assert len(table) == 2 and table.meta["model"] == DEFAULT_LENS_MODEL and table.meta["views"] == 4
    assert np.all(np.isfinite(table["ra"]))
    assert (tmp_path / "c.reg").read_text().count("circle(") == 2
    assert sorted(p.name for p in (tmp_path / "cuts").iterdir()) == ["lens_00001.png", "lens_00002.png", "mosaic.png"]


def test_one_or_eight_views_find_the_same_candidates(tmp_path, tile, fake_weights):
    result = _run([tile, "--views", "1", "-o", tmp_path / "one.ecsv", "-q"])
    assert result.exit_code == 0, result.output
    one = Table.read(tmp_path / "one.ecsv")
    assert one.meta["views"] == 1
    assert _run([tile, "-o", tmp_path / "four.ecsv", "-q"]).exit_code == 0
    four = Table.read(tmp_path / "four.ecsv")
    assert np.allclose(np.sort(one["x"]), np.sort(four["x"]), atol=0.5)
    assert _run([tile, "--views", "8", "-o", tmp_path / "eight.ecsv", "-q"]).exit_code == 0
    eight = Table.read(tmp_path / "eight.ecsv")
    assert eight.meta["views"] == 8
    assert np.allclose(np.sort(eight["x"]), np.sort(four["x"]), atol=0.5)
    assert _run([tile, "--views", "2"]).exit_code == 2


def test_prints_the_catalogue_without_output(tile, fake_weights):
    result = _run([tile, "-q"])
    assert result.exit_code == 0
    assert "theta_e_arcsec" in result.stdout and len(result.stdout.strip().splitlines()) == 5  # names, units, rule, 2 rows


def test_a_broken_wcs_is_a_note_and_the_tile_is_still_searched(tmp_path, fake_weights):
    shape = (200, 220)
    header = tan_wcs(shape, 0.2).to_header()
    header["CTYPE1"], header["CTYPE2"], header["A_ORDER"] = "RA---TAN-SIP", "DEC--TAN-SIP", 2  # no B_ORDER
    path = tmp_path / "broken.fits"
    fits.PrimaryHDU(blob_image(shape, [(50.0, 60.0), (150.0, 140.0)], seed=5), header).writeto(path)
    result = _run([path, "-o", tmp_path / "cat.ecsv"])
    assert result.exit_code == 0, result.output
    assert (f"crclean: note: {path}[HDU 0]: its WCS keywords cannot be read (ValueError: A_ORDER provided "
            "without corresponding B_ORDER keyword for SIP distortion); searched without a WCS, so ra/dec are "
            "left empty") in result.stderr
    table = Table.read(tmp_path / "cat.ecsv")
    assert len(table) == 2 and np.all(np.isnan(table["ra"]))


def test_no_tile_is_a_usage_error():
    result = _run([])
    assert result.exit_code == 2 and "no TILE given" in result.output


def test_bad_output_suffix_is_a_usage_error(tile, tmp_path):
    result = _run([tile, "-o", tmp_path / "cat.txt"])
    assert result.exit_code == 2 and "must end in .ecsv, .csv or .fits" in result.output


def test_missing_weights_fail_clearly(tile, tmp_path, monkeypatch):
    monkeypatch.setattr("crclean.weights.SHIPPED_WEIGHTS_DIR", tmp_path / "empty")
    result = _run([tile, "-q"])
    assert result.exit_code == 1
    assert (f"crclean: error: weights of lens model '{DEFAULT_LENS_MODEL}' not found at "
            f"{tmp_path / 'empty' / (DEFAULT_LENS_MODEL + '.pt')}; reinstall crclean") in result.output


def test_a_removed_model_names_its_replacements(tile):
    result = _run([tile, "--model", "rtdetr-lens-v17", "-q"])
    assert result.exit_code == 2
    assert ("lens model 'rtdetr-lens-v17' was removed in crclean 0.2; use rtdetr-lens-v9 (one band) or "
            "rtdetr-lens-v20 (g, r, i)") in result.output


def test_existing_output_is_not_replaced(tile, tmp_path, fake_weights):
    out = tmp_path / "cat.csv"
    out.write_text("keep me")
    result = _run([tile, "-o", out])
    assert result.exit_code == 1 and f"crclean: error: {out} exists; pass --overwrite to replace it" in result.output
    assert out.read_text() == "keep me"
    assert _run([tile, "-o", out, "--overwrite", "-q"]).exit_code == 0


def test_a_bad_file_fails_alone(tile, tmp_path, fake_weights):
    missing = tmp_path / "missing.fits"
    out = tmp_path / "cat.fits"
    result = _run([tile, missing, "-o", out])
    assert result.exit_code == 1
    assert f"crclean: error: {missing}: no such file; check the path" in result.stderr
    assert len(Table.read(out)) == 2  # the good tile is still catalogued
    assert "1 of 2 tiles searched, 1 failed" in result.stderr


def test_paths_from_stdin(tile, fake_weights):
    result = _run(["-", "-q"], input=f"# a list\n{tile}\n\n")
    assert result.exit_code == 0 and "tile.fits" in result.stdout


def _plain_tile(path, **keywords):
    """The blob tile with no WCS, its header holding ``keywords``."""
    header = fits.Header()
    for key, value in keywords.items():
        header[key] = value
    fits.PrimaryHDU(blob_image((200, 220), [(50.0, 60.0), (150.0, 140.0)], seed=5), header).writeto(path)
    return path


def _box_widths(result, path):
    assert result.exit_code == 0, result.output
    table = Table.read(path)
    assert len(table) == 2 and np.all(np.isnan(table["ra"]))
    return np.asarray(table["xmax"] - table["xmin"] + 1)  # pixel edges, as in test_lens_finder


# BlobDetector boxes are 16 model pixels of 0.2 arcsec: 16 * 0.2 / 0.27 = 11.85 pixels of a 0.27 arcsec tile.
_AT_027 = 16 * 0.2 / 0.27


def test_a_tile_without_wcs_is_searched_at_its_header_pixel_scale(tmp_path, fake_weights):
    plain = _plain_tile(tmp_path / "plain.fits", PIXSCALE=0.27)
    result = _run([plain, "-o", tmp_path / "c.ecsv"])
    assert np.allclose(_box_widths(result, tmp_path / "c.ecsv"), _AT_027, atol=0.5)
    assert f"{plain} has no celestial WCS; searched at 0.27 arcsec/pixel from its PIXSCALE keyword(s)" in result.stderr
    pair = _plain_tile(tmp_path / "pair.fits", PIXSCAL1=-0.27, PIXSCAL2=0.27)
    assert np.allclose(_box_widths(_run([pair, "-o", tmp_path / "p.ecsv", "-q"]), tmp_path / "p.ecsv"),
                       _AT_027, atol=0.5)
    # Without any scale the model's 0.2 is assumed, and said.
    bare = _plain_tile(tmp_path / "bare.fits")
    result = _run([bare, "-o", tmp_path / "b.ecsv"])
    assert np.allclose(_box_widths(result, tmp_path / "b.ecsv"), 16, atol=0.5)
    assert "assumed the model's 0.2 arcsec/pixel" in result.stderr


def test_pixel_scale_option_beats_the_header_but_not_a_wcs(tmp_path, tile, fake_weights):
    plain = _plain_tile(tmp_path / "plain.fits", SECPIX=0.2)
    result = _run([plain, "--pixel-scale", "0.27", "-o", tmp_path / "c.ecsv"])
    assert np.allclose(_box_widths(result, tmp_path / "c.ecsv"), _AT_027, atol=0.5)
    assert "searched at --pixel-scale 0.27 arcsec/pixel" in result.stderr
    result = _run([tile, "--pixel-scale", "0.27", "-o", tmp_path / "w.ecsv"])
    assert result.exit_code == 0 and f"{tile}: --pixel-scale 0.27 ignored; its WCS gives 0.2 arcsec/pixel" in result.stderr
    table = Table.read(tmp_path / "w.ecsv")
    assert np.allclose(table["xmax"] - table["xmin"] + 1, 16, atol=0.5) and np.all(np.isfinite(table["ra"]))
    assert _run([plain, "--pixel-scale", "0"]).exit_code == 2


def test_a_broken_pixel_scale_keyword_fails_its_file_unless_overridden(tmp_path, fake_weights):
    broken = _plain_tile(tmp_path / "broken.fits", PIXSCALE="unknown")
    out = tmp_path / "c.ecsv"
    result = _run([broken, "-o", out])
    assert result.exit_code == 1 and not out.exists()
    assert (f"crclean: error: {broken}: header keyword PIXSCALE = 'unknown' is not a pixel scale in arcsec "
            "(0.01-10.0); pass the scale with --pixel-scale") in result.stderr
    assert np.allclose(_box_widths(_run([broken, "--pixel-scale", "0.27", "-o", out, "-q"]), out), _AT_027, atol=0.5)


def test_blank_markers_are_missing_data_not_pixels(tmp_path, fake_weights):
    # -1e30 marks pixels without data in some pipelines; read as data it swamps the sky and noise.
    image = blob_image((200, 220), [(90.0, 60.0), (150.0, 140.0)], seed=5)
    image[:, :40] = -1e30
    path = tmp_path / "blank.fits"
    fits.PrimaryHDU(image, tan_wcs(image.shape, 0.2).to_header()).writeto(path)
    result = _run([path, "-o", tmp_path / "c.ecsv"])
    assert result.exit_code == 0, result.output
    table = Table.read(tmp_path / "c.ecsv")
    assert len(table) == 2 and np.all(table["xmin"] >= 40)
    assert (f"crclean: warning: {path}: 8000 pixels of magnitude 1e+20 or more (blank markers such as -1e30) "
            "are treated as missing data") in result.stderr


def test_clean_cosmics_takes_out_a_hit_the_detector_would_report(tmp_path, fake_weights):
    shape = (200, 220)
    image = blob_image(shape, [(50.0, 60.0), (150.0, 140.0)], seed=5)
    image[120, 40:52] += 150.0  # a thin cosmic-ray track, far from both blobs
    image[121, 52:58] += 150.0
    path = tmp_path / "exposure.fits"
    fits.PrimaryHDU(image, tan_wcs(shape, 0.2).to_header()).writeto(path)
    before = path.read_bytes()

    assert _run([path, "-o", tmp_path / "raw.ecsv", "-q"]).exit_code == 0
    raw = Table.read(tmp_path / "raw.ecsv")
    assert len(raw) == 3 and raw.meta["cosmics"] == "none"
    assert np.any(np.abs(raw["y"] - 120.5) < 3)  # the stand-in detector takes the track for a candidate

    result = _run([path, "--clean-cosmics", "-o", tmp_path / "clean.ecsv", "-q"])
    assert result.exit_code == 0, result.output
    clean = Table.read(tmp_path / "clean.ecsv")
    assert clean.meta["cosmics"] == "crclean-ccd"
    assert sorted(np.round(clean["x"]).astype(int).tolist()) == [50, 150]
    assert path.read_bytes() == before
