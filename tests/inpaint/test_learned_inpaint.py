import shutil
import subprocess
import sys

import numpy as np
import pytest
from scipy import ndimage

from crclean.exceptions import ModelError
from crclean.inpaint import INPAINTERS, inpaint
from crclean.inpaint import _learned
from crclean.inpaint._grow import grow_fill
from crclean.inpaint._learned import LEARNED_INPAINTER, learned_fill, load_inpaint_network
from crclean.training.simulate import simulate_exposure

BOX = np.ones((3, 3), bool)


def _scene(shape=(150, 170), seed=0):
    """Sky with noise, a few stars, and a mask of short tracks (some across stars)."""
    rng = np.random.default_rng(seed)
    ny, nx = shape
    yy, xx = np.mgrid[:ny, :nx]
    image = rng.normal(200.0, 5.0, shape)
    mask = np.zeros(shape, bool)
    for _ in range(8):
        y0, x0 = rng.uniform(15, ny - 15), rng.uniform(15, nx - 15)
        image += rng.uniform(2e3, 2e4) / (2 * np.pi * 2.0**2) * np.exp(-((yy - y0) ** 2 + (xx - x0) ** 2) / 8.0)
        mask[int(y0), int(x0) - 3 : int(x0) + 4] = True
    for _ in range(20):
        y, x = rng.integers(2, ny - 2), rng.integers(2, nx - 12)
        mask[y, x : x + rng.integers(1, 10)] = True
    image[mask] += 5e3  # the cosmic rays the mask hides
    return image.astype(np.float32), mask


def test_registered_and_importing_the_registry_stays_torch_free():
    assert INPAINTERS["learned"] == ("crclean.inpaint._learned", "learned_fill")
    code = "import sys, crclean.inpaint; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_fills_masked_pixels_only_and_leaves_the_input_alone():
    image, mask = _scene()
    image[5, 7] = np.nan
    before, mask_before = image.copy(), mask.copy()
    out = inpaint("learned", image, mask)
    assert out.dtype == np.float32 and out is not image
    np.testing.assert_array_equal(image, before)
    np.testing.assert_array_equal(mask, mask_before)
    np.testing.assert_array_equal(out[~mask], image[~mask])  # bit for bit, NaN included
    assert np.isnan(out[5, 7])
    assert np.all(np.isfinite(out[mask]))
    assert np.abs(out[mask] - image[mask]).min() > 100  # every hit was replaced
    assert learned_fill(image.astype(np.float64), mask).dtype == np.float64
    assert learned_fill(np.full((20, 20), 7, np.int16), mask[:20, :20]).dtype == np.float32
    np.testing.assert_array_equal(learned_fill(image, np.zeros_like(mask)), image)


def test_non_finite_pixels_never_enter_the_fill():
    image, mask = _scene(seed=1)
    rows, cols = np.nonzero(ndimage.binary_dilation(mask, BOX) & ~mask)
    neighbours = (rows[::3], cols[::3])  # unmasked pixels touching the mask
    results = []
    for value in (np.nan, np.inf, -np.inf):
        bad = image.copy()
        bad[neighbours] = value
        results.append(learned_fill(bad, mask))
    # The same pixels masked instead, with an absurd value: the same holes.
    masked = image.copy()
    masked[neighbours] = 1e30
    wider = mask.copy()
    wider[neighbours] = True
    results.append(learned_fill(masked, wider))
    for other in results[1:]:
        np.testing.assert_array_equal(other[mask], results[0][mask])
    assert np.all(np.isfinite(results[0][mask]))
    assert np.isnan(results[0][neighbours]).all() and np.isinf(results[1][neighbours]).all()


@pytest.mark.parametrize("shape", [(299, 299), (150, 200)])
def test_result_does_not_depend_on_the_tile_size(shape):
    image, mask = _scene(shape, seed=2)
    whole = learned_fill(image, mask, tile_size=512, overlap=64)
    noise = 5.0
    for tile_size in (128, 256):
        tiled = learned_fill(image, mask, tile_size=tile_size, overlap=64, batch_size=3)
        # The receptive field (22 px) is inside the 24 px guard band of a
        # 64 px overlap: tiles agree to float32 rounding.
        assert np.abs(tiled - whole)[mask].max() / noise < 1e-4
        np.testing.assert_array_equal(tiled[~mask], image[~mask])


def test_bad_arguments_are_named():
    image, mask = _scene()
    with pytest.raises(ValueError, match="2-D of one shape"):
        learned_fill(image, mask[:-1])
    with pytest.raises(ValueError, match="at least 16x16"):
        learned_fill(image[:10, :10], mask[:10, :10])
    with pytest.raises(ValueError, match="tile_size must be a multiple of 16"):
        learned_fill(image, mask, tile_size=100)


def test_a_tampered_weights_file_is_rejected(tmp_path, monkeypatch):
    from crclean import weights

    copy = tmp_path / LEARNED_INPAINTER.resource
    shutil.copy(weights.SHIPPED_WEIGHTS_DIR / LEARNED_INPAINTER.resource, copy)
    load_inpaint_network()  # the shipped file passes
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    monkeypatch.setattr(weights, "SHIPPED_WEIGHTS_DIR", tmp_path)
    with pytest.raises(ModelError, match="checksum mismatch for model 'crclean-inpaint'"):
        load_inpaint_network()
    _learned._cached_network.cache_clear()
    image, mask = _scene()
    with pytest.raises(ModelError, match="checksum mismatch"):
        learned_fill(image, mask)
    monkeypatch.undo()
    _learned._cached_network.cache_clear()


@pytest.mark.parametrize("profile", ["ground_thin", "ground_thick", "space"])
def test_shipped_weights_fill_a_simulated_exposure_well(profile):
    # A sanity check that the shipped weights are trained ones, not a
    # benchmark: seeds outside training (200000...), validation (10200000...)
    # and benchmarks/inpaint.py (30000000...).
    exposure = simulate_exposure((192, 192), seed=5_000_123, profile=profile, split="validation", cr_rate=2.0)
    cosmic = ndimage.binary_dilation(exposure.cr_mask | exposure.ignore_mask, BOX)
    scored = cosmic & ~ndimage.binary_dilation(exposure.defect_mask, BOX)
    noise = exposure.noise_sigma_electrons[scored] / exposure.gain

    def rms(filled):
        return np.sqrt(np.mean(((filled[scored] - exposure.clean_adu[scored]) / noise) ** 2))

    learned = rms(learned_fill(exposure.image_adu, cosmic | exposure.defect_mask))
    grow = rms(grow_fill(exposure.image_adu, cosmic | exposure.defect_mask))
    # Measured with crclean-inpaint-v1: 1.38, 1.14, 1.03 (grow: 1.79, 1.63,
    # 1.11); a fill that knew the noise-free image would score 1.0.
    assert learned < 1.5
    assert learned < grow


def test_crclean_mask_inpaint_learned(tmp_path):
    from astropy.io import fits
    from click.testing import CliRunner

    from crclean.cli import main
    from synthetic import synthetic_exposure

    image, truth = synthetic_exposure((150, 200), seed=11)
    image[40:50, 60:70] = np.nan
    path, out = tmp_path / "in.fits", tmp_path / "out.fits"
    fits.PrimaryHDU(image, fits.Header({"BUNIT": "ADU", "GAIN": 4.0, "RDNOISE": 7.0})).writeto(path)
    result = CliRunner().invoke(main, ["mask", str(path), "-o", str(out), "--inpaint", "learned", "-q"])
    assert result.exit_code == 0, result.output
    with fits.open(out) as hdul:
        assert hdul[0].header["CRINPNT"] == "learned"
        flagged = hdul["DQ"].data > 0
        np.testing.assert_array_equal(hdul[0].data[~flagged], image[~flagged])  # NaN block included
        hits = flagged & truth
        assert np.isfinite(hdul[0].data[flagged]).all()
        assert (hdul[0].data[hits] < image[hits]).mean() > 0.95


def test_cleaner_runs_the_learned_inpainter_on_its_own_device(monkeypatch):
    import crclean.clean
    from crclean import Cleaner
    from synthetic import synthetic_exposure

    calls = []

    def spy(method, image, mask, *, unusable=None, **options):
        calls.append((method, options))
        return np.asarray(image, np.float32).copy()

    monkeypatch.setattr(crclean.clean, "inpaint", spy)
    image, _ = synthetic_exposure((64, 64), seed=3)
    Cleaner("crclean-ground", inpaint="learned", device="cpu").clean_array(image)
    Cleaner("crclean-ground", inpaint="grow", device="cpu").clean_array(image)
    assert calls == [("learned", {"device": "cpu"}), ("grow", {})]
