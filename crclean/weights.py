"""The model registry: every model crclean can run, and safe loading of its weights.

One `ModelSpec` (`crclean._model_spec`) describes a cosmic-ray mask network (`MODELS`), the learned
inpainter (`INPAINT_MODELS`) or a lens finder (`crclean.lenses.LENS_MODELS`,
kept beside the lens finder's defaults); `registry` gives all three groups.
Each entry names an architecture and its config, the data the network was
trained for, the pixel units (or bands) and scaling it expects, its measured
quality, and where its checkpoint lives with the checkpoint's sha256; the
mask and inpainting entries live in `crclean._mask_manifest`.
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
from pathlib import Path
from types import MappingProxyType

from crclean._mask_manifest import AUTO_MODEL, AUTO_MODELS, DEFAULT_MODEL, INPAINT_MODELS, MODELS
from crclean._model_spec import TASKS, ModelSpec
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
