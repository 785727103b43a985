"""Output paths and product writing (crclean.io)."""

import hashlib
import os
import shutil
from pathlib import Path

import astroscrappy
import ccdproc
import numpy as np
import pytest
from astropy.io import fits

from crclean.exceptions import CrcleanWarning, OutputError
from crclean.io import (
    PlaneResult,
    check_output_writable,
    open_exposure,
    output_path_for,
    read_plane,
    select_planes,
    write_products,
)

CCDPROC_RAW = Path(ccdproc.__file__).parent / "tests/data/a8280271.fits"
GMOS = Path(astroscrappy.__file__).parent / "tests/data/gmos.fits"
CARDS = {"CRMODEL": ("unet-test", "cosmic-ray model name"), "NCRPIX": (3, "flagged")}


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def reopen(path):
    """Open a product and check it against the FITS standard."""
    hdul = fits.open(path)
    hdul.verify("exception")
    return hdul


def some_mask(shape, seed=0, count=20):
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, bool)
    mask[rng.integers(0, shape[0], count), rng.integers(0, shape[1], count)] = True
    return mask


def write_hst(path):
    hdus = [fits.PrimaryHDU()]
    rng = np.random.default_rng(1)
    for extver in (1, 2):
        dq = np.zeros((40, 50), np.int16)
        dq[:2, :] = 4 | 16
        hdus += [fits.ImageHDU(rng.normal(100, 5, (40, 50)).astype(np.float32), name="SCI",
                               ver=extver),
                 fits.ImageHDU(np.ones((40, 50), np.float32), name="ERR", ver=extver),
                 fits.ImageHDU(dq, name="DQ", ver=extver)]
    fits.HDUList(hdus).writeto(path)
    return path


# ---------------------------------------------------------------- paths


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.fits", "a_crclean.fits"), ("a.fits.fz", "a_crclean.fits.fz"),
     ("a.fits.gz", "a_crclean.fits.gz"), ("a.fit", "a_crclean.fit"),
     ("n.2.FITS", "n.2_crclean.FITS"), ("a.fz", "a_crclean.fz")],
)
def test_output_path_for_names(tmp_path, name, expected):
    assert output_path_for(tmp_path / name) == tmp_path / expected


def test_output_path_for_options(tmp_path):
    source = tmp_path / "in" / "a.fits"
    assert output_path_for(source, outdir=tmp_path / "out") == tmp_path / "out" / "a_crclean.fits"
    assert output_path_for(source, suffix="_x") == tmp_path / "in" / "a_x.fits"
    assert output_path_for(source, output=tmp_path / "b.fits") == tmp_path / "b.fits"


def test_output_path_never_the_input(tmp_path):
    source = tmp_path / "a.fits"
    with pytest.raises(OutputError, match="is the input file; crclean never overwrites"):
        output_path_for(source, suffix="")
    with pytest.raises(OutputError, match="is the input file"):
        output_path_for(source, output=tmp_path / "." / "a.fits")


def test_check_output_writable(tmp_path, monkeypatch):
    target = tmp_path / "out.fits"
    check_output_writable(target, overwrite=False)
    target.write_bytes(b"x")
    with pytest.raises(OutputError, match="out.fits exists; pass --overwrite to replace it"):
        check_output_writable(target, overwrite=False)
    check_output_writable(target, overwrite=True)
    with pytest.raises(OutputError, match="missing: output folder does not exist"):
        check_output_writable(tmp_path / "missing" / "out.fits", overwrite=False)
    with pytest.raises(OutputError, match="is a folder"):
        check_output_writable(tmp_path, overwrite=True)
    # Root may write anywhere, so the permission check is simulated.
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != tmp_path)
    with pytest.raises(OutputError, match=f"{tmp_path}: output folder is not writable"):
        check_output_writable(tmp_path / "new.fits", overwrite=False)


# ---------------------------------------------------------------- products


def test_uint16_raw_frame(tmp_path):
    source = tmp_path / "a8280271.fits"
    shutil.copy(CCDPROC_RAW, source)
    before = sha256(source)
    output = output_path_for(source)
    with open_exposure(source) as exposure:
        plane = read_plane(exposure, 0)
        mask = some_mask(plane.data.shape)
        cleaned = plane.data.copy()
        cleaned[0, :4] = [-5.0, 70000.0, 12.6, np.nan]
        result = PlaneResult(0, mask, cleaned, None, CARDS, "crclean: cleaned with unet-test")
        assert write_products(exposure, [result], output) == output
    assert sha256(source) == before
    with reopen(output) as hdul, fits.open(source) as original:
        assert len(hdul) == 2
        assert hdul[0].header["BITPIX"] == 16 and hdul[0].header["BZERO"] == 32768
        assert hdul[0].data.dtype == np.uint16
        expected = original[0].data.copy()
        expected[0, :3] = [0, 65535, 13]  # rounded and clipped; NaN keeps the stored value
        np.testing.assert_array_equal(hdul[0].data, expected)
        assert hdul[0].header["GAIN"] == 1.9 and hdul[0].header["NCRPIX"] == 3
        assert "crclean: cleaned with unet-test" in str(hdul[0].header["HISTORY"])
        dq = hdul[1]
        assert (dq.name, dq.ver, dq.data.dtype) == ("DQ", 1, np.uint16)
        assert dq.header["CRIMAGE"] == "HDU 0"
        np.testing.assert_array_equal(dq.data, np.where(mask, 8192, 0))


def test_hst_existing_dq_bits_kept(tmp_path):
    source = write_hst(tmp_path / "hst.fits")
    before = sha256(source)
    output = tmp_path / "out.fits"
    masks = {1: some_mask((40, 50), seed=1), 4: some_mask((40, 50), seed=2)}
    probability = np.random.default_rng(3).random((40, 50)).astype(np.float32)
    with open_exposure(source) as exposure:
        planes = [read_plane(exposure, index) for index in select_planes(exposure)]
        assert [plane.dq_index for plane in planes] == [3, 6]
        results = [PlaneResult(1, masks[1], None, None, CARDS, "one"),
                   PlaneResult(4, masks[4], planes[1].data + 1, probability, CARDS, "two")]
        write_products(exposure, results, output, dq_bit=8192)
    assert sha256(source) == before
    with reopen(output) as hdul, fits.open(source) as original:
        assert [hdu.name for hdu in hdul] == [
            "PRIMARY", "SCI", "ERR", "DQ", "SCI", "ERR", "DQ", "CRPROB"]
        for index, mask in masks.items():
            dq = hdul[index + 2]
            assert dq.data.dtype.name == "int16"
            old = original[index + 2].data
            np.testing.assert_array_equal(dq.data, old | np.where(mask, 8192, 0))
            assert np.all(dq.data[:2] & 20 == 20)
        np.testing.assert_array_equal(hdul[1].data, original[1].data)
        np.testing.assert_allclose(hdul[4].data, original[4].data + 1)
        np.testing.assert_array_equal(hdul[2].data, original[2].data)
        assert (hdul[7].ver, hdul[7].header["CRIMAGE"]) == (2, "SCI,2")
        np.testing.assert_array_equal(hdul[7].data, probability)
        assert hdul[4].header["HISTORY"][-1] == "two"


def test_narrow_dq_is_widened_with_warning(tmp_path):
    source = write_hst(tmp_path / "hst.fits")
    mask = some_mask((40, 50))
    with open_exposure(source) as exposure:
        expected = "too narrow for dq_bit 32768; writing it as uint16"
        with pytest.warns(CrcleanWarning, match=expected):
            write_products(exposure, [PlaneResult(1, mask)], tmp_path / "o.fits", dq_bit=32768)
    with reopen(tmp_path / "o.fits") as hdul:
        assert hdul[3].data.dtype == np.uint16
        assert np.all(hdul[3].data[mask] & 32768) and np.all(hdul[3].data[:2] & 20 == 20)


def test_gmos_probability_without_cleaning(tmp_path):
    output = tmp_path / "gmos_crclean.fits"
    with open_exposure(GMOS) as exposure:
        (index,) = select_planes(exposure)
        plane = read_plane(exposure, index)
        mask = some_mask(plane.data.shape)
        probability = mask.astype(np.float32) * 0.9
        write_products(exposure, [PlaneResult(index, mask, None, probability, CARDS, "h")],
                       output)
    with reopen(output) as hdul, fits.open(GMOS) as original:
        assert [hdu.name for hdu in hdul] == ["PRIMARY", "SCI", "VAR", "SKYFIT", "DQ", "CRPROB"]
        for position in range(4):
            np.testing.assert_array_equal(hdul[position].data, original[position].data)
        assert hdul[4].ver == 1 and hdul[5].ver == 1
        assert hdul[5].data.dtype.name == "float32"
        np.testing.assert_array_equal(hdul[5].data, probability)


def test_unnamed_images_get_distinct_dq_extvers(tmp_path):
    source = tmp_path / "amps.fits"
    rng = np.random.default_rng(4)
    hdus = [fits.PrimaryHDU()] + [fits.ImageHDU(rng.normal(size=(20, 30))) for _ in range(3)]
    fits.HDUList(hdus).writeto(source)
    with open_exposure(source) as exposure:
        indices = select_planes(exposure)
        assert indices == [1, 2, 3]
        results = [PlaneResult(index, some_mask((20, 30), seed=index),
                               probability=np.zeros((20, 30), np.float32))
                   for index in indices]
        write_products(exposure, results, tmp_path / "out.fits")
    with reopen(tmp_path / "out.fits") as hdul:
        extras = [(hdu.name, hdu.ver, hdu.header["CRIMAGE"]) for hdu in hdul[4:]]
    assert extras == [("DQ", 1, "HDU 1"), ("CRPROB", 1, "HDU 1"), ("DQ", 2, "HDU 2"),
                      ("CRPROB", 2, "HDU 2"), ("DQ", 3, "HDU 3"), ("CRPROB", 3, "HDU 3")]


def test_scaled_int16_and_float_nan(tmp_path):
    rng = np.random.default_rng(6)
    scaled = fits.ImageHDU(rng.normal(100, 5, (20, 20)).astype(np.float32), name="SCI", ver=1)
    scaled.scale("int16", bscale=0.01, bzero=100.0)
    floats = fits.ImageHDU(rng.normal(size=(20, 20)), name="SCI", ver=2)  # float64
    source = tmp_path / "s.fits"
    fits.HDUList([fits.PrimaryHDU(), scaled, floats]).writeto(source)
    with open_exposure(source) as exposure:
        first, second = (read_plane(exposure, index) for index in (1, 2))
        assert second.data.dtype == np.float64
        one = first.data + 0.5
        two = second.data.copy()
        two[0, 0] = np.nan
        mask = np.zeros((20, 20), bool)
        write_products(exposure, [PlaneResult(1, mask, one), PlaneResult(2, mask, two)],
                       tmp_path / "o.fits")
    with reopen(tmp_path / "o.fits") as hdul:
        assert (hdul[1].header["BSCALE"], hdul[1].header["BZERO"]) == (0.01, 100.0)
        assert hdul[1].header["BITPIX"] == 16
        np.testing.assert_allclose(hdul[1].data, one, atol=0.006)
        assert hdul[2].header["BITPIX"] == -64
        assert np.isnan(hdul[2].data[0, 0])
        np.testing.assert_array_equal(hdul[2].data[1:], two[1:])


@pytest.mark.parametrize("compression", ["RICE_1", "GZIP_2", "HCOMPRESS_1"])
def test_fits_fz_round_trip(tmp_path, compression):
    rng = np.random.default_rng(7)
    data = rng.integers(0, 65536, (64, 80)).astype(np.uint16)
    variance = rng.integers(0, 100, (64, 80)).astype(np.int32)
    source = tmp_path / "c.fits.fz"
    fits.HDUList([fits.PrimaryHDU(),
                  fits.CompImageHDU(data, name="SCI", compression_type=compression),
                  fits.CompImageHDU(variance, name="VAR", compression_type=compression),
                  ]).writeto(source)
    before = sha256(source)
    output = output_path_for(source)
    assert output.name == "c_crclean.fits.fz"
    mask = some_mask(data.shape)
    probability = np.where(mask, 0.75, 0.0).astype(np.float32)
    with open_exposure(source) as exposure:
        plane = read_plane(exposure, 1)
        cleaned = plane.data.copy()
        cleaned[mask] = 1000.0
        write_products(exposure, [PlaneResult(1, mask, cleaned, probability, CARDS, "h")], output)
    assert sha256(source) == before
    with reopen(output) as hdul:
        assert [type(hdu).__name__ for hdu in hdul] == ["PrimaryHDU"] + ["CompImageHDU"] * 4
        assert {hdu.compression_type for hdu in hdul[1:]} == {compression}
        assert hdul[1].data.dtype == np.uint16 and hdul[1].header["BZERO"] == 32768
        np.testing.assert_array_equal(hdul[1].data, np.where(mask, 1000, data))
        np.testing.assert_array_equal(hdul[2].data, variance)
        assert hdul[3].name == "DQ" and hdul[4].name == "CRPROB"
        np.testing.assert_array_equal(hdul[3].data, np.where(mask, 8192, 0))
        np.testing.assert_allclose(hdul[4].data, probability, atol=5e-5)
        assert np.all(hdul[4].data[~mask] == 0)


def test_fits_gz_round_trip(tmp_path):
    data = np.random.default_rng(8).normal(size=(30, 30)).astype(np.float32)
    source = tmp_path / "g.fits.gz"
    fits.PrimaryHDU(data).writeto(source)
    output = output_path_for(source)
    with open_exposure(source) as exposure:
        write_products(exposure, [PlaneResult(0, some_mask((30, 30)))], output)
    assert output.name == "g_crclean.fits.gz" and output.read_bytes()[:2] == b"\x1f\x8b"
    with reopen(output) as hdul:
        np.testing.assert_array_equal(hdul[0].data, data)
        assert hdul[1].name == "DQ"


def test_existing_output_and_overwrite(tmp_path):
    source = write_hst(tmp_path / "hst.fits")
    output = tmp_path / "out.fits"
    output.write_bytes(b"old")
    result = PlaneResult(1, some_mask((40, 50)))
    with open_exposure(source) as exposure:
        with pytest.raises(OutputError, match="out.fits exists; pass --overwrite to replace it"):
            write_products(exposure, [result], output)
        assert output.read_bytes() == b"old"
        write_products(exposure, [result], output, overwrite=True)
        with pytest.raises(OutputError, match="is the input file"):
            write_products(exposure, [result], source, overwrite=True)
    with reopen(output) as hdul:
        assert len(hdul) == 7


def _failing_flush(error):
    """An HDUList.flush (how products are streamed to disk) that fails after writing."""
    original = fits.HDUList.flush

    def flush(self, *args, **options):
        original(self, *args, **options)
        raise error
    return flush


@pytest.mark.parametrize(
    ("error", "expected"), [(OSError(28, "No space left on device"), OutputError),
                            (RuntimeError("boom"), RuntimeError)],
)
def test_failed_write_leaves_no_temporary(tmp_path, monkeypatch, error, expected):
    source = write_hst(tmp_path / "hst.fits")
    before = sorted(os.listdir(tmp_path))
    monkeypatch.setattr(fits.HDUList, "flush", _failing_flush(error))
    with open_exposure(source) as exposure:
        with pytest.raises(expected) as info:
            write_products(exposure, [PlaneResult(1, some_mask((40, 50)))], tmp_path / "o.fits")
    if expected is OutputError:
        assert "o.fits cannot be written" in str(info.value)
    assert sorted(os.listdir(tmp_path)) == before


def test_output_appearing_during_write_is_kept(tmp_path, monkeypatch):
    source = write_hst(tmp_path / "hst.fits")
    output = tmp_path / "o.fits"
    original = fits.HDUList.flush

    def flush(self, *args, **options):
        original(self, *args, **options)
        output.write_bytes(b"someone else's")

    monkeypatch.setattr(fits.HDUList, "flush", flush)
    with open_exposure(source) as exposure:
        with pytest.raises(OutputError, match="o.fits exists"):
            write_products(exposure, [PlaneResult(1, some_mask((40, 50)))], output)
    assert output.read_bytes() == b"someone else's"
    assert sorted(os.listdir(tmp_path)) == ["hst.fits", "o.fits"]


def test_invalid_results(tmp_path):
    source = write_hst(tmp_path / "hst.fits")
    with open_exposure(source) as exposure:
        with pytest.raises(ValueError, match="dq_bit must be a power of two"):
            write_products(exposure, [PlaneResult(1, some_mask((40, 50)))], tmp_path / "o.fits",
                           dq_bit=3)
        with pytest.raises(ValueError, match=r"mask for HDU 1 must be a bool array of shape"):
            write_products(exposure, [PlaneResult(1, np.zeros((4, 4), bool))],
                           tmp_path / "o.fits")
        with pytest.raises(ValueError, match="header keyword 'LONGKEYWORD'"):
            write_products(exposure, [PlaneResult(1, some_mask((40, 50)),
                                                  keywords={"LONGKEYWORD": 1})],
                           tmp_path / "o.fits")
    assert not (tmp_path / "o.fits").exists()
