"""`crclean.cosmicray_crclean` in a ccdproc pipeline: CCDData in, a new CCDData out."""

import subprocess
import sys

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.nddata import CCDData, StdDevUncertainty

from crclean import cosmicray_crclean
from synthetic import synthetic_exposure


def test_in_an_image_file_collection_loop(tmp_path, split_auto_models):
    from ccdproc import ImageFileCollection

    truths = {}
    for index, imagetyp in enumerate(["object", "bias", "object"]):
        image, truth = synthetic_exposure((96, 128), seed=90 + index)
        header = fits.Header({"IMAGETYP": imagetyp, "BUNIT": "adu", "GAIN": 4.0, "TELESCOP": "CTIO 0.9-m"})
        fits.writeto(tmp_path / f"frame{index}.fits", image, header)
        truths[f"frame{index}.fits"] = truth
    collection = ImageFileCollection(tmp_path)
    cleaned = {}
    for ccd, name in collection.ccds(imagetyp="object", return_fname=True):
        ccd.mask = np.zeros(ccd.shape, bool)
        ccd.mask[:, 0] = True  # a bad column flagged earlier in the reduction
        ccd.uncertainty = StdDevUncertainty(np.sqrt(np.abs(ccd.data) / 4.0))
        before = ccd.copy()
        result = cosmicray_crclean(ccd, threshold=0.5)
        # The input is untouched: data, mask and meta.
        np.testing.assert_array_equal(ccd.data, before.data)
        np.testing.assert_array_equal(ccd.mask, before.mask)
        assert "CRMODEL" not in ccd.meta
        cleaned[name] = (ccd, result)
    assert sorted(cleaned) == ["frame0.fits", "frame2.fits"]
    for name, (ccd, result) in cleaned.items():
        truth = truths[name]
        found = result.mask & ~ccd.mask
        assert isinstance(result, CCDData) and result is not ccd
        assert (found & truth).sum() / truth.sum() > 0.85
        assert result.mask[:, 0].all()  # OR-ed, not replaced
        assert result.unit == u.adu
        np.testing.assert_array_equal(result.uncertainty.array, ccd.uncertainty.array)
        assert result.uncertainty is not ccd.uncertainty
        assert result.meta["CRMODEL"] == "crclean-ground" and result.meta["NCRPIX"] == (result.mask & ~ccd.mask).sum()
        assert result.meta.comments["CRTHRESH"] == "cosmic-ray probability threshold"
        assert "CRDQBIT" not in result.meta and "crclean" in str(result.meta["HISTORY"])
        assert result.meta["IMAGETYP"] == "object"
        # Inpainted where flagged, the input's values elsewhere.
        hits = found & truth
        assert (result.data[hits] < ccd.data[hits]).mean() > 0.95
        np.testing.assert_array_equal(result.data[~result.mask], ccd.data[~result.mask])
        # It writes and reads back as FITS with the keywords.
        result.write(tmp_path / f"clean_{name}")
        assert fits.getheader(tmp_path / f"clean_{name}")["CRMODEL"] == "crclean-ground"


def test_auto_picks_the_space_model_from_meta_and_no_inpaint_keeps_the_data(split_auto_models):
    image, _ = synthetic_exposure((64, 80), seed=95, sky=100.0, gain=1.0)
    ccd = CCDData(image * 2.0, unit="electron", meta={"TELESCOP": "HST", "INSTRUME": "ACS"})
    result = cosmicray_crclean(ccd, inpaint=None)
    assert result.meta["CRMODEL"] == "crclean-space" and result.meta["CRINPNT"] == "none"
    np.testing.assert_array_equal(result.data, ccd.data)
    assert result.mask.any() and ccd.mask is None
    assert result.unit == u.electron


def test_refuses_an_array_and_bad_options():
    with pytest.raises(TypeError, match=r"ccd must be an astropy.nddata.CCDData, got ndarray; wrap an array "
                                        r"as CCDData\(data, unit='adu'\)"):
        cosmicray_crclean(np.zeros((32, 32)))
    ccd = CCDData(np.zeros((32, 32)), unit="adu")
    with pytest.raises(ValueError, match="threshold must be between 0 and 1"):
        cosmicray_crclean(ccd, threshold=1.5)
    with pytest.raises(ValueError, match="inpaint must be one of"):
        cosmicray_crclean(ccd, inpaint="smudge")
    with pytest.raises(ValueError, match="grow_threshold must be between 0 and the threshold"):
        cosmicray_crclean(ccd, grow_threshold=0.7)


def test_a_grown_mask_is_recorded_in_meta_and_holds_the_plain_one():
    image, _ = synthetic_exposure((96, 96), seed=96, sky=100.0, gain=1.0)
    ccd = CCDData(image, unit="adu")
    plain = cosmicray_crclean(ccd, model="crclean-ccd", inpaint=None)
    grown = cosmicray_crclean(ccd, model="crclean-ccd", inpaint=None, grow_threshold=0.01)
    assert (grown.mask >= plain.mask).all() and plain.mask.any()
    assert grown.meta["CRGROW"] == 0.01 and "CRGROW" not in plain.meta
    assert grown.meta["NCRPIX"] == grown.mask.sum()


def test_importing_crclean_does_not_import_torch():
    code = "import sys, crclean\ncrclean.cosmicray_crclean\nprint('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
