"""`crclean mask` picks the space or the ground model from each file's header (`--model auto`)."""

from astropy.io import fits
from click.testing import CliRunner

from crclean.cli import main
from synthetic import synthetic_exposure

HST = {"TELESCOP": "HST", "INSTRUME": "WFC3"}
DECAM = {"TELESCOP": "CTIO 4.0-m telescope", "INSTRUME": "DECam"}
SPACE_NOTE = "crclean: note: {path}: TELESCOP='HST' INSTRUME='WFC3' -> space data, using crclean-space " \
             "(override with --model)"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def frame(path, keywords, *, seed=50):
    image, _ = synthetic_exposure((96, 128), seed=seed)
    fits.writeto(path, image, fits.Header(keywords))
    return path


def model_of(path):
    return fits.getheader(path)["CRMODEL"]


def test_hst_file_gets_the_space_model_with_a_note(tmp_path, split_auto_models):
    path = frame(tmp_path / "wfc3.fits", HST)
    result = run("mask", path)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [SPACE_NOTE.format(path=path)]
    assert model_of(tmp_path / "wfc3_crclean.fits") == "crclean-space"
    assert "in 1 image(s) by crclean-space" in result.stdout


def test_decam_file_gets_the_ground_model_with_a_note(tmp_path, split_auto_models):
    path = frame(tmp_path / "decam.fits", DECAM)
    result = run("mask", path)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"crclean: note: {path}: TELESCOP='CTIO 4.0-m telescope' INSTRUME='DECam': no space telescope named "
        "in TELESCOP/INSTRUME/DETECTOR -> ground data, using crclean-ground (override with --model)"]
    assert model_of(tmp_path / "decam_crclean.fits") == "crclean-ground"


def test_file_without_keywords_gets_the_ground_model_and_says_so(tmp_path, split_auto_models):
    path = frame(tmp_path / "plain.fits", {})
    result = run("mask", path)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"crclean: note: {path}: no space telescope named in TELESCOP/INSTRUME/DETECTOR -> ground data, "
        "using crclean-ground (override with --model)"]
    assert model_of(tmp_path / "plain_crclean.fits") == "crclean-ground"


def test_a_named_model_overrides_the_header_without_a_note(tmp_path):
    path = frame(tmp_path / "wfc3.fits", HST)
    result = run("mask", path, "--model", "crclean-ground")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert model_of(tmp_path / "wfc3_crclean.fits") == "crclean-ground"
    assert "by crclean-ground" in result.stdout


def test_quiet_drops_the_note_not_the_choice(tmp_path, split_auto_models):
    path = frame(tmp_path / "wfc3.fits", HST)
    result = run("mask", path, "-q")
    assert result.exit_code == 0 and result.output == ""
    assert model_of(tmp_path / "wfc3_crclean.fits") == "crclean-space"


def test_hst_extensions_read_with_their_primary_header(hst_fits, tmp_path, split_auto_models):
    path, _ = hst_fits  # INSTRUME = 'ACS' in the primary, SCI,1 and SCI,2 to clean
    out = tmp_path / "flc.fits"
    result = run("mask", path, "-o", out)
    assert result.exit_code == 0, result.output
    assert f"crclean: note: {path}: INSTRUME='ACS' -> space data, using crclean-space" in result.stderr
    with fits.open(out) as hdul:
        assert [hdul["SCI", extver].header["CRMODEL"] for extver in (1, 2)] == ["crclean-space"] * 2


def test_a_mixed_batch_loads_each_model_once(tmp_path, monkeypatch, split_auto_models):
    from crclean import weights

    loaded = []
    real = weights.load_network
    monkeypatch.setattr(weights, "load_network", lambda spec, **k: loaded.append(spec.name) or real(spec, **k))
    paths = [frame(tmp_path / "a.fits", HST, seed=1), frame(tmp_path / "b.fits", DECAM, seed=2),
             frame(tmp_path / "c.fits", HST, seed=3), frame(tmp_path / "d.fits", {}, seed=4)]
    result = run("mask", *paths, "--outdir", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert sorted(loaded) == ["crclean-ground", "crclean-space"]
    assert [model_of(tmp_path / "out" / f"{name}_crclean.fits") for name in "abcd"] == \
        ["crclean-space", "crclean-ground", "crclean-space", "crclean-ground"]
    notes = [line for line in result.stderr.splitlines() if line.startswith("crclean: note:")]
    assert [note.rsplit(", using ", 1)[1] for note in notes] == \
        ["crclean-space (override with --model)", "crclean-ground (override with --model)"] * 2


def test_models_lists_auto_and_what_it_maps_to():
    # The shipped mapping: one model for both kinds (issue 28).
    listing = run("models").output
    assert listing.startswith("# Cosmic-ray masks: crclean mask --model NAME\nauto  (default)\n")
    assert "  space:    crclean-ccd  (HST, JWST, Euclid" in listing
    assert "  ground:   crclean-ccd  (any other telescope, or none named)" in listing


def test_models_marks_each_kinds_model(split_auto_models):
    listing = run("models").output
    assert "  space:    crclean-space  (HST, JWST, Euclid" in listing
    assert "crclean-space  (auto's space model)" in listing
