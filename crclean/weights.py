"""The model registry: every model crclean can run, and safe loading of its weights.

One `ModelSpec` describes a cosmic-ray mask network (`MODELS`), the learned
inpainter (`INPAINT_MODELS`) or a lens finder (`crclean.lenses.LENS_MODELS`,
kept beside the lens finder's defaults); `registry` gives all three groups.
Each entry names an architecture and its config, the data the network was
trained for, the pixel units (or bands) and scaling it expects, its measured
quality, and where its checkpoint lives with the checkpoint's sha256.
`load_network`, the one loader, checks the sha256 before
``torch.load(..., weights_only=True)`` ever sees the file. Nothing is
downloaded: deepCR's weights are read from the installed ``deepCR`` package
(extra ``crclean[deepcr]``), crclean's own from ``weights/``.

This module imports torch only inside `load_network`, so listing models is
cheap.
"""

import hashlib
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from crclean.exceptions import MissingExtraError, ModelError

__all__ = [
    "AUTO_MODEL",
    "AUTO_MODELS",
    "DEFAULT_MODEL",
    "INPAINT_MODELS",
    "MODELS",
    "TASKS",
    "ModelSpec",
    "get_model",
    "registry",
    "weights_path",
    "sha256_of",
    "load_network",
    "verified_state_dict",
    "verify_weights",
    "SHIPPED_WEIGHTS_DIR",
]


#: What a model does, in the order `crclean models` lists them.
TASKS = ("mask", "inpaint", "lens")


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the registry: a mask, inpainting or lens-finding model.

    Attributes
    ----------
    name : str
        What ``--model`` takes.
    kind : str
        ``'network'`` (a PyTorch network with a checkpoint) or ``'lacosmic'``
        (classical, no weights).
    instruments : str
        The data the model is meant for, in words.
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
        costs little. For a lens finder: the window fed to the network and
        the pixels neighbouring windows share (wider than the largest lens).
    arch, config : str, dict
        Registered architecture name and its constructor arguments.
    package, resource : str
        For weights inside an installed package: the top-level package and
        the path inside it. ``package`` is ``None`` for crclean's own weights,
        whose file ``resource`` lives in ``weights/``.
    sha256 : str
        Checksum of the checkpoint file.
    version : str
        Version of the weights.
    reference : str
        Who made it, and the paper to cite (or the model card).
    task : str
        One of `TASKS`: ``'mask'``, ``'inpaint'`` or ``'lens'``.
    quality : str
        The measured quality a user needs to choose, in words, with where it
        was measured; empty when not measured here (see the model card).
    cpu_bfloat16 : bool
        Mask networks: whether ``--precision auto`` may run it under bfloat16
        on a CPU with native bfloat16 units. Only for a model whose bfloat16
        masks were measured within `crclean._precision.MASK_TOLERANCE`
        (``benchmarks/precision.py`` and ``tests/engine/test_precision.py``).
    pixel_scale : float
        Lens finders: arcsec per pixel the model was trained at; tiles are
        resampled to it.
    bands : tuple of str
        Lens finders: filters of a multi-band model, in the order of its
        input channels (its ``config`` has ``in_channels`` equal to their
        number); empty for a model that takes any one image.
    theta_e_slope, theta_e_offset : float
        Lens finders: ``theta_E ~ slope * (mean box half-side in arcsec) +
        offset``, fitted on the training simulations.
    score_slope, score_offset : float
        Lens finders: score calibration ``sigmoid(slope * logit(raw) +
        offset)`` (Platt 1999), fitted on held-out simulated windows.
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
    task: str = "mask"
    quality: str = ""
    cpu_bfloat16: bool = False
    pixel_scale: float = 0.2
    bands: tuple = ()
    theta_e_slope: float = 1.0
    theta_e_offset: float = 0.0
    score_slope: float = 1.0
    score_offset: float = 0.0

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"model {self.name!r}: task must be one of {TASKS}, got {self.task!r}")
        if self.task != "lens":
            return
        channels = self.config.get("in_channels", 1)
        if self.bands and (channels != len(self.bands) or len(set(self.bands)) != len(self.bands)):
            raise ValueError(f"lens model {self.name!r}: bands {self.bands} need in_channels = {len(self.bands)} "
                             f"and distinct names, got in_channels = {channels}")
        if not self.bands and channels != 1:
            raise ValueError(f"lens model {self.name!r} has {channels} input channels but names no bands")

    @property
    def n_bands(self):
        """Images a lens finder takes per tile: one per band, or one for a single-band model."""
        return len(self.bands) or 1


# Measured quality of the mask models, shown by `crclean models`: held-out simulated
# exposures of benchmarks/masks.py (docs/benchmarks.md, "Cosmic-ray masks"). Kept apart
# from the entries so that re-benchmarking a model touches one line here.
_MASK_QUALITY = {
    "crclean-ccd": "on the independent families of benchmarks/masks.py (never trained on), TPR at FPR 1e-4 "
                   "0.95 (thin ground CCD), 0.98 (thick), 0.98 (Rubin-like), 0.97 (dense space), 0.95 (real LSST "
                   "hits); precision at 95% recall 0.65, 0.99, 0.97, 1.00, 0.96 (docs/benchmarks.md)",
    "crclean-ground": "independent ground families: TPR at FPR 1e-4 0.91 (thin), 0.96 (thick), 0.97 "
                      "(Rubin-like); precision at 95% recall 0.09, 0.94, 0.95; dense space 0.77 "
                      "(docs/benchmarks.md); superseded by crclean-ccd",
    "crclean-ground-transunet": "as crclean-ground within 0.002 on TPR at FPR 1e-4 on crclean 0.1's benchmark "
                                "(its own simulator) at 4-6 times its time; superseded by crclean-ccd",
    "crclean-space": "independent dense space family: TPR at FPR 1e-4 0.74, precision at 95% recall 0.65 "
                     "(docs/benchmarks.md); superseded by crclean-ccd",
    "crclean-space-transunet": "as crclean-space on crclean 0.1's benchmark (its own simulator) at 3x its "
                               "time; superseded by crclean-ccd",
    "deepcr-decam": "independent families: TPR at FPR 1e-4 0.92 (thick ground CCD), 0.76 (thin), 0.49 (dense "
                    "space); precision at 95% recall 0.81, 0.01, 0.11 (docs/benchmarks.md)",
    "deepcr-acs-wfc": "independent families: TPR at FPR 1e-4 0.86 (dense space), 0.95 (thin ground CCD), 0.96 "
                      "(thick); precision at 95% recall 0.97, 0.63, 0.96 (docs/benchmarks.md)",
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


def _own(name, resource, sha256, instruments, arch, config, *, tile_size, overlap):
    """A manifest entry for one of crclean's own mask networks (in weights/)."""
    return ModelSpec(
        name=name, kind="network", instruments=instruments, normalisation="background",
        tile_size=tile_size, overlap=overlap, arch=arch, config=config, package=None, resource=resource,
        sha256=sha256, version=resource.rsplit("-", 1)[-1].removesuffix(".pt"),
        reference=f"crclean, trained on crclean's simulations; model card weights/{resource[:-3]}.md",
        quality=_MASK_QUALITY.get(name, ""),
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
            "crclean-ccd", "crclean-ccd-v6.pt",
            "13d868d9f732baf4fcebdaadef83024513cbbd76b827f0fa0fbbb57f566a4381",
            "ground and space CCDs: thin to fully depleted sensors, PSF FWHM 1-6 px, sparse to dense "
            "cosmic rays; raw or calibrated, any units",
            "unet", _UNET_WIDE, **_UNET_WIDE_TILES,
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


def registry():
    """Every model crclean offers, by task: ``{'mask': ..., 'inpaint': ..., 'lens': ...}``.

    Each value is a read-only name -> `ModelSpec` mapping. The lens finders'
    entries live beside their defaults in `crclean.lenses` (whose manifest
    imports this module, hence the import here).
    """
    from crclean.lenses._manifest import LENS_MODELS

    return MappingProxyType({"mask": MODELS, "inpaint": INPAINT_MODELS, "lens": LENS_MODELS})


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
            raise MissingExtraError(
                f"model {spec.name!r} needs the weights that ship with the deepCR "
                'package, which is not installed; run `pip install "crclean[deepcr]"` '
                "or choose a crclean model (see `crclean models`)", extra="deepcr"
            )
        path = Path(list(found.submodule_search_locations)[0]) / spec.resource
    if not path.is_file():
        raise ModelError(f"weights of {_label(spec)} not found at {path}; reinstall crclean")
    return path


def _label(spec):
    """How errors name a model: ``"model 'x'"``, ``"lens model 'x'"``."""
    return f"{'lens model' if spec.task == 'lens' else 'model'} {spec.name!r}"


def sha256_of(path):
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# Checkpoints this process has hashed and found intact, by what identifies the file's
# contents on disk: (device, inode, size, mtime in ns) -> sha256. A batch verifies its model
# when it starts and again when it loads it; the second check is then a stat. Any change to the
# file (rewritten, replaced, touched) changes the key and the file is hashed again; only an
# in-place rewrite of the same size within the file system's time-stamp resolution would pass,
# and the file may change between any check and torch.load anyway. Kept in this process only:
# a cache on disk could be edited along with the weights it vouches for.
_VERIFIED = {}


def _file_key(path):
    status = os.stat(path)
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


def _check_sha256(path, sha256, *, label):
    key = _file_key(path)
    if _VERIFIED.get(key) == sha256:
        return
    actual = sha256_of(path)
    if actual != sha256:
        raise ModelError(
            f"checksum mismatch for {label} ({path}): expected {sha256[:12]}..., got "
            f"{actual[:12]}...; the file is damaged or not the one crclean was tested with; "
            "reinstall it"
        )
    if _file_key(path) == key:  # unchanged while it was read
        _VERIFIED[key] = sha256


def verify_weights(spec):
    """Check that a model's checkpoint is installed and intact, without loading it.

    Raises
    ------
    ModelError
        Missing weights or a checksum mismatch.
    """
    path = weights_path(spec)
    if path is not None:
        _check_sha256(path, spec.sha256, label=_label(spec))


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
        A ``kind == 'network'`` entry of any task (mask, inpaint, lens).
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

    state = verified_state_dict(weights_path(spec), spec.sha256, label=_label(spec))
    if spec.package == "learned_models":
        from crclean.models._deepcr_unet import convert_deepcr_state_dict

        state = convert_deepcr_state_dict(state)
    network = build_network(spec.arch, spec.config)
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ModelError(f"weights of {_label(spec)} do not fit its architecture: {error}") from None
    network.eval().requires_grad_(False)
    return network.to(device)
