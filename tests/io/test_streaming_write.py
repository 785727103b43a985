"""Products are written one extension at a time (crclean.io.ProductWriter)."""

import hashlib
import os
import tracemalloc

import numpy as np
import pytest
from astropy.io import fits

from crclean import Cleaner
from crclean.exceptions import OutputError
from crclean.io import PlaneResult, ProductWriter, open_exposure, select_planes, write_products

SHAPE = (40, 50)
DQ_BIT = 8192


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def many_extensions(path):
    """PRIMARY, then SCI,1..12 (int32) with ERR,2, a DQ after every third SCI,
    a DQ stored before SCI,5 and a table after SCI,6: 19 HDUs."""
    rng = np.random.default_rng(30)
    compressed = path.name.endswith(".fz")
    image = fits.CompImageHDU if compressed else fits.ImageHDU

    def extension(data, name, ver):
        hdu = image(data, name=name)
        hdu.header["EXTVER"] = ver
        return hdu

    def dq(ver):
        flags = np.zeros(SHAPE, np.int16)
        flags[0] = 4 | 16  # a bad row from the observatory's pipeline
        return extension(flags, "DQ", ver)

    hdus = [fits.PrimaryHDU(header=fits.Header({"TELESCOP": "test"}))]
    for ver in range(1, 13):
        if ver == 5:
            hdus.append(dq(ver))
        hdus.append(extension(rng.integers(0, 5000, SHAPE, dtype=np.int32), "SCI", ver))
        if ver == 2:
            hdus.append(extension(np.ones(SHAPE, np.int32), "ERR", ver))
        if ver % 3 == 0:
            hdus.append(dq(ver))
        if ver == 6:
            columns = [fits.Column("flux", "E", array=np.arange(8, dtype=np.float32))]
            hdus.append(fits.BinTableHDU.from_columns(columns, name="CAT"))
    fits.HDUList(hdus).writeto(path)
    return path


def known_results(exposure):
    """One PlaneResult per SCI: seeded masks, integer cleaned values, probabilities."""
    results = []
    for index in select_planes(exposure):
        rng = np.random.default_rng(index)
        mask = rng.random(SHAPE) < 0.02
        cleaned = np.array(exposure.hdul[index].data, np.float64) + index
        probability = np.where(mask, 0.75, 0.25).astype(np.float32)  # exact when quantized
        results.append(PlaneResult(index, mask, cleaned, probability,
                                   {"NCRPIX": (int(mask.sum()), "flagged")}, f"plane {index}"))
    return results


def expected_product(source, results):
    """What the product must hold, built in memory: ``[(name, ver, data), ...]``."""
    by_index = {result.hdu_index: result for result in results}
    with fits.open(source) as original:
        expected = []
        for index, hdu in enumerate(original):
            data = None if hdu.data is None else np.array(hdu.data)
            if index in by_index:
                data = np.rint(by_index[index].cleaned).astype(np.int32)
            elif hdu.name == "DQ":
                image = next(i for i in by_index if original[i].ver == hdu.ver)
                data = data | np.where(by_index[image].mask, DQ_BIT, 0).astype(np.int16)
            expected.append((hdu.name, hdu.ver, data))
        has_dq = {hdu.ver for hdu in original if hdu.name == "DQ"}
        for result in results:
            ver = original[result.hdu_index].ver
            if ver not in has_dq:
                expected.append(("DQ", ver, np.where(result.mask, DQ_BIT, 0).astype(np.uint16)))
            expected.append(("CRPROB", ver, result.probability))
    return expected


@pytest.mark.parametrize(
    ("suffix", "order"),
    [(".fits", "file"), (".fits", "reversed"), (".fits.gz", "file"), (".fits.fz", "file")],
)
def test_many_extensions_come_out_as_without_streaming(tmp_path, suffix, order):
    source = many_extensions(tmp_path / f"many{suffix}")
    before = sha256(source)
    output = tmp_path / f"out{suffix}"
    with open_exposure(source) as exposure:
        results = known_results(exposure)
        if order == "reversed":  # the writer keeps what waits for a later result
            results = results[::-1]
        assert write_products(exposure, results, output, dq_bit=DQ_BIT) == output
    assert sha256(source) == before
    assert sorted(os.listdir(tmp_path)) == sorted([source.name, output.name])
    expected = expected_product(source, results)
    with fits.open(output) as product:
        product.verify("exception")
        assert [(hdu.name, hdu.ver) for hdu in product] == [(n, v) for n, v, _ in expected]
        assert len(product) == 19 + 8 + 12  # input, DQ for SCIs without one, CRPROB
        for hdu, (name, ver, data) in zip(product, expected):
            if name == "CAT":
                np.testing.assert_array_equal(hdu.data["flux"], np.arange(8))
            elif data is None:
                assert hdu.data is None
            else:
                np.testing.assert_array_equal(hdu.data, data, err_msg=f"{name},{ver}")
                assert hdu.data.dtype.name == data.dtype.name
        assert product["SCI", 5].header["HISTORY"][-1] == f"plane {product.index_of(('SCI', 5))}"
        assert product["DQ", 1].header["CRIMAGE"] == "SCI,1"
        assert product[0].header["EXTEND"] is True and product[0].header["TELESCOP"] == "test"
        if suffix == ".fits.fz":
            assert all(isinstance(hdu, fits.CompImageHDU) for hdu in product[1:]
                       if hdu.name != "CAT")
    if suffix == ".fits.gz":
        assert output.read_bytes()[:2] == b"\x1f\x8b"


class _BrightPixels:
    """A stand-in model: pixels far above the median are cosmic rays.

    Cheap, so that the memory measured is the file's; ``fail_on`` makes the
    n-th call raise, noting what the output folder held at that moment.
    """

    def __init__(self, fail_on=None, folder=None):
        self.calls = 0
        self.fail_on = fail_on
        self.folder = folder
        self.seen = None

    def predict(self, data, **kwargs):
        self.calls += 1
        if self.calls == self.fail_on:
            self.seen = sorted(os.listdir(self.folder))
            raise RuntimeError(f"model failed on plane {self.calls}")
        return (data > np.median(data) + 400.0).astype(np.float32)


def _cleaner(masker):
    cleaner = Cleaner("lacosmic", inpaint="median")
    cleaner._masker = masker  # no model to load; see tests/engine/test_masker.py
    return cleaner


def ccd_mosaic(path, n_ccds, shape=(256, 512)):
    """A DECam-like file: an empty primary and ``n_ccds`` float32 image extensions."""
    rng = np.random.default_rng(n_ccds)
    image = fits.CompImageHDU if path.name.endswith(".fz") else fits.ImageHDU
    hdus = [fits.PrimaryHDU()]
    for ccd in range(1, n_ccds + 1):
        data = rng.normal(800.0, 10.0, shape).astype(np.float32)
        data[rng.integers(0, shape[0], 50), rng.integers(0, shape[1], 50)] += 3000.0
        hdus.append(image(data, name=f"CCD{ccd}"))
    fits.HDUList(hdus).writeto(path)
    return path


def _peak_bytes(cleaner, source, output):
    """Peak memory numpy and Python allocate while cleaning ``source``."""
    tracing = tracemalloc.is_tracing()
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    try:
        cleaner.clean_file(source, output, write_probability=True)
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        if not tracing:
            tracemalloc.stop()


# Plain FITS only: tracemalloc makes astropy's tile compression several times
# slower. By hand, .fits.fz peaks at 7.7 MB for 4 extensions and 9.1 MB for 16.
@pytest.mark.parametrize("suffix", [".fits"])
def test_memory_does_not_grow_with_the_number_of_extensions(tmp_path, suffix):
    cleaner = _cleaner(_BrightPixels())
    sources = {n: ccd_mosaic(tmp_path / f"mosaic{n}{suffix}", n) for n in (1, 4, 16)}
    _peak_bytes(cleaner, sources[1], tmp_path / f"warm{suffix}")  # first-use imports and caches
    peaks = {n: _peak_bytes(cleaner, sources[n], tmp_path / f"out{n}{suffix}") for n in (4, 16)}
    one_plane = 256 * 512 * 4
    assert peaks[4] > one_plane  # the measure sees the data
    # Holding every extension's products until the end took 3.7x as much.
    assert peaks[16] < 2 * peaks[4], {n: f"{peak / 1e6:.2f} MB" for n, peak in peaks.items()}
    with fits.open(tmp_path / f"out16{suffix}") as product:
        assert [hdu.name for hdu in product[17:19]] == ["DQ", "CRPROB"]
        assert len(product) == 1 + 16 * 3


@pytest.mark.parametrize("suffix", [".fits", ".fits.gz", ".fits.fz"])
def test_a_failing_middle_extension_leaves_nothing_behind(tmp_path, suffix):
    source = ccd_mosaic(tmp_path / f"mosaic{suffix}", 5, shape=(64, 80))
    before = sorted(os.listdir(tmp_path))
    masker = _BrightPixels(fail_on=3, folder=tmp_path)
    with pytest.raises(RuntimeError, match="model failed on plane 3"):
        _cleaner(masker).clean_file(source, tmp_path / f"out{suffix}", write_probability=True)
    # Planes 1 and 2 were already written, under hidden temporary names only.
    written = [name for name in masker.seen if name not in before]
    assert len(written) == 2 and all(name.startswith(".out.tmp-") for name in written)
    assert sorted(os.listdir(tmp_path)) == before


def test_a_full_disk_in_the_middle_gives_an_output_error(tmp_path, monkeypatch):
    source = ccd_mosaic(tmp_path / "mosaic.fits", 5, shape=(64, 80))
    before = sorted(os.listdir(tmp_path))
    original = fits.HDUList.flush
    flushes = []

    def flush(self, *args, **options):
        flushes.append(1)
        if len(flushes) == 4:
            raise OSError(28, "No space left on device")
        original(self, *args, **options)

    monkeypatch.setattr(fits.HDUList, "flush", flush)
    with pytest.raises(OutputError, match="out.fits cannot be written .* free space"):
        _cleaner(_BrightPixels()).clean_file(source, tmp_path / "out.fits")
    assert sorted(os.listdir(tmp_path)) == before


def test_writer_needs_every_planned_result(tmp_path):
    source = ccd_mosaic(tmp_path / "mosaic.fits", 3, shape=(32, 32))
    mask = np.zeros((32, 32), bool)
    with open_exposure(source) as exposure:
        with ProductWriter(exposure, tmp_path / "out.fits", [1, 2, 3]) as writer:
            writer.write(PlaneResult(1, mask))
            with pytest.raises(ValueError, match="HDU 1 is not planned or already written"):
                writer.write(PlaneResult(1, mask))
            with pytest.raises(ValueError, match="no PlaneResult was written for planned HDU 2, 3"):
                writer.finish()
        with pytest.raises(ValueError, match="planned HDU indices repeat"):
            ProductWriter(exposure, tmp_path / "out.fits", [1, 1])
        with pytest.raises(ValueError, match="HDU 0 of .* is not a 2-D image"):
            ProductWriter(exposure, tmp_path / "out.fits", [0])
    assert sorted(os.listdir(tmp_path)) == ["mosaic.fits"]
