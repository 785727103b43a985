"""Strong-lens finding in survey tiles with an RT-DETR detector.

The path is io -> resample (reproject) -> sky subtraction (photutils) ->
windows -> RT-DETR -> NMS across windows -> catalogue with WCS. Cutouts
centred on objects take a shorter path (`LensFinder.score_cutouts`): sky
from their borders, one window each, one score each.

Examples
--------
>>> from crclean.lenses import LensFinder  # doctest: +SKIP
>>> result = LensFinder(conf=0.9).find(image, wcs=wcs, tile="tile.fits")  # doctest: +SKIP
>>> result.catalog["ra", "dec", "score"]  # doctest: +SKIP

References
----------
Zhao, Y. et al. 2024, "DETRs Beat YOLOs on Real-time Object Detection", CVPR.
"""

import importlib

# Name -> private module. Resolved on first use so that importing the
# manifest (as the CLI does to list models) does not pull in numpy and astropy.
_EXPORTS = {
    "CATALOG_COLUMNS": "_catalog", "CATALOG_FORMATS": "_catalog", "cutout_thumbnail": "_catalog",
    "make_catalog": "_catalog", "write_catalog": "_catalog", "write_cutouts": "_catalog",
    "write_regions": "_catalog",
    "CutoutScore": "_cutouts", "LensFinder": "_finder", "TileResult": "_finder",
    "DEFAULT_LENS_MODEL": "_manifest", "DEFAULT_MULTIBAND_LENS_MODEL": "_manifest", "LENS_MODELS": "_manifest",
    "get_lens_model": "_manifest",
    "normalise_image": "_normalise",
    "nms": "_windows", "plan_windows": "_windows",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"crclean.lenses.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'crclean.lenses' has no attribute {name!r}")
