"""FITS input and output for crclean.

Read an exposure, choose and read its 2-D image planes, find the data section
of raw frames, tell space data from ground data by its header, and write the cleaned products (data, DQ flags,
probability maps) with provenance keywords.

Examples
--------
>>> from crclean.io import open_exposure, select_planes, read_plane
>>> with open_exposure("raw.fits") as exposure:  # doctest: +SKIP
...     planes = [read_plane(exposure, index) for index in select_planes(exposure)]
"""

from crclean.io._instrument import DataKind, classify_headers
from crclean.io._paths import check_output_writable, output_path_for
from crclean.io._provenance import PROVENANCE_KEYWORDS, provenance_keywords
from crclean.io._read import Exposure, ImagePlane, open_exposure, read_dq, read_plane
from crclean.io._sections import SECTION_KEYWORDS, data_section, fits_section
from crclean.io._select import select_planes
from crclean.io._write import PlaneResult, ProductWriter, write_products

__all__ = [
    "ImagePlane",
    "Exposure",
    "open_exposure",
    "select_planes",
    "read_plane",
    "read_dq",
    "SECTION_KEYWORDS",
    "data_section",
    "fits_section",
    "output_path_for",
    "check_output_writable",
    "PlaneResult",
    "ProductWriter",
    "write_products",
    "PROVENANCE_KEYWORDS",
    "provenance_keywords",
    "DataKind",
    "classify_headers",
]
