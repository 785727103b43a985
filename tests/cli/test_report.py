"""`crclean mask --report FILE`: one row per file and image, as JSON or ECSV, written atomically."""

import json

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from click.testing import CliRunner

from crclean.cli import main
from crclean.weights import AUTO_MODELS

COLUMNS = ["input", "output", "extension", "status", "message", "model", "threshold", "grow_threshold", "star_check",
           "axis_tracks", "flagged", "flagged_fraction", "section", "seconds", "device"]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def batch(hst_fits, ground_fits, tmp_path):
    """An HST file (two SCI), a ground frame whose output exists, and a file that is not FITS."""
    broken = tmp_path / "broken.fits"
    broken.write_text("not FITS")
    existing = tmp_path / "ground_crclean.fits"
    existing.write_bytes(b"done earlier")
    return hst_fits[0], ground_fits[0], broken


def test_json_report_rows_even_when_a_file_fails(batch, tmp_path):
    hst, ground, broken = batch
    report = tmp_path / "reports" / "run.json"
    report.parent.mkdir()
    report.write_text("[]")  # a report of an earlier run is replaced
    result = run("mask", hst, ground, broken, "--skip-existing", "--threshold", 0.6, "--report", report)
    assert result.exit_code == 1, result.output
    assert sorted(path.name for path in report.parent.iterdir()) == ["run.json"]  # no temporary left
    rows = json.loads(report.read_text())
    assert [list(row) for row in rows] == [COLUMNS] * 4
    assert [(row["input"], row["extension"], row["status"]) for row in rows] == [
        (str(hst), "SCI,1", "done"), (str(hst), "SCI,2", "done"), (str(ground), None, "skipped"),
        (str(broken), None, "failed")]
    with fits.open(tmp_path / "hst_flc_crclean.fits") as hdul:
        for row, extver in zip(rows[:2], (1, 2)):
            flagged = ((hdul["DQ", extver].data & 8192) > 0).sum()
            assert row["output"] == str(tmp_path / "hst_flc_crclean.fits")
            assert row["flagged"] == hdul["SCI", extver].header["NCRPIX"] == flagged > 0
            assert row["flagged_fraction"] == flagged / (128 * 160)
            assert row["model"] == AUTO_MODELS["space"] and row["device"] == "cpu" and row["threshold"] == 0.6
            assert row["seconds"] > 0 and row["section"] is None and row["message"] is None
    assert rows[2]["output"] == str(tmp_path / "ground_crclean.fits")
    assert rows[2]["message"] == "the output exists; left as it was (--skip-existing)"
    assert rows[3]["message"].startswith(f"{broken} is not a readable FITS file")
    assert rows[3]["model"] is None and rows[3]["flagged"] is None and rows[3]["threshold"] == 0.6
    assert [row["grow_threshold"] for row in rows] == [None] * 4  # not grown


def test_report_records_grown_masks(ground_fits, tmp_path):
    """Masks grown with --grow-threshold say so in every row, as CRGROW does in the header."""
    path, _ = ground_fits
    report = tmp_path / "run.json"
    missing = tmp_path / "missing.fits"
    result = run("mask", path, missing, "-q", "--grow-threshold", 0.2, "--report", report)
    assert result.exit_code == 1, result.output
    rows = json.loads(report.read_text())
    assert [(row["status"], row["grow_threshold"]) for row in rows] == [("done", 0.2), ("failed", 0.2)]
    assert [row["axis_tracks"] for row in rows] == [True, True]  # the default search, in every row
    assert [row["star_check"] for row in rows] == [True, True]
    assert rows[0]["flagged"] == fits.getheader(tmp_path / "ground_crclean.fits")["NCRPIX"]
    assert fits.getheader(tmp_path / "ground_crclean.fits")["CRGROW"] == 0.2


def test_ecsv_report_has_the_same_rows_with_missing_values_masked(batch, tmp_path):
    hst, ground, broken = batch
    report = tmp_path / "run.ecsv"
    assert run("mask", hst, ground, broken, "--skip-existing", "-q", "--report", report).exit_code == 1
    table = Table.read(report, format="ascii.ecsv")
    assert table.colnames == COLUMNS
    assert list(table["status"]) == ["done", "done", "skipped", "failed"]
    assert list(table["extension"][:2]) == ["SCI,1", "SCI,2"] and table["extension"].mask[2:].all()
    assert table["flagged"].dtype.kind == "i" and table["flagged"].mask.tolist() == [False, False, True, True]
    assert table["flagged"][0] == fits.getheader(tmp_path / "hst_flc_crclean.fits", ("SCI", 1))["NCRPIX"]
    assert table.meta["crclean_version"]


def test_a_run_without_the_axis_track_search_says_so_in_its_report(ground_fits, tmp_path):
    path, _ = ground_fits
    report = tmp_path / "run.ecsv"
    assert run("mask", path, "-q", "--no-axis-tracks", "--report", report).exit_code == 0
    table = Table.read(report, format="ascii.ecsv")
    assert table["axis_tracks"].dtype.kind == "b" and list(table["axis_tracks"]) == [False]
    assert fits.getheader(tmp_path / "ground_crclean.fits")["CRAXTRK"] is False
    assert list(table["star_check"]) == [True]


def test_a_run_without_the_star_check_says_so_in_its_report(ground_fits, tmp_path):
    path, _ = ground_fits
    report = tmp_path / "run.json"
    assert run("mask", path, "-q", "--no-star-check", "--report", report).exit_code == 0
    assert [row["star_check"] for row in json.loads(report.read_text())] == [False]
    assert fits.getheader(tmp_path / "ground_crclean.fits")["CRSTARS"] is False


def test_report_with_another_ending_is_a_usage_error_before_any_work(ground_fits, tmp_path):
    path, _ = ground_fits
    result = run("mask", path, "--report", tmp_path / "run.csv")
    assert result.exit_code == 2
    assert "must end in .json or .ecsv, got '.csv'" in result.output
    assert not (tmp_path / "ground_crclean.fits").exists()


def test_report_in_a_missing_folder_fails_before_any_work(ground_fits, tmp_path):
    path, _ = ground_fits
    result = run("mask", path, "--report", tmp_path / "nowhere" / "run.json")
    assert result.exit_code == 1
    assert "output folder does not exist" in result.output
    assert not (tmp_path / "ground_crclean.fits").exists()


def test_report_of_a_run_that_cannot_start(ground_fits, tmp_path, monkeypatch):
    """A run that cannot start (here: the model fails to load) still leaves its report: every file not processed."""
    from crclean import clean
    from crclean.exceptions import ModelError

    def broken_load(self):
        raise ModelError("weights missing; reinstall crclean")

    monkeypatch.setattr(clean.Cleaner, "load", broken_load)
    path, _ = ground_fits
    report = tmp_path / "run.json"
    result = run("mask", path, "-q", "--report", report)
    assert result.exit_code == 1
    assert "crclean: error: weights missing; reinstall crclean" in result.output
    rows = json.loads(report.read_text())
    assert [(row["status"], row["message"]) for row in rows] == [
        ("failed", "not processed: the run failed: weights missing; reinstall crclean")]
    assert np.isclose(rows[0]["threshold"], 0.5) and rows[0]["grow_threshold"] is None
