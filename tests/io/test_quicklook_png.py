"""Quick-look PNGs: titled panels, one stretch, a zoom; readable like any other output, written atomically."""

import os
import zlib

import numpy as np
import pytest

from crclean.io._quicklook import densest_window, parse_fits_section, quicklook_figure, write_png, write_quicklook


def test_png_gets_the_permissions_of_a_normal_new_file(tmp_path):
    reference = tmp_path / "reference.txt"
    reference.write_text("x")
    path = tmp_path / "look.png"
    write_png(path, np.zeros((4, 5, 3), np.uint8))
    # mkstemp would leave 0600, unreadable to the rest of a pipeline's group.
    assert os.stat(path).st_mode & 0o777 == os.stat(reference).st_mode & 0o777
    assert sorted(p.name for p in tmp_path.iterdir()) == ["look.png", "reference.txt"]


def test_png_holds_the_image(tmp_path):
    rgb = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    path = tmp_path / "look.png"
    write_png(path, rgb)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    start = data.index(b"IDAT") + 4
    length = int.from_bytes(data[start - 8 : start - 4], "big")
    rows = np.frombuffer(zlib.decompress(data[start : start + length]), np.uint8).reshape(4, 16)
    np.testing.assert_array_equal(rows[:, 1:].reshape(4, 5, 3), rgb)


def _exposure(shape=(300, 400), seed=0):
    rng = np.random.default_rng(seed)
    image = rng.normal(1000.0, 10.0, shape)
    mask = np.zeros(shape, bool)
    mask[200:204, 300:330] = True  # a track, the densest hits
    mask[20, 20] = True
    image[mask] += 5000.0
    cleaned = image.copy()
    cleaned[mask] = 1000.0
    return image, mask, cleaned


def test_fits_sections_are_parsed_one_based_columns_first():
    assert parse_fits_section("[11:20,31:40]") == (slice(30, 40), slice(10, 20))
    assert parse_fits_section(" [1:16, 5:100] ") == (slice(4, 100), slice(0, 16))
    with pytest.raises(ValueError, match=r"'30:40,10:20' is not a FITS section; write it as \[X1:X2,Y1:Y2\]"):
        parse_fits_section("30:40,10:20")
    with pytest.raises(ValueError, match="from a lower to a higher pixel, counting from 1"):
        parse_fits_section("[20:11,1:5]")


def test_the_zoom_goes_to_the_densest_hits_and_stays_inside_the_image():
    _, mask, _ = _exposure()
    rows, cols = densest_window(mask, side=64)
    assert mask[rows, cols].sum() == mask[200:204, 300:330].sum()
    assert (rows, cols) == (slice(169, 233), slice(282, 346))  # centred on the track
    edge = np.zeros((100, 100), bool)
    edge[0, 99] = True
    assert densest_window(edge, side=64) == (slice(0, 64), slice(36, 100))
    assert densest_window(np.zeros((50, 50), bool)) is None


def test_panels_are_titled_and_input_and_cleaned_share_one_stretch():
    image, mask, cleaned = _exposure()
    figure = quicklook_figure(image, mask, cleaned, title="ground.fits [HDU 0]: crclean-ground")
    assert [ax.get_title() for ax in figure.axes] == [
        "input", f"mask: {mask.sum()} px flagged", "cleaned",
        "input, [235:394,122:281] (most hits)", "mask: 120 px flagged, [235:394,122:281] (most hits)",
        "cleaned, [235:394,122:281] (most hits)"]
    heading = figure._suptitle.get_text()
    assert heading.startswith("ground.fits [HDU 0]: crclean-ground\nzscale ")
    assert heading.endswith(", the same for input and cleaned")
    # Unflagged pixels, the same in both images, are drawn the same in both.
    shown_in, shown_out = (ax.get_images()[0].get_array() for ax in (figure.axes[3], figure.axes[5]))
    keep = ~mask[densest_window(mask)]
    np.testing.assert_array_equal(np.asarray(shown_in)[keep], np.asarray(shown_out)[keep])
    assert np.asarray(shown_in)[~keep].min() == 1.0  # the hits saturate the input
    # Without a flagged pixel there is nothing to zoom on, and the heading says so.
    quiet = quicklook_figure(image, np.zeros_like(mask), image)
    assert len(quiet.axes) == 3 and quiet._suptitle.get_text().endswith("no pixel flagged, so no zoom")


def test_the_stretch_ignores_overscan_outside_the_data_section():
    image, mask, cleaned = _exposure()
    framed, framed_clean = (np.pad(plane, ((0, 0), (0, 40)), constant_values=0.0) for plane in (image, cleaned))
    framed_mask = np.pad(mask, ((0, 0), (0, 40)))
    data = (slice(0, 300), slice(0, 400))
    alone = quicklook_figure(image, mask, cleaned)._suptitle.get_text()
    with_overscan = quicklook_figure(framed, framed_mask, framed_clean, data_section=data)._suptitle.get_text()
    assert with_overscan.replace(" (measured on the data section [1:400,1:300])", "") == alone


def test_an_asked_region_is_shown_and_one_outside_the_image_is_refused(tmp_path):
    image, mask, cleaned = _exposure()
    region = parse_fits_section("[1:50,1:40]")
    figure = quicklook_figure(image, mask, cleaned, region=region)
    assert figure.axes[3].get_title() == "input, [1:50,1:40] (as asked)"
    with pytest.raises(ValueError, match=r"the quick-look region \[501:600,1:40\] lies outside the 400x300 pixel"):
        quicklook_figure(image, mask, cleaned, region=parse_fits_section("[501:600,1:40]"))
    path = tmp_path / "look.png"
    write_quicklook(path, image, mask, cleaned, region=region)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
