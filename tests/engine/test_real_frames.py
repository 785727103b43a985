"""The default model on a real long-slit frame: astroscrappy's GMOS cutout.

Gemini S20190808S0048 [362:, 480:680], reduced with DRAGONS, ships with
astroscrappy's tests, which know two cosmic rays in it. Bright sky lines run
the whole frame along its columns: a model that takes a long, PSF-wide band
for a track flags pieces of them (crclean-ccd-v2 flagged 284 pixels).
"""

from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from crclean import Cleaner
from crclean.weights import AUTO_MODELS

pytest.importorskip("astroscrappy")

# (rows, columns) of the two known hits, from astroscrappy's tests/test_gmos.py.
KNOWN_HITS = ((slice(41, 72), slice(142, 161)), (slice(117, 147), slice(35, 43)))
GAIN, READNOISE = 1.933, 4.24


@pytest.fixture(scope="module")
def gmos():
    from astropy.io import fits

    path = Path(find_spec("astroscrappy").submodule_search_locations[0]) / "tests" / "data" / "gmos.fits"
    with fits.open(path) as hdul:
        return {k: hdul[k].data.astype(np.float32) for k in ("SCI", "VAR", "SKYFIT")}


def test_both_known_hits_are_found_and_the_sky_lines_left_alone(gmos):
    import astroscrappy

    reference, _ = astroscrappy.detect_cosmics(gmos["SCI"], inbkg=gmos["SKYFIT"], invar=gmos["VAR"],
                                               readnoise=READNOISE, gain=GAIN)
    found = Cleaner(AUTO_MODELS["ground"], inpaint=None, device="cpu").clean_array(
        gmos["SCI"], units="adu", gain=GAIN, readnoise=READNOISE).mask
    hits = np.zeros(found.shape, bool)
    for box in KNOWN_HITS:
        assert reference[box].sum() > 20
        assert found[box][reference[box]].mean() >= 0.9
        hits[box] |= reference[box]
    others = found & ~ndimage.binary_dilation(hits, iterations=2)
    assert others.sum() < 50
