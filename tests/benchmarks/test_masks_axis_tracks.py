"""`benchmarks/masks.py`: crclean's models are scored as `crclean mask` runs them, axis-track search included."""

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.append(str(BENCHMARKS))

from _mask_contenders import contenders, crclean_model  # noqa: E402

from crclean.engine._axis_tracks import axis_track_pixels  # noqa: E402
from crclean.training._cosmic_sim import render_charge  # noqa: E402


def _track_exposure():
    """A frame with one long track along a column, its charge straggling, as a benchmark exposure."""
    rng = np.random.default_rng(3)
    shape, sky = (256, 160), 1000.0
    t = np.linspace(0, 1, 8 * 150)
    charge = rng.gamma(2.0, 20 * np.sqrt(sky), 151)[(t * 150).astype(int)] / 8
    cr = render_charge(shape, 80.2 + 0 * t, 50 + t * 150, charge, 0.7)
    image = (rng.poisson(sky + cr) + rng.normal(0, 5.0, shape)).astype(np.float32)
    return SimpleNamespace(image_adu=image, gain=1.0, readnoise=5.0), cr


def test_crclean_models_run_with_the_search_and_a_plain_row_says_it_has_none():
    searched, plain = crclean_model("crclean-ccd"), crclean_model("crclean-ccd", axis_tracks=False)
    assert searched.label == "crclean-ccd" and plain.label == "crclean-ccd, no axis tracks"
    exposure, cr = _track_exposure()
    probability, with_search = searched.mask(exposure)
    _, without = plain.mask(exposure)
    np.testing.assert_array_equal(without, probability > 0.5)
    np.testing.assert_array_equal(with_search, without | axis_track_pixels(exposure.image_adu, without))
    bright = cr > 10 * np.sqrt(1000.0)
    assert (with_search & bright).sum() > (without & bright).sum()


def test_ports_of_other_packages_networks_run_as_they_are():
    assert not crclean_model("deepcr-decam").axis_tracks
    labels = [tool.label for tool in contenders(["crclean-ccd"], anchors=False, without_axis_tracks=True)]
    assert labels == ["crclean-ccd", "crclean-ccd, no axis tracks"]
    # a port named beside crclean's model runs once, not again "without" steps it never had
    labels = [tool.label for tool in contenders(["crclean-ccd", "deepcr-acs-wfc"], anchors=False,
                                                without_axis_tracks=True, without_star_check=True)]
    assert labels == ["crclean-ccd", "deepcr-acs-wfc (crclean port)", "crclean-ccd, no star check",
                      "crclean-ccd, no axis tracks"]
