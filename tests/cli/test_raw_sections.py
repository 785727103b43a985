"""Raw frames: only the data section (TRIMSEC/DATASEC/BIASSEC) is searched; `--no-trim` searches everything."""

import numpy as np
from astropy.io import fits
from click.testing import CliRunner

from crclean.cli import main
from extras import requires_deepcr
from synthetic import synthetic_exposure


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@requires_deepcr
def test_saao_frame_is_searched_in_its_trimsec_only(saao_raw, tmp_path):
    # a8280271.fits: 536x520, TRIMSEC [17:528,1:520], BIASSEC [4:13,1:520]. Searched whole,
    # deepCR's DECam network flags a stripe along the step at the data's left and right borders.
    raw_header = fits.getheader(saao_raw)
    assert raw_header["TRIMSEC"].replace(" ", "") == "[17:528,1:520]" and "BIASSEC" in raw_header
    trimmed, whole = tmp_path / "trimmed.fits", tmp_path / "whole.fits"
    assert run("mask", saao_raw, "-o", trimmed, "--model", "deepcr-decam", "--prob", "-q").exit_code == 0
    assert run("mask", saao_raw, "-o", whole, "--model", "deepcr-decam", "--no-trim", "-q").exit_code == 0
    with fits.open(trimmed) as out, fits.open(whole) as untrimmed, fits.open(saao_raw) as raw:
        flagged = (out["DQ"].data & 8192) > 0
        border = (untrimmed["DQ"].data & 8192) > 0
        data = np.s_[:, 16:528]
        outside = np.ones(flagged.shape, bool)
        outside[data] = False
        # --no-trim: hundreds of pixels in the columns at the data's borders.
        assert border[:, 16:18].sum() + border[:, 526:528].sum() > 500
        # Trimmed: no stripe, nothing flagged outside, prescan and overscan byte for byte.
        assert flagged[:, 16:18].sum() + flagged[:, 526:528].sum() < 20
        assert not flagged[outside].any() and (out["CRPROB"].data[outside] == 0).all()
        np.testing.assert_array_equal(out[0].data[outside], raw[0].data[outside])
        assert out[0].data.dtype == raw[0].data.dtype
        assert out[0].header["CRSECT"] == "[17:528,1:520]"
        assert out[0].header["NCRPIX"] == flagged.sum() > 0
        assert "CRSECT" not in untrimmed[0].header


def amplifier_mef(path):
    """Two amplifiers, one extension each: the first with overscan on the right (DATASEC + BIASSEC), the
    second read out from the other side, prescan on the left (TRIMSEC, reversed, + BIASSEC). Hot spikes
    sit in the overscan, where only --no-trim may flag them."""
    hdus = [fits.PrimaryHDU(header=fits.Header({"TELESCOP": "Test 1m", "GAIN": 2.0, "RDNOISE": 5.0}))]
    truths, overscans = [], []
    for amp, (data, bias, keywords) in enumerate([
            (np.s_[:, :96], np.s_[:, 96:], {"DATASEC": "[1:96,1:80]", "BIASSEC": "[97:112,1:80]"}),
            (np.s_[:, 16:], np.s_[:, :16], {"TRIMSEC": "[112:17,1:80]", "BIASSEC": "[1:16,1:80]"})], start=1):
        image, truth = synthetic_exposure((80, 96), seed=60 + amp, sky=300.0, gain=2.0, n_stars=4, n_rays=12)
        frame = np.full((80, 112), 1000.0, np.float32)
        frame += np.random.default_rng(amp).normal(0.0, 2.5, frame.shape).astype(np.float32)
        frame[data] += image
        overscan = np.zeros(frame.shape, bool)
        overscan[bias] = True
        spikes = np.zeros(frame.shape, bool)
        spikes[bias][::9, 9] = True  # one-pixel spikes, like a cosmic ray hit
        frame[spikes] += 3000.0
        full_truth = np.zeros(frame.shape, bool)
        full_truth[data] = truth
        hdus.append(fits.ImageHDU(frame, fits.Header(keywords), name=f"AMP{amp}"))
        truths.append(full_truth)
        overscans.append(overscan)
    fits.HDUList(hdus).writeto(path)
    return truths, overscans


def test_mef_with_per_amplifier_sections(tmp_path):
    path = tmp_path / "amps.fits"
    truths, overscans = amplifier_mef(path)
    out, whole = tmp_path / "amps_out.fits", tmp_path / "amps_whole.fits"
    result = run("mask", path, "-o", out, "--model", "crclean-ground", "--report", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    assert run("mask", path, "-o", whole, "--model", "crclean-ground", "--no-trim", "-q").exit_code == 0
    found_whole = 0
    with fits.open(out) as hdul, fits.open(whole) as untrimmed, fits.open(path) as raw:
        assert [h.name for h in hdul] == ["PRIMARY", "AMP1", "AMP2", "DQ", "DQ"]
        for amp, (truth, overscan) in enumerate(zip(truths, overscans), start=1):
            image = hdul[f"AMP{amp}"]
            flagged = hdul["DQ", amp].data > 0
            assert not flagged[overscan].any()
            np.testing.assert_array_equal(image.data[overscan], raw[f"AMP{amp}"].data[overscan])
            assert (flagged & truth).sum() / truth.sum() > 0.8
            assert image.header["CRSECT"] == ("[1:96,1:80]" if amp == 1 else "[17:112,1:80]")
            found_whole += ((untrimmed["DQ", amp].data > 0) & overscan).sum()
    # Searched whole, spikes in the overscan are flagged (9 in AMP1): the checks above could fail.
    assert found_whole >= 5
    import json

    rows = json.loads((tmp_path / "r.json").read_text())
    assert [(row["extension"], row["section"]) for row in rows] == [("AMP1", "[1:96,1:80]"),
                                                                      ("AMP2", "[17:112,1:80]")]
    assert all(row["flagged_fraction"] == row["flagged"] / (96 * 80) for row in rows)


def test_bad_section_keyword_warns_and_searches_the_whole_image(tmp_path):
    image, _ = synthetic_exposure((64, 80), seed=70)
    path = tmp_path / "odd.fits"
    fits.writeto(path, image, fits.Header({"DATASEC": "[1:200,1:64]"}))
    result = run("mask", path, "-q")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"crclean: warning: DATASEC '[1:200,1:64]' of {path.name}[HDU 0] is ignored: it runs past the 80x64 "
        "pixel image; searching without it"]
    assert "CRSECT" not in fits.getheader(tmp_path / "odd_crclean.fits")
