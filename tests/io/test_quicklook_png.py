"""Quick-look PNGs: readable like any other output, written atomically."""

import os
import zlib

import numpy as np

from crclean.io._quicklook import write_png


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
