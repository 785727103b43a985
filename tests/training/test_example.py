"""The shipped example exposure matches its description and its script."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _script():
    spec = importlib.util.spec_from_file_location("make_example", EXAMPLES / "make_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_image_looks_like_a_calibrated_decam_frame():
    path = EXAMPLES / "example_ground.fits"
    assert path.stat().st_size < 2 * 1024**2
    with fits.open(path) as hdul:
        assert len(hdul) == 1
        data, header = hdul[0].data, hdul[0].header
        assert data.dtype == np.dtype(">f4") and data.shape == (800, 600)
        assert all(n % 256 for n in data.shape)
        assert header["BUNIT"] == "ADU"
        assert (header["GAIN"], header["RDNOISE"]) == (4.0, 7.0)
        assert {"EXPTIME", "OBJECT", "SATURATE"} <= set(header)
        comments = " ".join(str(c) for c in header["COMMENT"])
        assert "crclean's simulator" in comments and "LSST DESC imSim" in comments
        assert 300 < np.median(data) < 1000
        assert (data >= header["SATURATE"] - 1).sum() > 50  # saturated stars


def test_example_truth_is_consistent():
    with fits.open(EXAMPLES / "example_ground_truth.fits") as hdul:
        assert (EXAMPLES / "example_ground_truth.fits").stat().st_size < 2 * 1024**2
        cr, ignore, defects = (hdul[name].data for name in (0, "IGNORE", "DEFECTS"))
        assert cr.dtype == np.uint8 and cr.shape == (800, 600)
        assert set(np.unique(cr)) == {0, 1}
        assert not np.any(cr & ignore) and not np.any(cr & defects)
        assert cr.sum() > 500


def test_script_reproduces_the_shipped_files(tmp_path):
    assert _script().main(["--output-dir", str(tmp_path)]) == 0
    for name in ("example_ground.fits", "example_ground_truth.fits"):
        with fits.open(tmp_path / name) as new, fits.open(EXAMPLES / name) as shipped:
            for a, b in zip(new, shipped):
                np.testing.assert_array_equal(a.data, b.data)


def test_script_refuses_to_overwrite(tmp_path, capsys):
    (tmp_path / "example_ground.fits").write_bytes(b"keep")
    with pytest.raises(SystemExit) as excinfo:
        _script().main(["--output-dir", str(tmp_path)])
    assert excinfo.value.code == 2
    assert "exists; pass --overwrite to replace it" in capsys.readouterr().err
    assert (tmp_path / "example_ground.fits").read_bytes() == b"keep"
