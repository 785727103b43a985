"""The lens finders crclean ships, and loading their verified weights.

Entries are `crclean.weights.ModelSpec` with ``task='lens'``, like every other
model (`crclean.weights.registry`); this module keeps them beside the lens
finder's defaults. Free of numpy and torch, so listing models stays cheap.
"""

from types import MappingProxyType

from crclean.exceptions import ModelError
from crclean.weights import ModelSpec

__all__ = ["LENS_MODELS", "DEFAULT_LENS_MODEL", "DEFAULT_MULTIBAND_LENS_MODEL", "PLAUSIBLE_PIXEL_SCALE",
           "REMOVED_LENS_MODELS", "get_lens_model", "load_lens_network", "removed_checkpoint_hint"]

#: Arcsec per pixel that a tile's stated scale (a header keyword, or `--pixel-scale`) must lie within:
#: outside it, the number is not the scale of an imaging survey (degrees, or a typo). Kept here, free of
#: numpy, because the command line's option is built from it.
PLAUSIBLE_PIXEL_SCALE = (0.01, 10.0)

_RTDETR = "RT-DETR (Zhao et al. 2024, CVPR) trained by crclean on lenstronomy simulations only"
_SURVEYS = "ground-based wide surveys with 0.5-1.3 arcsec seeing (DES, LSST, KiDS, HSC); not space data"

LENS_MODELS = MappingProxyType({
    "rtdetr-lens-v9": ModelSpec(
        name="rtdetr-lens-v9", kind="network", task="lens", arch="rtdetr", config={}, pixel_scale=0.2,
        tile_size=128, overlap=48, resource="rtdetr-lens-v9.pt",
        sha256="ad2d8b0c1cd87faef825916d3dae0f6fb0b6e5629ea4e69165060609fcf7595d",
        version="9", theta_e_slope=1.058, theta_e_offset=-0.829, score_slope=2.010, score_offset=-0.964,
        instruments=_SURVEYS,
        reference=f"{_RTDETR}; model card weights/rtdetr-lens-v9.md",
        quality="AP@50 0.736 on crclean's simulated tiles, 0.883 on an independent simulator's; at conf 0.9 "
                "completeness 0.46 and 0.78 with 6 and 33 false positives per deg^2 (docs/benchmarks.md); "
                "AUROC 0.73 on out-of-family cutouts (benchmarks/lens_cutouts.py); unmeasured on real tiles",
    ),
    "rtdetr-lens-v20": ModelSpec(
        name="rtdetr-lens-v20", kind="network", task="lens", arch="rtdetr", config={"in_channels": 3},
        pixel_scale=0.2, tile_size=128, overlap=48, resource="rtdetr-lens-v20.pt",
        sha256="3fa8a575ca51c959990c27b184902c928aa0a3ab46e617fcba1672364e84b83b",
        version="20", theta_e_slope=1.096, theta_e_offset=-0.937, score_slope=2.430, score_offset=-0.789,
        instruments=_SURVEYS,
        reference=f"{_RTDETR}; model card weights/rtdetr-lens-v20.md",
        quality="AP@50 0.839 on crclean's simulated tiles, 0.990 on an independent simulator's; at conf 0.9 "
                "completeness 0.69 and 0.99 with 12 and 18 false positives per deg^2 (docs/benchmarks.md); "
                "AUROC 0.66 on out-of-family cutouts (benchmarks/lens_cutouts.py); unmeasured on real tiles",
        bands=("g", "r", "i"),
    ),
})

#: What ``crclean lenses`` uses for a tile given as one file.
DEFAULT_LENS_MODEL = "rtdetr-lens-v9"

#: What ``crclean lenses`` uses for tiles given as one file per band (a ``{band}`` pattern).
DEFAULT_MULTIBAND_LENS_MODEL = "rtdetr-lens-v20"

#: Lens models that earlier versions shipped -> the commit whose ``weights/<name>.pt`` holds their
#: checkpoint. rtdetr-lens-v7 and -v8 were never offered by name; they are here because the
#: configs that lead to rtdetr-lens-v9 start from them (docs/lens-experiments.md).
REMOVED_LENS_MODELS = MappingProxyType({
    "rtdetr-lens-v0": "13fb493b791e", "rtdetr-lens-v1": "a927162c3b22", "rtdetr-lens-v2": "3569b2e8e337",
    "rtdetr-lens-v3": "de5729e49226", "rtdetr-lens-v7": "9f742c8ba065", "rtdetr-lens-v8": "becd0300b153",
    "rtdetr-lens-v12": "97869688e5ee", "rtdetr-lens-v13": "a4bed919af58", "rtdetr-lens-v14": "31c5af5957ee",
    "rtdetr-lens-v15": "f5ee126a5866", "rtdetr-lens-v17": "ba1a2bde08b7",
})

_NEVER_OFFERED = ("rtdetr-lens-v7", "rtdetr-lens-v8")


def removed_checkpoint_hint(name):
    """How to get a removed lens checkpoint back from git, or ``""`` for a name that was never shipped."""
    commit = REMOVED_LENS_MODELS.get(name)
    if commit is None:
        return ""
    return f"git show {commit}:weights/{name}.pt > weights/{name}.pt"


def get_lens_model(name):
    """The lens `ModelSpec` called ``name``.

    Raises
    ------
    ModelError
        For a name crclean no longer ships (naming the replacement), or an
        unknown one (listing the known ones).
    """
    try:
        return LENS_MODELS[name]
    except (KeyError, TypeError):
        pass
    if name in REMOVED_LENS_MODELS and name not in _NEVER_OFFERED:
        raise ModelError(f"lens model {name!r} was removed in crclean 0.2; use {DEFAULT_LENS_MODEL} (one band) or "
                         f"{DEFAULT_MULTIBAND_LENS_MODEL} (g, r, i)")
    raise ModelError(f"unknown lens model {name!r}; choose one of: {', '.join(LENS_MODELS)} (see `crclean models`)")


def load_lens_network(spec, *, device="cpu"):
    """The network of lens model ``spec`` with its checksum-verified weights (`crclean.weights.load_network`).

    Raises
    ------
    ModelError
        If the weights are missing, damaged, or do not fit the architecture.
    """
    from crclean.weights import load_network

    return load_network(spec, device=device)
