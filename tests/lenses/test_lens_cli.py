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
    # A stand-in detector and no second stage: scores are the detector's.
    monkeypatch.setattr("crclean.lenses._finder.load_lens_network", lambda spec, device: BlobDetector())
    monkeypatch.setattr("crclean.lenses._finder.load_vetter_network", lambda spec, device: None)


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
    assert f"crclean: error: lens model '{DEFAULT_LENS_MODEL}' has no trained weights" in result.output
    assert "crclean train lenses" in result.output


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
