import numpy as np
import pytest
import torch

from crclean import Cleaner
from crclean.engine import LacosmicMasker, NetworkMasker, resolve_device, to_model_units
from crclean.exceptions import UnitsWarning
from crclean.weights import get_model, load_network

from synthetic import synthetic_exposure


@pytest.fixture(scope="module")
def decam():
    spec = get_model("deepcr-decam")
    return spec, load_network(spec)


def _masker(decam, **kwargs):
    spec, network = decam
    options = dict(device=torch.device("cpu"), batch_size=4, tile_size=256, overlap=32)
    options.update(kwargs)
    return NetworkMasker(network, spec, **options)


@pytest.mark.parametrize("shape", [(299, 299), (150, 200)])
def test_probability_does_not_depend_on_tile_size(decam, shape):
    image, _ = synthetic_exposure(shape, seed=2)
    large = _masker(decam, tile_size=256).predict(image)
    small = _masker(decam, tile_size=96).predict(image)
    assert large.shape == image.shape
    # Everywhere, edges and corners included.
    assert np.abs(large - small).max() < 1e-3


def test_batch_size_does_not_change_the_result(decam):
    image, _ = synthetic_exposure((299, 299), seed=3)
    np.testing.assert_allclose(_masker(decam, batch_size=1).predict(image),
                               _masker(decam, batch_size=7).predict(image), atol=1e-6)


def test_finds_injected_cosmic_rays_without_flooding_the_sky(decam):
    image, truth = synthetic_exposure(seed=4)
    mask = _masker(decam).predict(image) > 0.5
    assert (mask & truth).sum() / truth.sum() > 0.95
    # Far from any hit, the sky and stars stay clean.
    from scipy.ndimage import binary_dilation

    near = binary_dilation(truth, iterations=3)
    assert (mask & ~near).sum() < 0.001 * mask.size


def test_non_finite_pixels_do_not_leak_into_neighbours(decam):
    image, _ = synthetic_exposure((200, 200), seed=6, n_rays=0, n_stars=0)
    holed = image.copy()
    holed[80:90, 100:130] = np.nan
    holed[20, 20] = np.inf
    probability = _masker(decam).predict(holed)
    assert np.isfinite(probability).all()
    assert probability[80:90, 100:130].max() == 0 and probability[20, 20] == 0
    # A blank sky with a hole: nothing around the hole looks like a cosmic ray.
    assert (probability > 0.5).sum() == 0



def test_a_wide_non_finite_border_is_filled_with_sky_and_flags_nothing(decam):
    from crclean.engine._masker import _fill_non_finite

    image, _ = synthetic_exposure((300, 300), seed=6, n_rays=0, n_stars=0)
    holed = image.copy()
    holed[:, :150] = np.nan  # far wider than any median window
    filled, finite = _fill_non_finite(holed)
    assert np.array_equal(finite, np.isfinite(holed)) and np.array_equal(filled[:, 150:], holed[:, 150:])
    sky, noise = np.median(image), np.std(image)
    assert np.all(np.abs(filled[:, :150] - sky) < 5 * noise)
    probability = _masker(decam).predict(holed)
    assert probability[:, :150].max() == 0 and (probability > 0.5).sum() == 0

def test_input_array_is_not_modified(decam):
    image, _ = synthetic_exposure((100, 100), seed=7)
    image[5, 5] = np.nan
    before = image.copy()
    _masker(decam).predict(image)
    np.testing.assert_array_equal(image, before)


def test_units_are_converted_to_what_the_model_expects(decam):
    image, _ = synthetic_exposure((128, 128), seed=8)
    in_adu = _masker(decam).predict(image, units="adu")
    in_electrons = _masker(decam).predict(image * 4.0, units="electron", gain=4.0)
    np.testing.assert_allclose(in_adu, in_electrons, atol=1e-4)


def test_missing_gain_is_assumed_with_a_warning():
    with pytest.warns(UnitsWarning, match="no gain found in the header; assuming 1.0. Pass --gain"):
        out = to_model_units(np.ones((4, 4)), units="electron", target="adu")
    assert out.dtype == np.float32 and out[0, 0] == 1.0


def test_electron_per_second_uses_exposure_time():
    out = to_model_units(np.full((2, 2), 3.0), units="electron/s", target="electron", exptime=10.0)
    assert out[0, 0] == pytest.approx(30.0)


def test_cuda_without_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="PyTorch sees no CUDA GPU; use --device auto or --device cpu"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


def test_lacosmic_baseline_finds_bright_hits():
    image, truth = synthetic_exposure(seed=9)
    probability = LacosmicMasker().predict(image, gain=4.0, readnoise=7.0)
    assert set(np.unique(probability)) <= {0.0, 1.0}
    assert (probability.astype(bool) & truth).sum() / truth.sum() > 0.8


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"threshold": 1.5}, "threshold must be between 0 and 1"),
        ({"tile_size": 100}, "tile_size must be a positive integer and a multiple of 16, got 100"),
        ({"overlap": 200}, "overlap must be a multiple of 16 between 0 and tile_size/2 (128), got 200"),
        ({"inpaint": "magic"}, "inpaint must be one of: median"),
        ({"device": "tpu"}, "device must be 'auto', 'cpu' or 'cuda'"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
    ],
)
def test_cleaner_validates_options_before_loading(kwargs, message):
    import re

    with pytest.raises(ValueError, match=re.escape(message)):
        Cleaner("deepcr-decam", **kwargs)


def test_clean_array_inpaints_only_flagged_pixels():
    image, truth = synthetic_exposure(seed=10)
    result = Cleaner("deepcr-decam", device="cpu").clean_array(image)
    assert result.cleaned is not None and result.cleaned is not image
    np.testing.assert_array_equal(result.cleaned[~result.mask], image[~result.mask])
    # Hits are brought back near the sky level (800 ADU here, noise ~15 ADU).
    assert np.median(np.abs(result.cleaned[truth & result.mask] - 800.0)) < 60.0



def test_blank_markers_are_missing_data_and_kept_in_the_cleaned_image():
    from crclean.exceptions import CrcleanWarning

    image, truth = synthetic_exposure(seed=10)
    marked, holed = image.copy(), image.copy()
    marked[:, :40], holed[:, :40] = -1e30, np.nan
    cleaner = Cleaner("deepcr-decam", device="cpu")
    with pytest.warns(CrcleanWarning, match=rf"image: {40 * image.shape[0]} pixels of magnitude 1e\+20 or more"):
        result = cleaner.clean_array(marked)
    expected = cleaner.clean_array(holed)
    # As if the border were NaN: the same hits found, none on the border, and the markers kept.
    np.testing.assert_array_equal(result.mask, expected.mask)
    assert (result.mask & truth)[:, 40:].sum() > 0.9 * truth[:, 40:].sum()
    assert np.all(result.cleaned[:, :40] == -1e30)
    np.testing.assert_array_equal(result.cleaned[:, 40:], expected.cleaned[:, 40:])

def test_clean_array_rejects_one_dimensional_strips():
    with pytest.raises(ValueError, match="1x4096 pixels; crclean needs at least 16x16"):
        Cleaner().clean_array(np.zeros((1, 4096), np.float32))


class _KnownMask:
    """Stands in for a network: flags exactly the given pixels."""

    def __init__(self, mask):
        self.mask = mask

    def predict(self, data, **kwargs):
        return self.mask.astype(np.float32)


@pytest.mark.parametrize("method", ["median", "grow", "harmonic"])
def test_known_defects_never_feed_the_fill(method):
    image, _ = synthetic_exposure((128, 128), seed=12, n_stars=0, n_rays=0)
    track = np.zeros(image.shape, bool)
    track[60, 40:51] = True
    image[track] += 3000.0
    defects = np.zeros(image.shape, bool)
    defects[55:66, 51] = True  # a hot column the pipeline flagged, touching the track
    image[defects] = 60000.0
    cleaner = Cleaner("deepcr-decam", inpaint=method, device="cpu")
    cleaner._masker = _KnownMask(track)
    hidden = cleaner.clean_array(image, defects=defects)
    assert np.abs(hidden.cleaned[track] - 800.0).max() < 100.0
    np.testing.assert_array_equal(hidden.cleaned[defects], image[defects])  # left as they were
    if method == "harmonic":  # the least robust fill shows what the DQ prevents
        naive = cleaner.clean_array(image)
        assert np.abs(naive.cleaned[track] - 800.0).max() > 1000.0
    saturated = cleaner.clean_array(image, saturation=50000.0)  # SATURATE does the same
    assert np.abs(saturated.cleaned[track] - 800.0).max() < 100.0


def test_a_sky_normalised_network_keeps_the_sky_maps_of_its_last_image():
    from crclean.engine import background_mesh

    image, _ = synthetic_exposure((96, 128), seed=7)
    cleaner = Cleaner("crclean-ccd", inpaint=None, device="cpu").load()
    assert cleaner._masker.sky is None
    cleaner.clean_array(image, units="adu", gain=4.0)
    background, rms = cleaner._masker.sky
    expected = background_mesh(image.astype(np.float32))
    np.testing.assert_array_equal(background, expected[0])
    np.testing.assert_array_equal(rms, expected[1])


def test_a_network_given_physical_units_keeps_no_sky_maps(decam):
    image, _ = synthetic_exposure((96, 128), seed=8)
    masker = _masker(decam)
    masker.sky = (np.zeros(image.shape), np.ones(image.shape))  # left from an earlier image
    masker.predict(image, units="adu", gain=4.0)
    assert masker.sky is None
