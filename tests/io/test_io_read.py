"""Opening exposures, choosing planes and reading them (crclean.io)."""

import gzip
import hashlib
from pathlib import Path

import astroscrappy
import ccdproc
import numpy as np
import pytest
from astropy.io import fits

from crclean.exceptions import InputError, UnitsWarning
from crclean.io import ImagePlane, open_exposure, read_dq, read_plane, select_planes

# SAAO 1.0 m STE3 CCD frame shipped with ccdproc: int16 + BZERO 32768, GAIN 1.9, RDNOISE 5.0.
CCDPROC_RAW = Path(ccdproc.__file__).parent / "tests/data/a8280271.fits"
# GMOS cutout shipped with astroscrappy: PRIMARY + SCI, VAR, SKYFIT (float32, 200x150).
GMOS = Path(astroscrappy.__file__).parent / "tests/data/gmos.fits"


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def image(shape=(40, 50), seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return (rng.normal(1000.0, 10.0, shape)).astype(dtype)


def write_hst(path, *, seed=0):
    """PRIMARY + SCI/ERR/DQ for EXTVER 1 and 2, like HST calibrated files."""
    primary = fits.PrimaryHDU()
    primary.header["CCDGAIN"] = 2.0
    primary.header["EXPTIME"] = 500.0
    hdus = [primary]
    for extver in (1, 2):
        sci = fits.ImageHDU(image(seed=seed + extver), name="SCI", ver=extver)
        sci.header["BUNIT"] = "ELECTRONS"
        sci.header["ATODGAIN"] = 1.5
        sci.header["READNSEA"] = 3.0
        sci.header["READNSEB"] = 5.0
        err = fits.ImageHDU(np.ones((40, 50), np.float32), name="ERR", ver=extver)
        dq = np.zeros((40, 50), np.int16)
        dq[0, :5] = 4
        hdus += [sci, err, fits.ImageHDU(dq, name="DQ", ver=extver)]
    fits.HDUList(hdus).writeto(path)
    return path


# ---------------------------------------------------------------- open_exposure


def test_open_missing_file(tmp_path):
    missing = tmp_path / "nothere.fits"
    with pytest.raises(InputError, match="nothere.fits: no such file; check the path"):
        open_exposure(missing)


@pytest.mark.parametrize("content", [b"", b"hello, this is not FITS\n" * 200, b"\x00" * 5000])
def test_open_not_fits(tmp_path, content):
    path = tmp_path / "bad.fits"
    path.write_bytes(content)
    with pytest.raises(InputError, match=r"bad.fits is not a readable FITS file"):
        open_exposure(path)


def test_open_folder(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        open_exposure(tmp_path)


@pytest.mark.parametrize("cut", [100, 20000, 2880 * 3 - 10])
def test_open_truncated_file(tmp_path, cut):
    whole = tmp_path / "whole.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(image((100, 100)), name="SCI")]).writeto(whole)
    data = whole.read_bytes()
    truncated = tmp_path / "cut.fits"
    truncated.write_bytes(data[: len(data) - cut])
    with pytest.raises(InputError, match=r"cut.fits is truncated .*not a readable FITS file"):
        open_exposure(truncated)


def test_truncated_gzip_fails_on_read(tmp_path):
    whole = tmp_path / "whole.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(image((100, 100)), name="SCI")]).writeto(whole)
    data = whole.read_bytes()
    path = tmp_path / "cut.fits.gz"
    path.write_bytes(gzip.compress(data[:20000]))
    # gzip hides the true length, so the damage shows when the data are read.
    expected = r"SCI \(HDU 1\) of .*cut.fits.gz cannot be read: the file is truncated"
    with pytest.raises(InputError, match=expected):
        with open_exposure(path) as exposure:
            read_plane(exposure, 1)


def test_open_is_read_only_and_closes(tmp_path):
    path = write_hst(tmp_path / "hst.fits")
    before = sha256(path)
    exposure = open_exposure(path)
    planes = [read_plane(exposure, index) for index in select_planes(exposure)]
    planes[0].data[:] = 0  # a copy: the file and the HDUList are untouched
    exposure.close()
    assert exposure.hdul._file.closed
    assert sha256(path) == before


# ---------------------------------------------------------------- reading data


def test_uint16_raw_with_bzero(tmp_path):
    rng = np.random.default_rng(3)
    raw = rng.integers(0, 65536, (32, 48)).astype(np.uint16)
    raw[0, 0], raw[0, 1] = 0, 65535
    path = tmp_path / "raw.fits"
    fits.PrimaryHDU(raw).writeto(path)
    assert fits.getheader(path)["BZERO"] == 32768
    with open_exposure(path) as exposure:
        assert select_planes(exposure) == [0]
        plane = read_plane(exposure, 0)
    assert plane.data.dtype == np.float32
    np.testing.assert_array_equal(plane.data, raw.astype(np.float32))
    assert plane.label == "HDU 0"
    assert plane.units == "adu"
    assert plane.header["BZERO"] == 32768
    assert plane.gain is None and plane.readnoise is None and plane.dq_index is None


def test_ccdproc_raw_frame():
    with open_exposure(CCDPROC_RAW) as exposure:
        assert select_planes(exposure) == [0]
        plane = read_plane(exposure, 0)
        reference = fits.getdata(CCDPROC_RAW)
    assert isinstance(plane, ImagePlane)
    assert plane.data.shape == (520, 536)
    np.testing.assert_array_equal(plane.data, reference.astype(np.float32))
    with fits.open(CCDPROC_RAW, do_not_scale_image_data=True) as stored:
        assert stored[0].data.dtype.kind == "i" and stored[0].data.itemsize == 2
        np.testing.assert_array_equal(plane.data, stored[0].data.astype(np.int32) + 32768)
    assert plane.gain == 1.9
    assert plane.readnoise == 5.0
    assert plane.exptime == pytest.approx(150.04)
    assert plane.extver == 1


def test_float64_stays_float64_and_is_a_copy(tmp_path):
    path = tmp_path / "f64.fits"
    data = image(dtype=np.float64)
    fits.PrimaryHDU(data).writeto(path)
    with open_exposure(path) as exposure:
        plane = read_plane(exposure, 0)
        assert plane.data.dtype == np.float64
        assert not np.shares_memory(plane.data, exposure.hdul[0].data)
    np.testing.assert_array_equal(plane.data, data)


def test_hst_layout(tmp_path):
    path = write_hst(tmp_path / "hst.fits")
    with open_exposure(path) as exposure:
        assert select_planes(exposure) == [1, 4]
        plane = read_plane(exposure, 4)
    assert plane.label == "SCI,2"
    assert plane.extver == 2
    assert plane.dq_index == 6
    assert plane.units == "electron"
    assert plane.gain == 1.5  # ATODGAIN in the SCI header wins over CCDGAIN in the primary
    assert plane.readnoise == 4.0  # mean of READNSEA and READNSEB
    assert plane.exptime == 500.0  # from the primary header


def test_gmos_sci_var():
    with open_exposure(GMOS) as exposure:
        indices = select_planes(exposure)
        assert indices == [1]  # SCI only; VAR and SKYFIT are not science
        plane = read_plane(exposure, 1)
        reference = exposure.hdul[1].data
    assert plane.label == "SCI"
    assert plane.data.shape == (150, 200)
    assert plane.data.dtype == np.float32
    np.testing.assert_array_equal(plane.data, reference)
    assert plane.exptime == 90.0
    assert plane.gain is None and plane.dq_index is None


@pytest.mark.parametrize(
    ("bunit", "units"),
    [("COUNTS", "adu"), ("DN", "adu"), ("adu", "adu"), ("ELECTRONS", "electron"),
     ("e-", "electron"), ("ELECTRONS/S", "electron/s"), ("e-/s", "electron/s")],
)
def test_bunit(tmp_path, bunit, units):
    path = tmp_path / "u.fits"
    hdu = fits.PrimaryHDU(image())
    hdu.header["BUNIT"] = bunit
    hdu.writeto(path)
    with open_exposure(path) as exposure:
        assert read_plane(exposure, 0).units == units


def test_unknown_bunit_warns(tmp_path):
    path = tmp_path / "u.fits"
    hdu = fits.PrimaryHDU(image())
    hdu.header["BUNIT"] = "furlongs"
    hdu.writeto(path)
    with open_exposure(path) as exposure, pytest.warns(UnitsWarning, match="'furlongs'"):
        assert read_plane(exposure, 0).units == "adu"


@pytest.mark.parametrize(
    ("cards", "gain", "readnoise"),
    [
        ({"GAIN": 2.5, "RDNOISE": 4.0}, 2.5, 4.0),
        ({"CCDGAIN": 2.0, "READNOIS": 6.0}, 2.0, 6.0),
        ({"EGAIN": 1.2, "RON": 3.5}, 1.2, 3.5),
        ({"GAINA": 1.0, "GAINB": 2.0, "GAINC": 3.0, "GAIND": 4.0, "RDNOISEA": 2.0,
          "RDNOISEB": 4.0}, 2.5, 3.0),
        ({"HIERARCH READNOISE": 8.0, "ENOISE": 1.0}, None, 8.0),
    ],
)
def test_gain_and_readnoise_keywords(tmp_path, cards, gain, readnoise):
    path = tmp_path / "g.fits"
    hdu = fits.PrimaryHDU(image())
    hdu.header.update(cards)
    hdu.writeto(path)
    with open_exposure(path) as exposure:
        plane = read_plane(exposure, 0)
    assert plane.gain == gain
    assert plane.readnoise == readnoise


def test_bad_gain_ignored_with_warning(tmp_path):
    path = tmp_path / "g.fits"
    primary = fits.PrimaryHDU()
    primary.header["GAIN"] = 3.0
    sci = fits.ImageHDU(image(), name="SCI")
    sci.header["GAIN"] = -1.0
    sci.header["RDNOISE"] = "unknown"
    fits.HDUList([primary, sci]).writeto(path)
    with open_exposure(path) as exposure:
        with pytest.warns(UnitsWarning) as record:
            plane = read_plane(exposure, 1)
    messages = " ".join(str(item.message) for item in record)
    assert "GAIN = -1.0" in messages and "RDNOISE = 'unknown'" in messages
    assert plane.gain == 3.0  # the primary header's value
    assert plane.readnoise is None


def test_overrides_win(tmp_path):
    path = tmp_path / "g.fits"
    hdu = fits.PrimaryHDU(image())
    hdu.header.update({"GAIN": 2.5, "RDNOISE": 4.0})
    hdu.writeto(path)
    with open_exposure(path) as exposure:
        plane = read_plane(exposure, 0, gain=1.1, readnoise=9.0)
        assert (plane.gain, plane.readnoise) == (1.1, 9.0)
        with pytest.raises(ValueError, match="gain must be a positive number, got -2"):
            read_plane(exposure, 0, gain=-2)


# ---------------------------------------------------------------- select_planes


def test_select_specifiers(tmp_path):
    path = write_hst(tmp_path / "hst.fits")
    with open_exposure(path) as exposure:
        assert select_planes(exposure, [1]) == [1]
        assert select_planes(exposure, ["4"]) == [4]
        assert select_planes(exposure, ["sci"]) == [1, 4]
        assert select_planes(exposure, ["SCI,2"]) == [4]
        assert select_planes(exposure, ["sci, 2", 4, "SCI,1"]) == [4, 1]
        assert select_planes(exposure, ["ERR"]) == [2, 5]
        assert select_planes(exposure, []) == [1, 4]  # an unused --ext option


def test_padded_extname(tmp_path):
    path = tmp_path / "padded.fits"
    header = fits.Header()
    header.append(fits.Card.fromstring("EXTNAME = 'sci        '         / padded name"))
    header.append(fits.Card.fromstring("EXTVER  =                    3"))
    sci = fits.ImageHDU(image(), header=header)
    fits.HDUList([fits.PrimaryHDU(), sci, fits.ImageHDU(image(), name="VAR")]).writeto(path)
    assert b"EXTNAME = 'sci        '" in path.read_bytes()
    with open_exposure(path) as exposure:
        assert select_planes(exposure) == [1]
        assert select_planes(exposure, ["SCI"]) == [1]
        assert select_planes(exposure, ["SCI,3"]) == [1]
        assert read_plane(exposure, 1).label == "SCI,3"


def test_default_without_sci_skips_ancillary(tmp_path):
    path = tmp_path / "decam.fits"
    hdus = [fits.PrimaryHDU()]
    hdus += [fits.ImageHDU(image(seed=n), name=name) for n, name in enumerate(["N4", "S4"])]
    hdus += [fits.ImageHDU(np.zeros((40, 50), np.int16), name="MASK"),
             fits.ImageHDU(image(), name="WHT"),
             fits.BinTableHDU.from_columns([fits.Column("a", "E", array=np.ones(3))])]
    fits.HDUList(hdus).writeto(path)
    with open_exposure(path) as exposure:
        assert select_planes(exposure) == [1, 2]
        assert read_plane(exposure, 2).label == "S4"



@pytest.mark.parametrize("names", [("IMAGE", "MASK", "VARIANCE"), ("IMAGE", "MSK", "WGT"), ("IMAGE", "WEIGHT", "RMS")])
def test_default_without_sci_skips_survey_weight_and_variance_planes(tmp_path, names):
    # LSST/HSC, DES and SWarp-style files: only the image is a plane to process.
    path = tmp_path / "coadd.fits"
    hdus = [fits.PrimaryHDU()] + [fits.ImageHDU(image(seed=n), name=name) for n, name in enumerate(names)]
    fits.HDUList(hdus).writeto(path)
    with open_exposure(path) as exposure:
        assert select_planes(exposure) == [1]

def test_ext_matching_nothing_lists_hdus(tmp_path):
    path = write_hst(tmp_path / "hst.fits")
    with open_exposure(path) as exposure:
        for spec in (["SCI,3"], [9], ["WHT"]):
            with pytest.raises(InputError, match=r"matches no HDU of .*hst.fits") as info:
                select_planes(exposure, spec)
            message = str(info.value)
            assert "4 SCI,2 (50x40 image)" in message and "\n" not in message


def test_empty_hdu_selected(tmp_path):
    path = write_hst(tmp_path / "f.fits")
    with open_exposure(path) as exposure:
        with pytest.raises(
            InputError,
            match=r"HDU 0 of .*f.fits holds no image data; choose an image extension with --ext",
        ):
            select_planes(exposure, [0])


def test_table_selected(tmp_path):
    path = tmp_path / "f.fits"
    table = fits.BinTableHDU.from_columns([fits.Column("a", "E", array=np.ones(3))])
    fits.HDUList([fits.PrimaryHDU(image()), table]).writeto(path)
    with open_exposure(path) as exposure:
        with pytest.raises(InputError, match=r"HDU 1 of .*f.fits is a BinTableHDU table, not an"):
            select_planes(exposure, [1])


def test_only_a_cube(tmp_path):
    path = tmp_path / "f.fits"
    fits.PrimaryHDU(np.zeros((3, 20, 30), np.float32)).writeto(path)
    expected = (
        r"HDU 0 of .*f.fits is a 3-D cube \(shape \(3, 20, 30\)\); crclean needs 2-D images: "
        r"choose a 2-D extension with --ext"
    )
    with open_exposure(path) as exposure:
        with pytest.raises(InputError, match=expected):
            select_planes(exposure)
        with pytest.raises(InputError, match=expected):
            select_planes(exposure, [0])


def test_no_image_at_all(tmp_path):
    path = tmp_path / "f.fits"
    table = fits.BinTableHDU.from_columns([fits.Column("a", "E", array=np.ones(3))])
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    with open_exposure(path) as exposure:
        with pytest.raises(InputError, match=r"f.fits holds no 2-D image to clean"):
            select_planes(exposure)


def test_too_small_image(tmp_path):
    path = tmp_path / "f.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((4096, 1), np.float32))]).writeto(path)
    with open_exposure(path) as exposure:
        with pytest.raises(
            InputError,
            match=r"HDU 1 of .*f.fits is 1x4096 pixels; crclean needs at least 16x16 pixels",
        ):
            select_planes(exposure)
        with pytest.raises(InputError, match="1x4096 pixels"):
            read_plane(exposure, 1)



def test_a_cube_of_one_plane_is_told_how_to_become_2d(tmp_path):
    path = tmp_path / "one.fits"
    fits.writeto(path, np.zeros((1, 20, 30), np.float32))
    with open_exposure(path) as exposure:
        with pytest.raises(InputError, match=r"HDU 0 of .*one.fits is a 3-D cube of one 30x20 plane "
                                             r"\(shape \(1, 20, 30\)\); crclean needs 2-D images: write that "
                                             r"plane as a 2-D image \(in astropy, data\[0\]\)$"):
            select_planes(exposure)

def test_sci_cube_selected_by_default(tmp_path):
    path = tmp_path / "f.fits"
    cube = fits.ImageHDU(np.zeros((2, 20, 20), np.float32), name="SCI")
    fits.HDUList([fits.PrimaryHDU(), cube]).writeto(path)
    with open_exposure(path) as exposure:
        with pytest.raises(InputError, match="HDU 1 of .* is a 3-D cube"):
            select_planes(exposure)


# ---------------------------------------------------------------- compressed input


def test_fits_fz_and_fits_gz(tmp_path):
    data = np.random.default_rng(5).integers(0, 65536, (64, 80)).astype(np.uint16)
    fz = tmp_path / "c.fits.fz"
    sci = fits.CompImageHDU(data, name="SCI", compression_type="RICE_1")
    sci.header["GAIN"] = 2.2
    fits.HDUList([fits.PrimaryHDU(), sci]).writeto(fz)
    gz = tmp_path / "c.fits.gz"
    fits.PrimaryHDU(data).writeto(gz)
    assert gz.read_bytes()[:2] == b"\x1f\x8b"
    for path, index in ((fz, 1), (gz, 0)):
        with open_exposure(path) as exposure:
            assert select_planes(exposure) == [index]
            plane = read_plane(exposure, index)
        np.testing.assert_array_equal(plane.data, data.astype(np.float32))
    assert plane.gain is None


def test_reading_again_after_release(tmp_path):
    """read_plane and read_dq keep no copy in the file, yet read the same twice."""
    flags = np.array([[0, 1], [40000, 65535]], np.uint16).repeat(20, 0).repeat(25, 1)
    raw = np.arange(40 * 50, dtype=np.uint16).reshape(40, 50) + 30000
    source = tmp_path / "u16.fits.fz"
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(raw, name="SCI"),
                  fits.CompImageHDU(flags, name="DQ")]).writeto(source)
    with open_exposure(source) as exposure:
        first, second = read_plane(exposure, 1), read_plane(exposure, 1)
        np.testing.assert_array_equal(first.data, raw.astype(np.float32))
        np.testing.assert_array_equal(second.data, first.data)
        assert first.dq_index == 2
        dq = read_dq(exposure, 2)
        assert dq.dtype == np.uint16
        np.testing.assert_array_equal(dq, flags)
        np.testing.assert_array_equal(read_dq(exposure, 2), flags)
        with pytest.raises(InputError, match="dq_index 3 is out of range for .*u16.fits.fz"):
            read_dq(exposure, 3)
