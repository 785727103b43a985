"""The runtime path: sky, windows, NMS, resampling with WCS, NaN borders, loading."""

import numpy as np
import pytest
from lens_fixtures import blob_image, tan_wcs

from crclean.exceptions import CrcleanWarning, InputError, ModelError
from crclean.lenses import LensFinder
from crclean.lenses._background import subtract_background
from crclean.weights import ModelSpec, get_model

POSITIONS = [(40.0, 50.0), (125.0, 118.0), (210.0, 60.0), (61.0, 230.0)]  # (x, y), some on window seams
DETECTOR_ONLY = "rtdetr-lens-v9"


def _nearest(catalog, x, y):
    distance = np.hypot(catalog["x"] - x, catalog["y"] - y)
    return float(distance.min()) if len(distance) else np.inf


def _assert_found_at(catalog, wcs, positions, *, pixels, arcsec):
    """Every (x, y) has a candidate within ``pixels``, and one within ``arcsec`` on the sky by ``wcs``."""
    for x, y in positions:
        assert _nearest(catalog, x, y) < pixels
        ra, dec = wcs.pixel_to_world_values(x, y)
        separation = np.hypot((catalog["ra"] - ra) * np.cos(np.radians(dec)), catalog["dec"] - dec).min() * 3600
        assert separation < arcsec


def test_finds_each_source_once_across_windows(blob_detector):
    image = blob_image((260, 250), POSITIONS, seed=1)
    finder = LensFinder(DETECTOR_ONLY, conf=0.9, network=blob_detector, device="cpu")
    result = finder.find(image, pixel_scale=0.2, tile="t.fits")
    catalog = result.catalog
    assert len(catalog) == len(POSITIONS)
    for x, y in POSITIONS:
        assert _nearest(catalog, x, y) < 1.0
    assert list(catalog["id"]) == [1, 2, 3, 4] and set(catalog["tile"]) == {"t.fits"}
    assert np.all(np.isnan(catalog["ra"]))  # no WCS
    assert not result.resampled
    assert np.all(np.diff(catalog["score"]) <= 0)


def test_resampled_tile_maps_detections_back_to_input_pixels(blob_detector):
    shape, scale = (240, 260), 0.27
    positions = [(60.0, 70.0), (180.0, 150.0), (130.0, 40.0)]
    image = blob_image(shape, positions, seed=2, width=2.0)
    wcs = tan_wcs(shape, scale)
    result = LensFinder(DETECTOR_ONLY, conf=0.9, network=blob_detector, device="cpu").find(image, wcs=wcs, tile="t")
    assert result.resampled
    catalog = result.catalog
    assert len(catalog) == 3
    _assert_found_at(catalog, wcs, positions, pixels=1.0, arcsec=0.3)
    # 16 model pixels of 0.2 arcsec map to 16 * 0.2 / 0.27 input pixels.
    assert np.allclose(catalog["xmax"] - catalog["xmin"] + 1, 16 * 0.2 / 0.27, atol=0.05)


def test_a_distorted_wcs_does_not_move_resampled_detections(blob_detector):
    # SIP distortion is a polynomial in pixel offsets: resampling through a scaled copy of such a WCS
    # used to move detections by up to 3.6 pixels here.
    from astropy.wcs import Sip

    shape, scale = (600, 600), 0.27
    positions = [(60.0, 70.0), (540.0, 530.0), (300.0, 300.0), (520.0, 80.0)]
    image = blob_image(shape, positions, seed=2, width=2.0)
    wcs = tan_wcs(shape, scale)
    a, b = np.zeros((4, 4)), np.zeros((4, 4))
    a[2, 0], a[0, 2], b[1, 1], b[0, 2] = 2e-5, 1e-5, 2e-5, 1.5e-5
    wcs.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    wcs.sip = Sip(a, b, None, None, wcs.wcs.crpix)
    assert np.hypot(*np.subtract(wcs.all_world2pix(*wcs.wcs_pix2world(0, 0, 0), 0), 0)) > 3  # distorted
    catalog = LensFinder(DETECTOR_ONLY, conf=0.9, network=blob_detector, device="cpu").find(image, wcs=wcs).catalog
    assert len(catalog) == 4
    _assert_found_at(catalog, wcs, positions, pixels=0.5, arcsec=0.15)



def test_header_pixel_scale_keywords_in_order_of_preference():
    from astropy.io import fits

    from crclean.lenses._resample import header_pixel_scale

    assert header_pixel_scale(fits.Header()) is None
    assert header_pixel_scale(fits.Header({"PXSCAL1": -0.2, "PXSCAL2": 0.45})) == (pytest.approx(0.3), "PXSCAL1/PXSCAL2")
    assert header_pixel_scale(fits.Header({"SECPIX1": 0.25})) == (0.25, "SECPIX1")
    both = fits.Header({"SECPIX": 0.5, "PIXSCALE": 0.263})
    assert header_pixel_scale(both) == (0.263, "PIXSCALE")
    with pytest.raises(InputError, match=r"t.fits: header keyword PIXSCALE = 30.0 is not a pixel scale in arcsec"):
        header_pixel_scale(fits.Header({"PIXSCALE": 30.0}), where="t.fits")

def test_nan_borders_are_skipped(blob_detector):
    image = blob_image((200, 200), [(100.0, 100.0)], seed=3)
    image[:, :30] = np.nan
    image[-25:, :] = np.nan
    catalog = LensFinder(DETECTOR_ONLY, conf=0.9, network=blob_detector).find(image, pixel_scale=0.2).catalog
    assert len(catalog) == 1 and _nearest(catalog, 100, 100) < 1.0
    assert np.isfinite(image[100, 100])  # the input is not modified: NaNs stay where they were
    assert np.isnan(image[0, 0])


def test_background_is_removed_and_noise_measured():
    image = blob_image((200, 300), [], seed=4, sky=500.0)
    subtracted, sigma = subtract_background(image)
    assert abs(float(np.median(subtracted))) < 0.1 and sigma == pytest.approx(1.0, rel=0.1)
    with pytest.raises(InputError, match="too little to search"):
        subtract_background(np.full((50, 50), np.nan))
    with pytest.warns(CrcleanWarning, match="2500 pixels of magnitude"), pytest.raises(
            InputError, match=r"only 0 of 2500 pixels hold data \(finite, not blank markers\); too little to search"):
        subtract_background(np.full((50, 50), -1e30))


def test_bad_inputs_and_parameters_are_refused(blob_detector):
    finder = LensFinder(network=blob_detector)
    with pytest.raises(InputError, match="2-D image of at least 16x16"):
        finder.find(np.zeros((8, 100)))
    with pytest.raises(ValueError, match="conf must be"):
        LensFinder(conf=1.5)
    with pytest.raises(ModelError, match="unknown lens model 'nope'"):
        LensFinder("nope")


def test_missing_weights_raise_a_model_error():
    spec = ModelSpec(name="untrained", kind="network", task="lens", instruments="", arch="rtdetr",
                     resource="no-such-file.pt", sha256="0" * 64)
    with pytest.raises(ModelError, match="weights of lens model 'untrained' not found at .*no-such-file.pt"):
        LensFinder(spec, device="cpu").load()


def test_a_removed_lens_model_names_its_replacements():
    with pytest.raises(ModelError, match=r"lens model 'rtdetr-lens-v3' was removed in crclean 0\.2; use "
                                         r"rtdetr-lens-v9 \(one band\) or rtdetr-lens-v20 \(g, r, i\)"):
        LensFinder("rtdetr-lens-v3")
    with pytest.raises(ValueError, match="'crclean-ground' is a mask model, not a lens finder"):
        LensFinder(get_model("crclean-ground"))


def test_every_lens_model_ships_weights_matching_its_checksum():
    from crclean.lenses._manifest import DEFAULT_LENS_MODEL, DEFAULT_MULTIBAND_LENS_MODEL, LENS_MODELS
    from crclean.weights import sha256_of, weights_path

    assert DEFAULT_LENS_MODEL in LENS_MODELS
    for spec in LENS_MODELS.values():
        assert spec.task == "lens" and sha256_of(weights_path(spec)) == spec.sha256, spec.name
    assert DEFAULT_MULTIBAND_LENS_MODEL in LENS_MODELS and LENS_MODELS[DEFAULT_MULTIBAND_LENS_MODEL].bands


def test_every_lens_model_loads_and_takes_its_bands():
    import torch

    from crclean.lenses._manifest import LENS_MODELS, load_lens_network

    for spec in LENS_MODELS.values():
        network = load_lens_network(spec)  # strict: the weights fit the registered config
        with torch.no_grad():
            out = network(torch.zeros(1, spec.n_bands, spec.tile_size, spec.tile_size))
        assert out["pred_boxes"].shape[-1] == 4, spec.name
