"""Reading ahead and writing behind while the network runs (crclean._overlap, Cleaner.clean_file)."""

import gzip
import os
import threading

import numpy as np
import pytest

from crclean import Cleaner
from crclean._overlap import run_overlapped

from test_streaming_write import ccd_mosaic, many_extensions


def _recording_stages(fail=None):
    """read/compute/write that log (stage, item, thread) and raise where ``fail`` says."""
    log = []

    def stage(name):
        def run(item, *rest):
            log.append((name, item, threading.current_thread().name))
            if fail == (name, item):
                raise RuntimeError(f"{name} failed on {item}")
            return rest[0] + 1 if rest else item * 10

        return run

    return log, stage("read"), stage("compute"), stage("write")


@pytest.mark.parametrize("overlap", [True, False])
def test_every_item_goes_through_the_three_stages_in_order(overlap):
    log, read, compute, write = _recording_stages()
    written = []
    run_overlapped(range(5), read, compute, lambda result: written.append(result) or write(result),
                   overlap=overlap)
    assert written == [item * 10 + 1 for item in range(5)]
    for name in ("read", "compute"):
        assert [item for stage, item, _ in log if stage == name] == list(range(5))
    threads = {name: {thread for stage, _, thread in log if stage == name} for name in ("read", "compute", "write")}
    main = threading.main_thread().name
    assert threads["compute"] == {main}
    if overlap:
        assert all(thread.startswith("crclean-read") for thread in threads["read"])
        assert all(thread.startswith("crclean-write") for thread in threads["write"])
    else:
        assert threads["read"] == threads["write"] == {main}


def test_the_next_item_is_read_while_this_one_computes():
    next_read = threading.Event()

    def read(item):
        if item == 1:
            next_read.set()
        return item

    def compute(item, inputs):
        if item == 0:  # the read of item 1 must start while item 0 is still computing
            assert next_read.wait(timeout=10)
        return inputs

    run_overlapped(range(3), read, compute, lambda result: None)


@pytest.mark.parametrize("fail, computed, written", [
    (("read", 2), [0, 1], [1, 11]),
    (("compute", 2), [0, 1, 2], [1, 11]),
    (("write", 11), [0, 1, 2], [1, 11]),  # image 2 was computing while image 1 was written
])
def test_a_failure_stops_the_run_with_the_sequential_error(fail, computed, written):
    log, read, compute, write = _recording_stages(fail)
    with pytest.raises(RuntimeError, match=f"{fail[0]} failed on {fail[1]}"):
        run_overlapped(range(6), read, compute, write)
    assert [item for stage, item, _ in log if stage == "compute"] == computed
    # At most one image is read ahead of the one computing, and nothing is written after a failure.
    assert max(item for stage, item, _ in log if stage == "read") <= computed[-1] + 1
    assert [item for stage, item, _ in log if stage == "write"] == written


def test_an_earlier_write_error_wins_over_a_later_compute_error():
    def write(result):
        raise OSError(28, "No space left on device")

    def compute(item, inputs):
        if item == 1:
            raise RuntimeError("model failed")
        return item

    with pytest.raises(OSError, match="No space left"):
        run_overlapped(range(3), lambda item: item, compute, write)


def _content(path):
    """A product's bytes, uncompressed for .gz (gzip's header holds a time stamp)."""
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


class _BrightPixels:
    """A cheap stand-in model: pixels far above the median are cosmic rays."""

    def predict(self, data, **kwargs):
        return (data > np.median(data) + 2000.0).astype(np.float32)


@pytest.mark.parametrize("suffix", [".fits", ".fits.gz", ".fits.fz"])
def test_overlapped_products_are_identical_to_sequential_ones(tmp_path, suffix):
    source = many_extensions(tmp_path / f"many{suffix}")  # DQs before and after their images, a table
    cleaner = Cleaner("lacosmic", inpaint="median")
    cleaner._masker = _BrightPixels()
    products = {}
    for overlap in (False, True):
        output = tmp_path / f"out-{overlap}{suffix}"
        report = cleaner.clean_file(source, output, write_probability=True, overlap_io=overlap)
        products[overlap] = _content(output)
        assert [plane.label for plane in report.planes] == [f"SCI,{ver}" for ver in range(1, 13)]
        assert sum(plane.n_flagged for plane in report.planes) > 0
    assert products[True] == products[False]
    assert sorted(os.listdir(tmp_path)) == sorted([source.name, f"out-False{suffix}", f"out-True{suffix}"])


def test_a_network_gives_the_same_product_overlapped(tmp_path):
    source = ccd_mosaic(tmp_path / "mosaic.fits", 4)
    cleaner = Cleaner("crclean-ccd", device="cpu")
    outputs = [tmp_path / "sequential.fits", tmp_path / "overlapped.fits"]
    reports = [cleaner.clean_file(source, output, overlap_io=overlap)
               for output, overlap in zip(outputs, (False, True))]
    assert outputs[0].read_bytes() == outputs[1].read_bytes()
    assert [p.n_flagged for p in reports[0].planes] == [p.n_flagged for p in reports[1].planes]
    assert all(p.n_flagged > 0 for p in reports[1].planes)
