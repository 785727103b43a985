"""Space or ground from the header: `crclean.io.classify_headers` on real-world keyword values."""

import pytest
from astropy.io import fits

from crclean.io import classify_headers

# (what, header values as the archives write them, expected kind)
REAL_HEADERS = [
    ("HST ACS/WFC _flc", {"TELESCOP": "HST", "INSTRUME": "ACS", "DETECTOR": "WFC"}, "space"),
    ("HST WFC3/UVIS _flc", {"TELESCOP": "HST", "INSTRUME": "WFC3", "DETECTOR": "UVIS"}, "space"),
    ("HST WFPC2", {"TELESCOP": "HST", "INSTRUME": "WFPC2"}, "space"),
    ("HST STIS CCD", {"TELESCOP": "HST", "INSTRUME": "STIS", "DETECTOR": "CCD"}, "space"),
    ("JWST NIRCam _cal", {"TELESCOP": "JWST", "INSTRUME": "NIRCAM", "DETECTOR": "NRCA1"}, "space"),
    ("JWST MIRI imager", {"TELESCOP": "JWST", "INSTRUME": "MIRI", "DETECTOR": "MIRIMAGE"}, "space"),
    ("Euclid VIS", {"TELESCOP": "EUCLID", "INSTRUME": "VIS"}, "space"),
    ("Euclid NISP", {"TELESCOP": "EUCLID", "INSTRUME": "NISP"}, "space"),
    ("Spitzer IRAC", {"TELESCOP": "Spitzer", "INSTRUME": "IRAC"}, "space"),
    ("Kepler FFI", {"TELESCOP": "Kepler", "INSTRUME": "Kepler Photometer"}, "space"),
    ("TESS FFI", {"TELESCOP": "TESS", "INSTRUME": "TESS Photometer"}, "space"),
    ("Swift UVOT", {"TELESCOP": "SWIFT", "INSTRUME": "UVOTA"}, "space"),
    ("XMM-Newton OM", {"TELESCOP": "XMM", "INSTRUME": "OM"}, "space"),
    ("GALEX", {"TELESCOP": "GALEX", "INSTRUME": "GALEX"}, "space"),
    ("Roman WFI", {"TELESCOP": "ROMAN", "INSTRUME": "WFI"}, "space"),
    ("spelled out, padded, lower case", {"TELESCOP": "  hubble space telescope  "}, "space"),
    ("instrument and channel in one value", {"INSTRUME": "wfc3/uvis"}, "space"),
    ("DECam", {"TELESCOP": "CTIO 4.0-m telescope", "INSTRUME": "DECam", "OBSERVAT": "CTIO"}, "ground"),
    ("Subaru HSC", {"TELESCOP": "Subaru", "INSTRUME": "Hyper Suprime-Cam"}, "ground"),
    ("Rubin LSSTCam", {"TELESCOP": "Simonyi Survey Telescope", "INSTRUME": "LSSTCam", "DETECTOR": 94},
     "ground"),
    ("Gemini GMOS-N", {"TELESCOP": "Gemini-North", "INSTRUME": "GMOS-N", "OBSERVAT": "Gemini-North"}, "ground"),
    ("SDSS frame", {"TELESCOP": "2.5m", "ORIGIN": "SDSS"}, "ground"),
    ("Keck LRIS", {"TELESCOP": "Keck I", "INSTRUME": "LRIS"}, "ground"),
    ("CFHT MegaCam", {"TELESCOP": "CFHT 3.6m", "INSTRUME": "MegaPrime", "DETECTOR": "e2v 42-90"}, "ground"),
    ("VLT FORS2", {"TELESCOP": "ESO-VLT-U1", "INSTRUME": "FORS2"}, "ground"),
    ("ESO WFI shares Roman's instrument name", {"TELESCOP": "ESO-2P2", "INSTRUME": "WFI"}, "ground"),
    ("Palomar SWIFT shares the satellite's name", {"TELESCOP": "P200", "INSTRUME": "SWIFT"}, "ground"),
    ("Pan-STARRS GPC1", {"TELESCOP": "PS1", "INSTRUME": "GPC1"}, "ground"),
    ("ground data reduced with STSDAS", {"TELESCOP": "KPNO 4.0 meter", "ORIGIN": "STScI-STSDAS/TABLES"},
     "ground"),
    ("a word that only contains a mission's name", {"TELESCOP": "TESSA 1m"}, "ground"),
    ("no keywords", {}, "ground"),
]


@pytest.mark.parametrize("what, header, kind", REAL_HEADERS, ids=[case[0] for case in REAL_HEADERS])
def test_real_world_headers(what, header, kind):
    assert classify_headers(fits.Header(header)).kind == kind


def test_the_reason_names_the_keywords_read():
    hst = classify_headers({"TELESCOP": "HST", "INSTRUME": "ACS", "DETECTOR": "WFC"})
    assert (hst.kind, hst.match) == ("space", "HST")
    assert hst.reason == "TELESCOP='HST' INSTRUME='ACS' DETECTOR='WFC'"
    decam = classify_headers({"TELESCOP": "CTIO 4.0-m telescope ", "INSTRUME": "DECam"})
    assert decam.match is None
    assert decam.reason == ("TELESCOP='CTIO 4.0-m telescope' INSTRUME='DECam': "
                            "no space telescope named in TELESCOP/INSTRUME/DETECTOR")
    assert classify_headers({}).reason == "no space telescope named in TELESCOP/INSTRUME/DETECTOR"


def test_primary_and_extension_headers_are_read_together():
    # JWST keeps its telescope in the primary header; some files name the instrument only in the extension.
    assert classify_headers([fits.Header({"TELESCOP": "JWST"}), fits.Header({"EXTNAME": "SCI"})]).kind == "space"
    found = classify_headers([fits.Header(), fits.Header({"INSTRUME": "WFC3"})])
    assert (found.kind, found.keywords) == ("space", (("INSTRUME", "WFC3"),))


def test_blank_and_valueless_keywords_are_as_if_absent():
    header = fits.Header({"INSTRUME": "  "})
    header["TELESCOP"] = None  # a card without a value
    found = classify_headers(header)
    assert (found.kind, found.keywords) == ("ground", ())


@pytest.mark.parametrize("headers", ["HST", 3, [fits.Header(), "HST"]])
def test_anything_but_headers_is_refused(headers):
    with pytest.raises(TypeError, match="headers must be a FITS header or a sequence of them"):
        classify_headers(headers)
