"""crclean's mask and inpainting models: the entries of `crclean.weights.MODELS` and friends.

Kept apart from the lookup and loading code in `crclean.weights`, which
re-exports every name here: retraining a model changes this file only.
"""

from types import MappingProxyType

from crclean._model_spec import ModelSpec

__all__ = ["AUTO_MODEL", "AUTO_MODELS", "DEFAULT_MODEL", "INPAINT_MODELS", "MODELS"]


# Measured quality of the mask models, shown by `crclean models`: held-out simulated
# exposures of benchmarks/masks.py (docs/benchmarks.md, "Cosmic-ray masks"). Kept apart
# from the entries so that re-benchmarking a model touches one line here.
_MASK_QUALITY = {
    "crclean-ccd": "on the independent families of benchmarks/masks.py (never trained on), TPR at FPR 1e-4 "
                   "0.97 (thin ground CCD), 0.97 (thick), 0.98 (Rubin-like), 0.95 (dense space), 0.95 (real LSST "
                   "hits); precision at 95% recall 0.89, 0.97, 0.99, 0.99, 0.96 (docs/benchmarks.md)",
    "crclean-ground": "independent ground families: TPR at FPR 1e-4 0.93 (thin), 0.89 (thick), 0.97 "
                      "(Rubin-like); precision at 95% recall 0.34, 0.78, 0.96; dense space 0.58 "
                      "(docs/benchmarks.md); superseded by crclean-ccd",
    "crclean-ground-transunet": "as crclean-ground within 0.002 on TPR at FPR 1e-4 on crclean 0.1's benchmark "
                                "(its own simulator) at 4-6 times its time; superseded by crclean-ccd",
    "crclean-space": "independent dense space family: TPR at FPR 1e-4 0.78, precision at 95% recall 0.64 "
                     "(docs/benchmarks.md); superseded by crclean-ccd",
    "crclean-space-transunet": "as crclean-space on crclean 0.1's benchmark (its own simulator) at 3x its "
                               "time; superseded by crclean-ccd",
    "deepcr-decam": "independent families: TPR at FPR 1e-4 0.81 (thick ground CCD), 0.72 (thin), 0.39 (dense "
                    "space); precision at 95% recall 0.54, 0.005, 0.10 (docs/benchmarks.md)",
    "deepcr-acs-wfc": "independent families: TPR at FPR 1e-4 0.82 (dense space), 0.96 (thin ground CCD), 0.94 "
                      "(thick); precision at 95% recall 0.97, 0.76, 0.87 (docs/benchmarks.md)",
}


def _deepcr(name, resource, sha256, units, instruments):
    """A manifest entry for a mask network shipped in the deepCR package."""
    return ModelSpec(
        name=name, kind="network", instruments=instruments, units=units,
        arch="deepcr-unet", config={"hidden": 32}, package="learned_models",
        resource=resource, sha256=sha256, version="deepCR-0.3.1",
        reference="deepCR 0.3.1 pretrained weights (BSD 3-Clause), Zhang & Bloom 2020, ApJ 889, 24",
        quality=_MASK_QUALITY.get(name, ""),
    )


def _own(name, resource, sha256, instruments, arch, config, *, tile_size, overlap, **precision):
    """A manifest entry for one of crclean's own mask networks (in weights/).

    ``precision``: ``cpu_bfloat16`` and ``float32_blocks`` where measured (`ModelSpec`).
    """
    return ModelSpec(
        name=name, kind="network", instruments=instruments, normalisation="background",
        tile_size=tile_size, overlap=overlap, arch=arch, config=config, package=None, resource=resource,
        sha256=sha256, version=resource.rsplit("-", 1)[-1].removesuffix(".pt"),
        reference=f"crclean, trained on crclean's simulations; model card weights/{resource[:-3]}.md",
        quality=_MASK_QUALITY.get(name, ""), **precision,
    )


# The architectures crclean's models were trained with (training/configs/*.toml).
_TRANSUNET_SMALL = {"channels": [16, 32, 64], "embed_dim": 60, "depth": 6, "heads": 6,
                    "mlp_dim": 100, "norm": "batch", "window": 5}
_UNET_SMALL = {"channels": [16, 32, 64], "norm": "batch"}
# Stacked neighbourhood attention has a wide receptive field: on a 600 px
# exposure, 256-512 px tiles agree with one 1024 px tile to 1e-5 with a 160 px
# overlap (128 px: up to 6e-3; 96 px: 1e-2). The UNet's is small: 64 px give
# 1e-7 (48 px: 1e-4). 1024 px tiles keep the overlap's cost low.
_TRANSUNET_TILES = {"tile_size": 1024, "overlap": 160}
_UNET_TILES = {"tile_size": 1024, "overlap": 64}
# crclean-ccd's fourth level widens its receptive field: 256 px tiles agree
# with one 1024 px tile to 2e-5 with a 96 px overlap (64 px: 2e-2; 128 px: 1e-7).
_UNET_WIDE = {"channels": [12, 24, 48, 96], "norm": "batch"}
_UNET_WIDE_TILES = {"tile_size": 1024, "overlap": 96}


MODELS = MappingProxyType(
    {
        "crclean-ccd": _own(
            "crclean-ccd", "crclean-ccd-v28.pt",
            "27e4b7bf52200407bd9a55639eaae39243ed5e3a0b985a35595418e09b728152",
            "ground and space CCDs: thin to fully depleted sensors, PSF FWHM 1-6 px, round or elongated, "
            "sparse to dense cosmic rays; raw or calibrated, any units",
            "unet", {**_UNET_WIDE, "psf_inputs": True, "psf_skew": True}, **_UNET_WIDE_TILES, cpu_bfloat16=True,
            float32_blocks=("encoders.1", "encoders.2"),
        ),
        "crclean-ground": _own(
            "crclean-ground", "crclean-ground-unet-v1.pt",
            "60e8f6d325003e9b126b28d2d6225dd224f0426e725c0dec3eb4b75d5e950354",
            "ground-based CCDs, thin and thick (deep-depletion); raw or calibrated, any units",
            "unet", _UNET_SMALL, **_UNET_TILES,
        ),
        "crclean-ground-transunet": _own(
            "crclean-ground-transunet", "crclean-ground-v2.pt",
            "711ff1fe6e50d0656f8a2376ec1069f35b025983ef94f957d4a33b38bf42b719",
            "ground-based CCDs, thin and thick (deep-depletion); raw or calibrated, any units",
            "transunet", _TRANSUNET_SMALL, **_TRANSUNET_TILES,
        ),
        "crclean-space": _own(
            "crclean-space", "crclean-space-unet-v1.pt",
            "b7ed150a316e07b34deac7e63c5250f2cd6d22d5a695b2ba2d9f57f760dbc423",
            "HST ACS/WFC-like space CCDs (sharp, undersampled PSF); any units",
            "unet", _UNET_SMALL, **_UNET_TILES,
        ),
        "crclean-space-transunet": _own(
            "crclean-space-transunet", "crclean-space-v1.pt",
            "2642ec3c3721df7da4ce561bd7a6b69fadb69e38fd8c65ab46bf48e624f021f8",
            "HST ACS/WFC-like space CCDs (sharp, undersampled PSF); any units",
            "transunet", _TRANSUNET_SMALL, **_TRANSUNET_TILES,
        ),
        "deepcr-decam": _deepcr(
            "deepcr-decam", "mask/decam.pth",
            "686de2afab28d13b2bff3c418ecf017d0b290ca5e8c811ef71f673ce12230815", "adu",
            "DECam (Blanco 4 m) and similar ground-based CCDs; calibrated images in ADU",
        ),
        "deepcr-acs-wfc": _deepcr(
            "deepcr-acs-wfc", "mask/ACS-WFC.pth",
            "0075cef7a8b72f3ecf449cac3793d3446720a97fc0ba812fb29863a9be1e7ace", "electron",
            "HST ACS/WFC (F435W, F606W, F814W); _flc images in electrons",
        ),
        "lacosmic": ModelSpec(
            name="lacosmic",
            kind="lacosmic",
            instruments="any CCD (classical Laplacian edge detection; needs gain and read noise)",
            units="electron",
            version="ccdproc/astroscrappy",
            reference="van Dokkum 2001, PASP 113, 1420; McCully et al. 2018 (astroscrappy)",
        ),
    }
)

#: What ``--model`` and `crclean.Cleaner` take to choose the model per file from
#: its header (`crclean.io.classify_headers`); the default of both.
AUTO_MODEL = "auto"

#: The model ``auto`` uses for each kind of data: the one place to remap when a
#: model is retrained or replaced. Every value must be a name in `MODELS`.
#: crclean-ccd, trained on ground and space detectors alike, beat crclean-ground
#: on the independent ground families of benchmarks/masks.py and crclean-space
#: on the dense space one (docs/benchmarks.md), so it serves both kinds.
AUTO_MODELS = MappingProxyType({"ground": "crclean-ccd", "space": "crclean-ccd"})

#: The model for images without a header (`crclean.clean_array`), as for a file
#: whose header names no space telescope.
DEFAULT_MODEL = AUTO_MODELS["ground"]


#: The learned inpainter (``crclean mask --inpaint learned``;
#: weights/crclean-inpaint-v1.md is its model card). Tiles: the UNet's
#: receptive field reaches 22 px, inside the 24 px guard band of a 64 px
#: overlap, so a pixel's result does not depend on where tiles fall.
INPAINT_MODELS = MappingProxyType({
    "crclean-inpaint": ModelSpec(
        name="crclean-inpaint", kind="network", task="inpaint",
        instruments="ground-based and space CCDs (trained on crclean's ground_thin, ground_thick and space "
                    "simulations); any units", normalisation="background",
        tile_size=512, overlap=64, arch="unet", config={"channels": [16, 32, 64], "norm": "batch", "in_channels": 2},
        package=None, resource="crclean-inpaint-v1.pt",
        sha256="fc33e08a0c1e2c4ca1861a9a095edaedf26a36ebc40b39c39232df4b98da2d0b",
        version="v1", reference="crclean, trained on crclean's simulations; model card weights/crclean-inpaint-v1.md",
        quality="RMS of (fill - truth) / noise on cosmic-ray pixels 1.19 (thin ground CCD), 1.14 (thick), "
                "1.07 (HST-like), against 1.98, 1.46, 1.16 for the default `grow`; star fluxes better on "
                "ground data, worse on space data (median |dF|/F 0.46 against 0.30), so not the default "
                "(docs/benchmarks.md)",
    ),
})
