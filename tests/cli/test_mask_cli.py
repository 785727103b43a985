"""`crclean mask` end to end through click's CliRunner."""

import hashlib
import os

import numpy as np
import pytest
from astropy.io import fits
from click.testing import CliRunner

from crclean import __version__
from crclean.cli import main
from crclean.weights import DEFAULT_MODEL
from extras import requires_deepcr


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_single_ground_frame(ground_fits):
    path, truth = ground_fits
    before = digest(path)
    result = run("mask", path, "--prob")
    assert result.exit_code == 0, result.output
    out = path.with_name("ground_crclean.fits")
    assert f"{path} -> {out}" in result.output and "pixels flagged" in result.output
    assert digest(path) == before
    with fits.open(out) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "DQ", "CRPROB"]
        dq = hdul["DQ"].data
        assert dq.dtype == np.uint16 and hdul["DQ"].header["EXTVER"] == 1
        flagged = (dq & 8192) > 0
        assert (flagged & truth).sum() / truth.sum() > 0.9
        assert hdul[0].header["NCRPIX"] == flagged.sum()
        assert hdul[0].header["CRMODEL"] == DEFAULT_MODEL == "crclean-ccd"
        assert hdul[0].header["CRVERS"] == __version__
        assert "crclean" in str(hdul[0].header["HISTORY"])
        prob = hdul["CRPROB"].data
        assert prob.dtype.byteorder in (">", "=") and prob.dtype.kind == "f" and prob.dtype.itemsize == 4
        # The flags are the network's above 0.5, less those the star check took back (docs/output.md): here
        # one on a star's wing, which is no hit.
        assert not (flagged & (prob <= 0.5)).any()
        taken_back = (prob > 0.5) & ~flagged
        assert taken_back.sum() <= 0.01 * flagged.sum() and not (taken_back & truth).any()
        original = fits.getdata(path)
        np.testing.assert_array_equal(hdul[0].data[~flagged], original[~flagged])
        hits = flagged & truth
        assert (hdul[0].data[hits] < original[hits]).mean() > 0.95


def test_grown_masks_add_pixels_beside_the_flags_and_say_so(tmp_path):
    from crclean.training import PROFILES, simulate_exposure

    # Thick-CCD hits have wide, faint wings for growth to take in (the synthetic frame's short bars have none).
    exposure = simulate_exposure((256, 256), seed=3, profile=PROFILES["ground_thick"], fwhm=3.0, cr_rate=10.0)
    path = tmp_path / "thick.fits"
    fits.PrimaryHDU(exposure.image_adu.astype(np.float32)).writeto(path)
    plain, grown = tmp_path / "plain.fits", tmp_path / "grown.fits"
    assert run("mask", path, "-o", plain, "-q", "--prob").exit_code == 0
    result = run("mask", path, "-o", grown, "-q", "--grow-threshold", "0.05")
    assert result.exit_code == 0, result.output
    with fits.open(plain) as before, fits.open(grown) as after:
        was, now = (before["DQ"].data & 8192) > 0, (after["DQ"].data & 8192) > 0
        assert (now >= was).all() and now.sum() > was.sum()
        probability = before["CRPROB"].data
        assert (probability[now & ~was] > 0.05).all()
        assert after[0].header["CRGROW"] == 0.05 and "CRGROW" not in before[0].header
        assert after[0].header["NCRPIX"] == now.sum()
        assert "grown to 0.05" in str(after[0].header["HISTORY"])


def test_long_tracks_along_a_column_are_flagged_unless_asked_not_to(tmp_path):
    from crclean.training._cosmic_sim import render_charge

    # A muon that crossed a thick CCD along its columns: 160 px, its charge straggling from pixel to pixel.
    rng = np.random.default_rng(14)
    shape, sky, sigma = (320, 256), 1000.0, np.sqrt(1036.0)
    t = np.linspace(0, 1, 8 * 160)
    charge = rng.gamma(2.0, 20 * sigma, 161)[(t * 160).astype(int)] / 8
    cr = render_charge(shape, 128.3 + t * 160 * np.cos(np.deg2rad(89.0)), 70 + t * 160, charge, 0.7)
    image = (rng.poisson(sky + cr) + rng.normal(0, 6.0, shape)).astype(np.float32)
    path = tmp_path / "track.fits"
    fits.PrimaryHDU(image, header=fits.Header({"GAIN": 1.0, "BUNIT": "electron"})).writeto(path)
    searched, plain = tmp_path / "searched.fits", tmp_path / "plain.fits"
    assert run("mask", path, "-o", searched, "-q").exit_code == 0
    result = run("mask", path, "-o", plain, "-q", "--no-axis-tracks")
    assert result.exit_code == 0, result.output
    bright = cr > 10 * sigma
    with fits.open(searched) as with_search, fits.open(plain) as without:
        found, left = (with_search["DQ"].data & 8192) > 0, (without["DQ"].data & 8192) > 0
        assert (found & bright).sum() > 0.95 * bright.sum() > (left & bright).sum() + 0.2 * bright.sum()
        assert with_search[0].header["CRAXTRK"] is True and without[0].header["CRAXTRK"] is False
        assert with_search[0].header["NCRPIX"] == found.sum()


def test_no_inpaint_keeps_data(ground_fits, tmp_path):
    path, _ = ground_fits
    out = tmp_path / "flags_only.fits"
    assert run("mask", path, "-o", out, "--no-inpaint", "-q").exit_code == 0
    with fits.open(out) as hdul:
        np.testing.assert_array_equal(hdul[0].data, fits.getdata(path))
        assert hdul[0].header["CRINPNT"] in ("none", "off")
        assert hdul["DQ"].data.any()


@requires_deepcr
def test_hst_triplets_or_into_existing_dq(hst_fits, tmp_path):
    path, truths = hst_fits
    # --outdir is created when missing.
    result = run("mask", path, "--model", "deepcr-acs-wfc", "--dq-bit", "4096", "--outdir", tmp_path / "out")
    assert result.exit_code == 0, result.output
    with fits.open(tmp_path / "out" / "hst_flc_crclean.fits") as hdul:
        names = [(h.name, h.ver) for h in hdul]
        assert names == [("PRIMARY", 1), ("SCI", 1), ("ERR", 1), ("DQ", 1), ("SCI", 2), ("ERR", 2), ("DQ", 2)]
        for extver, truth in zip((1, 2), truths):
            dq = hdul["DQ", extver].data
            assert np.all(dq[0] & 4 == 4)  # the pipeline's bits are kept
            hits = (dq & 4096) > 0
            assert hits.any() and hdul["SCI", extver].header["NCRPIX"] == hits.sum()
            assert (hits & truth).sum() / truth.sum() > 0.7


@requires_deepcr
def test_ext_selects_one_extension(hst_fits, tmp_path):
    path, _ = hst_fits
    out = tmp_path / "one.fits"
    result = run("mask", path, "--ext", "SCI,2", "-o", out, "--model", "deepcr-acs-wfc")
    assert result.exit_code == 0, result.output
    with fits.open(out) as hdul:
        assert "NCRPIX" not in hdul["SCI", 1].header
        assert "NCRPIX" in hdul["SCI", 2].header


def test_real_raw_uint16_frame_keeps_its_type(saao_raw):
    result = run("mask", saao_raw, "-q")
    assert result.exit_code == 0, result.output
    assert result.output == ""
    with fits.open(saao_raw.with_name("a8280271_crclean.fits")) as out, fits.open(saao_raw) as raw:
        assert out[0].data.dtype == raw[0].data.dtype
        assert out[0].header["GAIN"] == raw[0].header["GAIN"]
        assert out["DQ"].data.shape == raw[0].data.shape


def test_compressed_input_gives_compressed_output(ground_fits, tmp_path):
    path, _ = ground_fits
    packed = tmp_path / "packed.fits.fz"
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(np.round(fits.getdata(path)).astype(np.int32),
                                                       compression_type="RICE_1")]).writeto(packed)
    assert run("mask", packed, "-q").exit_code == 0
    with fits.open(tmp_path / "packed_crclean.fits.fz") as hdul:
        assert isinstance(hdul[1], fits.CompImageHDU)
        assert hdul[1].header["NCRPIX"] > 0


def test_nan_pixels_stay_nan_and_are_not_flagged(ground_fits, tmp_path):
    path, _ = ground_fits
    data = fits.getdata(path)
    data[40:50, 60:70] = np.nan
    holed = tmp_path / "holed.fits"
    fits.writeto(holed, data)
    assert run("mask", holed, "-q").exit_code == 0
    with fits.open(tmp_path / "holed_crclean.fits") as hdul:
        assert np.isnan(hdul[0].data[40:50, 60:70]).all()
        assert not hdul["DQ"].data[40:50, 60:70].any()
        flagged = hdul["DQ"].data > 0
        assert np.isfinite(hdul[0].data[flagged]).all()


def test_existing_output_needs_overwrite(ground_fits):
    path, _ = ground_fits
    out = path.with_name("ground_crclean.fits")
    out.write_bytes(b"precious")
    result = run("mask", path)
    assert result.exit_code == 1
    assert f"{out} exists; pass --overwrite to replace it" in result.output
    assert out.read_bytes() == b"precious"
    assert run("mask", path, "--overwrite", "-q").exit_code == 0
    assert fits.getheader(out)["NCRPIX"] >= 0


def test_a_bad_input_does_not_stop_the_others(ground_fits, tmp_path):
    path, _ = ground_fits
    broken = tmp_path / "broken.fits"
    broken.write_text("this is not FITS")
    missing = tmp_path / "missing.fits"
    outdir = tmp_path / "clean"
    outdir.mkdir()
    result = run("mask", broken, missing, path, "--outdir", outdir)
    assert result.exit_code == 1
    assert "broken.fits" in result.output and "missing.fits" in result.output
    assert (outdir / "ground_crclean.fits").exists()
    assert sorted(p.name for p in outdir.iterdir()) == ["ground_crclean.fits"]  # nothing partial


def test_paths_from_stdin(ground_fits, tmp_path):
    path, _ = ground_fits
    other = tmp_path / "other.fits"
    fits.writeto(other, fits.getdata(path)[::-1].copy(), fits.getheader(path))
    result = run("mask", "-", "-q", input=f"{path}\n\n# a comment\n{other}\n")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ground_crclean.fits").exists() and (tmp_path / "other_crclean.fits").exists()


def test_quicklook_png(ground_fits, tmp_path):
    path, _ = ground_fits
    out = tmp_path / "look.fits"
    assert run("mask", path, "-o", out, "--quicklook", "-q").exit_code == 0
    png = (tmp_path / "look.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width > 3 * 200 and height > 2 * 150  # three panels wide, overview and zoom


def test_quicklook_region(ground_fits, tmp_path):
    path, _ = ground_fits
    result = run("mask", path, "-o", tmp_path / "zoom.fits", "--quicklook-region", "[11:60,21:70]", "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "zoom.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # the region implies --quicklook
    result = run("mask", path, "-o", tmp_path / "bad.fits", "--quicklook-region", "11:60,21:70")
    assert result.exit_code == 2
    assert "Invalid value for '--quicklook-region': '11:60,21:70' is not a FITS section" in result.output
    result = run("mask", path, "-o", tmp_path / "far.fits", "--quicklook-region", "[901:950,21:70]", "-q")
    assert result.exit_code == 1
    assert (f"crclean: error: {path}: the quick-look region [901:950,21:70] lies outside the 200x150 pixel image; "
            "choose a quick-look region inside it") in result.output
    assert not (tmp_path / "far.fits").exists() and not (tmp_path / "far.png").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["-o", "x.fits", "a.fits", "b.fits"], "-o/--output takes a single INPUT, got 2"),
        (["--dq-bit", "3", "a.fits"], "must be a power of two"),
        (["--tile-size", "100", "a.fits"], "tile_size must be a positive integer and a multiple of 16"),
        (["--model", "nope", "a.fits"], "'nope' is not one of"),
        (["--grow-threshold", "0.6", "a.fits"], "--grow-threshold: must be below --threshold (0.5), got 0.6"),
        ([], "no INPUT given"),
    ],
)
def test_usage_errors_exit_2(args, message):
    result = run("mask", *args)
    assert result.exit_code == 2
    assert message in result.output


def test_bad_files_each_get_one_clear_line(tmp_path):
    not_fits = tmp_path / "notes.fits"
    not_fits.write_text("hello")
    good = tmp_path / "good.fits"
    fits.writeto(good, np.zeros((64, 64), np.float32))
    truncated = tmp_path / "truncated.fits"
    truncated.write_bytes(good.read_bytes()[:4000])
    cube = tmp_path / "cube.fits"
    fits.writeto(cube, np.zeros((3, 32, 32), np.float32))
    strip = tmp_path / "strip.fits"
    fits.writeto(strip, np.zeros((1, 4096), np.float32))
    table = tmp_path / "table.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns([fits.Column("a", "E", array=[1.0])])]).writeto(table)
    cases = {
        tmp_path / "absent.fits": "no such file",
        not_fits: "not a readable FITS file",
        truncated: "truncated",
        cube: "3-D cube",
        strip: "pixels; crclean needs at least 16x16",
        table: "--ext",
    }
    for path, message in cases.items():
        result = run("mask", path)
        assert result.exit_code == 1, (path, result.output)
        errors = [line for line in result.output.splitlines() if line.startswith("crclean: error:")]
        assert len(errors) == 1 and str(path.name) in errors[0] and message in errors[0], result.output
    assert sorted(p.name for p in tmp_path.iterdir() if "crclean" in p.name) == []


def test_read_only_output_folder(ground_fits, tmp_path, monkeypatch):
    path, _ = ground_fits
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access

    def access(path, mode, **kwargs):
        # Stands in for a read-only folder: tests run as root, who can write anywhere.
        if str(path).startswith(str(locked)) and mode & os.W_OK:
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)
    result = run("mask", path, "--outdir", locked)
    assert result.exit_code == 1
    assert "locked" in result.output and "writ" in result.output
    assert list(locked.iterdir()) == []


def test_version_and_models():
    assert run("--version").output.strip() == f"crclean, version {__version__}"
    listing = run("models").output
    assert "auto  (default)" in listing and "crclean-ccd  (auto's ground and space model)" in listing
    assert "deepcr-decam" in listing and "lacosmic" in listing
    assert "sha256" in listing


def test_models_lists_masks_inpainting_and_lens_finders_in_groups():
    listing = run("models").output
    groups = listing.split("\n\n")
    assert [group.splitlines()[0] for group in groups] == [
        "# Cosmic-ray masks: crclean mask --model NAME",
        "# Inpainting: crclean mask --inpaint learned (the other methods, median, grow and harmonic, need no model)",
        "# Strong-lens finders: crclean lenses --model NAME"]
    assert "\ncrclean-inpaint\n" in groups[1]
    lenses = groups[2]
    assert "\nrtdetr-lens-v9  (default for single files)\n" in lenses
    assert "\nrtdetr-lens-v20  (default for {band} patterns)\n" in lenses
    assert "  input:    bands g, r, i, one file each;" in lenses and "rtdetr-lens-v3" not in listing
    # Each model says what it is for, what it reads and how well it did ("auto" has a "for" line only).
    assert listing.count("  quality:  ") == listing.count("  input:    ") == listing.count("  for:      ") - 1
    assert "AP@50 0.839 on crclean's simulated tiles" in lenses


def test_python_dash_m_runs():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "crclean", "--version"], capture_output=True, text=True, check=True)
    assert __version__ in done.stdout


def test_gmos_sci_var_file(tmp_path):
    """The real GMOS cutout that ships in astroscrappy: SCI, VAR and SKYFIT, no gain keyword."""
    import shutil
    from pathlib import Path

    import astroscrappy

    source = Path(astroscrappy.__file__).parent / "tests" / "data" / "gmos.fits"
    path = tmp_path / "gmos.fits"
    shutil.copy(source, path)
    result = run("mask", path, "--model", "lacosmic", "--gain", "1.0", "--readnoise", "3.5")
    assert result.exit_code == 0, result.output
    with fits.open(tmp_path / "gmos_crclean.fits") as out, fits.open(source) as original:
        assert [h.name for h in out] == ["PRIMARY", "SCI", "VAR", "SKYFIT", "DQ"]
        np.testing.assert_array_equal(out["VAR"].data, original["VAR"].data)
        np.testing.assert_array_equal(out["SKYFIT"].data, original["SKYFIT"].data)
        flagged = out["DQ"].data > 0
        assert out["SCI"].header["NCRPIX"] == flagged.sum() > 0
        assert out["SCI"].header["CRMODEL"] == "lacosmic" and out["SCI"].header["CRWSHA"] == "none"


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.uint16])
def test_pixel_types_round_trip(tmp_path, dtype):
    from synthetic import synthetic_exposure

    image, truth = synthetic_exposure((96, 128), seed=30, sky=800.0)
    data = image.astype(dtype) if np.dtype(dtype).kind == "f" else np.rint(image).astype(dtype)
    path = tmp_path / "typed.fits"
    fits.writeto(path, data)
    assert run("mask", path, "-q").exit_code == 0
    with fits.open(tmp_path / "typed_crclean.fits") as hdul:
        assert hdul[0].data.dtype.newbyteorder("=") == np.dtype(dtype)
        flagged = hdul["DQ"].data > 0
        assert (flagged & truth).sum() / truth.sum() > 0.8
        assert np.all(hdul[0].data[~flagged] == data[~flagged])
