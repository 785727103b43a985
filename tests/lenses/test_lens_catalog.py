"""The catalogue: columns, WCS, writers (ecsv, csv, fits), ds9 regions, PNG cutouts."""

import numpy as np
import pytest
from astropy.table import Table
from lens_fixtures import tan_wcs

from crclean.exceptions import OutputError
from crclean.lenses import CATALOG_COLUMNS, cutout_thumbnail, make_catalog, write_catalog, write_cutouts, write_regions


@pytest.fixture
def catalog():
    wcs = tan_wcs((200, 200), 0.2)
    boxes = [[10.0, 20.0, 30.0, 40.0], [100.0, 100.0, 140.0, 120.0]]
    return make_catalog(boxes, [0.91, 0.99], tile="a.fits", wcs=wcs, pixel_scale=0.2,
                        theta_e_slope=1.0, theta_e_offset=-0.5), wcs


def test_columns_order_and_values(catalog):
    table, wcs = catalog
    assert tuple(table.colnames) == CATALOG_COLUMNS
    first = table[0]  # best score first
    assert first["score"] == pytest.approx(0.99) and first["id"] == 1
    assert (first["x"], first["y"]) == (119.5, 109.5)  # 0-based pixel centre of edges 100..140
    assert (first["xmin"], first["xmax"], first["ymin"], first["ymax"]) == (100, 139, 100, 119)
    ra, dec = wcs.pixel_to_world_values(119.5, 109.5)
    assert first["ra"] == pytest.approx(ra) and first["dec"] == pytest.approx(dec)
    assert first["theta_e_arcsec"] == pytest.approx((40 + 20) / 4 * 0.2 - 0.5)
    assert str(table["ra"].unit) == "deg"


@pytest.mark.parametrize("suffix", [".ecsv", ".csv", ".fits"])
def test_writers_round_trip_and_refuse_to_overwrite(tmp_path, catalog, suffix):
    table, _ = catalog
    path = write_catalog(table, tmp_path / f"cat{suffix}")
    back = Table.read(path)
    assert list(back["id"]) == [1, 2] and np.allclose(back["ra"], table["ra"])
    with pytest.raises(OutputError, match="exists; pass --overwrite"):
        write_catalog(table, path)
    write_catalog(table[:1], path, overwrite=True)
    assert len(Table.read(path)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"cat{suffix}"]  # no temporary left behind


def test_unknown_suffix_is_refused(tmp_path, catalog):
    with pytest.raises(OutputError, match="must be one of .ecsv, .csv, .fits"):
        write_catalog(catalog[0], tmp_path / "cat.txt")


def test_regions_in_sky_and_image_coordinates(tmp_path, catalog):
    table, _ = catalog
    text = write_regions(table, tmp_path / "a.reg").read_text()
    assert text.startswith("# Region file format: DS9") and "\nfk5\n" in text
    assert text.count("circle(") == 2 and "text={1 0.99}" in text
    table["ra"] = np.nan
    text = write_regions(table, tmp_path / "b.reg").read_text()
    assert "\nimage\n" in text and "box(120.50,110.50,40.00,20.00,0)" in text  # ds9 is 1-based


def test_cutouts_and_mosaic(tmp_path, catalog):
    table, _ = catalog
    image = np.random.default_rng(0).normal(size=(200, 200))
    thumbs = [cutout_thumbnail(image, row) for row in table]
    assert thumbs[0].shape == (96, 96, 3) and thumbs[0].dtype == np.uint8
    written = write_cutouts(table, thumbs, tmp_path / "cuts")
    assert [p.name for p in written] == ["lens_00001.png", "lens_00002.png", "mosaic.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in written)
    with pytest.raises(OutputError, match="exists"):
        write_cutouts(table, thumbs, tmp_path / "cuts")


def test_the_mosaic_labels_each_cutout_and_says_when_there_is_none(catalog):
    from crclean.lenses._catalog import mosaic_figure

    table, _ = catalog
    table.meta.update({"model": "rtdetr-lens-v9", "conf": 0.5})
    thumbs = [np.zeros((96, 96, 3), np.uint8) for _ in table]
    figure = mosaic_figure(table, thumbs)
    best_first = sorted(table, key=lambda row: -row["score"])
    assert [ax.get_title() for ax in figure.axes] == [f"id {row['id']}  {row['score']:.3f}" for row in best_first]
    assert figure._suptitle.get_text() == ("2 candidate(s) with score >= 0.5 (rtdetr-lens-v9)\n"
                                           "best first, each with its id and score")
    empty = mosaic_figure(table[:0], [])
    assert [text.get_text() for text in empty.texts] == ["no candidate with score >= 0.5 (rtdetr-lens-v9)"]


def test_outputs_get_the_permissions_of_a_normal_new_file(tmp_path, catalog):
    import os

    table, _ = catalog
    reference = tmp_path / "reference.txt"
    reference.write_text("x")
    mode = os.stat(reference).st_mode & 0o777
    written = [write_catalog(table, tmp_path / "c.ecsv"), write_catalog(table, tmp_path / "c.fits"),
               write_regions(table, tmp_path / "c.reg")]
    # A 0600 temporary file renamed into place would hide them from the group.
    assert [os.stat(path).st_mode & 0o777 for path in written] == [mode] * 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
