"""`Cleaner("auto")`, the default: the model per file from its header, the ground model for arrays."""

import numpy as np
import pytest
from astropy.io import fits

from crclean import Cleaner
from synthetic import synthetic_exposure


def test_the_default_is_auto_and_checks_its_options_at_once():
    cleaner = Cleaner()
    assert (cleaner.model, cleaner.spec, cleaner.weights_sha256) == ("auto", None, None)
    with pytest.raises(ValueError, match="tile_size must be a positive integer and a multiple of 16, got 100"):
        Cleaner(tile_size=100)


def test_an_array_has_no_header_and_gets_the_ground_model(split_auto_models):
    image, _ = synthetic_exposure((96, 128), seed=60)
    auto = Cleaner(inpaint=None, device="cpu").clean_array(image)
    ground = Cleaner("crclean-ground", inpaint=None, device="cpu").clean_array(image)
    np.testing.assert_array_equal(auto.probability, ground.probability)


def test_clean_file_reports_the_model_and_why(tmp_path, split_auto_models):
    image, _ = synthetic_exposure((96, 128), seed=61)
    source = tmp_path / "euclid.fits"
    fits.writeto(source, image, fits.Header({"TELESCOP": "EUCLID", "INSTRUME": "VIS"}))
    report = Cleaner(device="cpu").clean_file(source, tmp_path / "out.fits")
    assert report.model == "crclean-space" == fits.getheader(tmp_path / "out.fits")["CRMODEL"]
    assert (report.data_kind.kind, report.data_kind.reason) == ("space", "TELESCOP='EUCLID' INSTRUME='VIS'")
    named = Cleaner("crclean-ground", device="cpu").clean_file(source, tmp_path / "named.fits")
    assert (named.model, named.data_kind) == ("crclean-ground", None)
