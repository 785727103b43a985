"""FITS files for the CLI tests, built in tmp_path from seeded data."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from synthetic import synthetic_exposure


@pytest.fixture
def ground_fits(tmp_path):
    """A single-HDU float32 ground frame in ADU with GAIN and RDNOISE."""
    image, truth = synthetic_exposure((150, 200), seed=11)
    header = fits.Header({"BUNIT": "ADU", "GAIN": 4.0, "RDNOISE": 7.0, "EXPTIME": 90.0})
    path = tmp_path / "ground.fits"
    fits.PrimaryHDU(image, header).writeto(path)
    return path, truth


@pytest.fixture
def hst_fits(tmp_path):
    """HST-style PRIMARY + (SCI, ERR, DQ) x EXTVER 1, 2, in electrons, with DQ bits set."""
    hdus = [fits.PrimaryHDU(header=fits.Header({"INSTRUME": "ACS", "CCDGAIN": 2.0}))]
    truths = []
    for extver in (1, 2):
        image, truth = synthetic_exposure((128, 160), seed=20 + extver, sky=100.0, gain=1.0)
        truths.append(truth)
        sci = fits.ImageHDU(image * 2.0, name="SCI", ver=extver)
        sci.header["BUNIT"] = "ELECTRONS"
        err = fits.ImageHDU(np.full(image.shape, 5.0, np.float32), name="ERR", ver=extver)
        dq = np.zeros(image.shape, np.int16)
        dq[0, :] = 4  # a bad row flagged by the pipeline; must survive
        hdus += [sci, err, fits.ImageHDU(dq, name="DQ", ver=extver)]
    path = tmp_path / "hst_flc.fits"
    fits.HDUList(hdus).writeto(path)
    return path, truths


@pytest.fixture
def saao_raw(tmp_path):
    """The real SAAO 1.0 m raw frame that ships in ccdproc (uint16 with BZERO)."""
    import ccdproc

    source = Path(ccdproc.__file__).parent / "tests" / "data" / "a8280271.fits"
    path = tmp_path / "a8280271.fits"
    shutil.copy(source, path)
    return path
