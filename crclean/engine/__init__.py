"""Batched inference: from an image to a cosmic-ray probability map."""

from crclean.engine._background import background_mesh, noise_normalise
from crclean.engine._masker import LacosmicMasker, NetworkMasker, default_batch_size, resolve_device
from crclean.engine._tiled import TILE_MULTIPLE, run_tiled
from crclean.engine._units import UNITS, to_model_units

__all__ = [
    "TILE_MULTIPLE",
    "UNITS",
    "LacosmicMasker",
    "NetworkMasker",
    "background_mesh",
    "default_batch_size",
    "noise_normalise",
    "resolve_device",
    "run_tiled",
    "to_model_units",
]
