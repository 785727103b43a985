"""The model manifest: every model crclean can run, and safe loading of its weights.

Each entry names an architecture and its config, the pixel units and scaling
the network was trained on, the instruments it is meant for, and where its
checkpoint lives with the checkpoint's sha256. Loading checks the sha256
before ``torch.load(..., weights_only=True)`` ever sees the file, and nothing
is downloaded: deepCR's weights are read from the installed ``deepCR``
package, crclean's own from ``weights/``.

This module imports torch only inside `load_network`, so listing models is
cheap.
"""

import hashlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from crclean.exceptions import ModelError

__all__ = [
    "AUTO_MODEL",
    "AUTO_MODELS",
    "DEFAULT_MODEL",
    "MODELS",
    "ModelSpec",
    "get_model",
    "weights_path",
    "sha256_of",
    "load_network",
    "verified_state_dict",
    "verify_weights",
    "SHIPPED_WEIGHTS_DIR",
]


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the manifest.

    Attributes
    ----------
    name : str
        What ``--model`` takes.
    kind : str
        ``'network'`` (a PyTorch mask network) or ``'lacosmic'`` (classical).
    instruments : str
        What the model was trained for, in words.
    units : str
        Pixel units the model expects: ``'adu'`` or ``'electron'``.
    scale : float
        The input is divided by this after unit conversion.
    normalisation : str
        ``'scale'`` (divide by ``scale``; deepCR) or ``'background'``
        (`crclean.engine.noise_normalise`: in units of the local sky noise,
        so gain, bias and units do not matter).
    tile_size, overlap : int
        Default tile side and overlap in pixels: the overlap is enough for
        the network's receptive field that the result does not depend on the
        tile size (measured), and the tile is large enough that the overlap
        costs little.
    arch, config : str, dict
        Registered architecture name and its constructor arguments.
    package, resource : str
        For weights inside an installed package: the top-level package and
        the path inside it. ``package`` is ``None`` for crclean's own weights,
        which live in ``weights/``.
    sha256 : str
        Checksum of the checkpoint file.
    version : str
        Version of the weights.
    reference : str
        Who made it, and the paper to cite.
    """

    name: str
    kind: str
    instruments: str
    units: str = "adu"
    scale: float = 1.0
    normalisation: str = "scale"
    tile_size: int = 256
    overlap: int = 32
    arch: str = ""
    config: dict = field(default_factory=dict)
    package: str = None
    resource: str = ""
    sha256: str = ""
    version: str = ""
    reference: str = ""


def _deepcr(name, resource, sha256, units, instruments):
    """A manifest entry for a mask network shipped in the deepCR package."""
    return ModelSpec(
        name=name, kind="network", instruments=instruments, units=units,
        arch="deepcr-unet", config={"hidden": 32}, package="learned_models",
        resource=resource, sha256=sha256, version="deepCR-0.3.1",
        reference="deepCR 0.3.1 pretrained weights (BSD 3-Clause), Zhang & Bloom 2020, ApJ 889, 24",
    )


def _own(name, resource, sha256, instruments, arch, config, *, tile_size, overlap):
    """A manifest entry for one of crclean's own mask networks (in weights/)."""
    return ModelSpec(
        name=name, kind="network", instruments=instruments, normalisation="background",
        tile_size=tile_size, overlap=overlap, arch=arch, config=config, package=None, resource=resource,
        sha256=sha256, version=resource.rsplit("-", 1)[-1].removesuffix(".pt"),
        reference=f"crclean, trained on crclean's simulations; model card weights/{resource[:-3]}.md",
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


MODELS = MappingProxyType(
    {
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
AUTO_MODELS = MappingProxyType({"ground": "crclean-ground", "space": "crclean-space"})

#: The model for images without a header (`crclean.clean_array`), as for a file
#: whose header names no space telescope. crclean's ground model beats deepCR,
#: Cosmic-CoNN and LA Cosmic on both ground sets of benchmarks/masks.py
#: (docs/benchmarks.md).
DEFAULT_MODEL = AUTO_MODELS["ground"]


def _shipped_weights_dir():
    # The top-level weights/ folder is installed as the data package
    # crclean._weights (see setup.py); a bare source checkout has it beside crclean/.
    found = importlib.util.find_spec("crclean._weights")
    if found is not None and found.submodule_search_locations:
        return Path(list(found.submodule_search_locations)[0])
    return Path(__file__).resolve().parent.parent / "weights"


#: crclean's own checkpoints and their model cards.
SHIPPED_WEIGHTS_DIR = _shipped_weights_dir()


def get_model(name):
    """Return the `ModelSpec` called ``name``.

    Raises
    ------
    ModelError
        If no model has that name; the message lists the known ones.
    """
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(MODELS)
        raise ModelError(
            f"unknown model {name!r}; choose one of: {known} (see `crclean models`)"
        ) from None


def weights_path(spec):
    """Locate a model's checkpoint file without importing anything.

    Returns
    -------
    pathlib.Path or None
        ``None`` for models without weights (LA Cosmic).

    Raises
    ------
    ModelError
        If the checkpoint is not installed.
    """
    if spec.kind != "network":
        return None
    if spec.package is None:
        path = SHIPPED_WEIGHTS_DIR / spec.resource
    else:
        # find_spec locates the package without running its __init__ (deepCR's
        # imports torch and tensorboard).
        found = importlib.util.find_spec(spec.package)
        if found is None or not found.submodule_search_locations:
            raise ModelError(
                f"model {spec.name!r} needs the weights that ship with the deepCR "
                "package, which is not installed; run `pip install deepCR`"
            )
        path = Path(list(found.submodule_search_locations)[0]) / spec.resource
    if not path.is_file():
        raise ModelError(f"weights of model {spec.name!r} not found at {path}; reinstall crclean")
    return path


def sha256_of(path):
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_sha256(path, sha256, *, label):
    actual = sha256_of(path)
    if actual != sha256:
        raise ModelError(
            f"checksum mismatch for {label} ({path}): expected {sha256[:12]}..., got "
            f"{actual[:12]}...; the file is damaged or not the one crclean was tested with; "
            "reinstall it"
        )


def verify_weights(spec):
    """Check that a model's checkpoint is installed and intact, without loading it.

    Raises
    ------
    ModelError
        Missing weights or a checksum mismatch.
    """
    path = weights_path(spec)
    if path is not None:
        _check_sha256(path, spec.sha256, label=f"model {spec.name!r}")


def verified_state_dict(path, sha256, *, label):
    """Check a checkpoint's sha256, then load it with ``weights_only=True``.

    Parameters
    ----------
    path : pathlib.Path
        The checkpoint.
    sha256 : str
        Expected hex digest (from a manifest).
    label : str
        Names the checkpoint in errors, e.g. ``"model 'x'"``.

    Returns
    -------
    dict
        The state dict, on the CPU.

    Raises
    ------
    ModelError
        On a checksum mismatch or an unreadable checkpoint.
    """
    import torch

    _check_sha256(path, sha256, label=label)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for bad pickles
        raise ModelError(f"cannot load {label} from {path}: {error}") from None


def load_network(spec, *, device="cpu"):
    """Build a model's network and load its verified weights.

    Parameters
    ----------
    spec : ModelSpec
        A ``kind == 'network'`` entry.
    device : str or torch.device, optional
        Where to put the network.

    Returns
    -------
    torch.nn.Module
        In evaluation mode, with gradients off.

    Raises
    ------
    ModelError
        Missing weights, a checksum mismatch, or a checkpoint that does not
        fit the architecture.
    """
    from crclean.models import build_network

    state = verified_state_dict(weights_path(spec), spec.sha256, label=f"model {spec.name!r}")
    if spec.package == "learned_models":
        from crclean.models._deepcr_unet import convert_deepcr_state_dict

        state = convert_deepcr_state_dict(state)
    network = build_network(spec.arch, spec.config)
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ModelError(f"weights of model {spec.name!r} do not fit its architecture: {error}") from None
    network.eval().requires_grad_(False)
    return network.to(device)
