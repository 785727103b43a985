"""Simulated strong lenses and the training loop of crclean's lens finder.

Needs the ``[train]`` extra (lenstronomy). Nothing at run time imports this.
"""

from crclean.training.lenses._bank import StampBank, build_bank
from crclean.training.lenses._metrics import average_precision, iou_matrix, match_detections, paired_tile_bootstrap
from crclean.training.lenses._scene import Scene, compose_scene, gaussian_kernel, moffat_kernel
from crclean.training.lenses._train import (DEFAULT_TRAIN_CONFIG, load_lens_config, prepare_banks, sample_window,
                                            train_lenses)

__all__ = [
    "DEFAULT_TRAIN_CONFIG",
    "load_lens_config",
    "train_lenses",
    "prepare_banks",
    "sample_window",
    "build_bank",
    "compose_scene",
    "moffat_kernel",
    "gaussian_kernel",
    "Scene",
    "StampBank",
    "average_precision",
    "iou_matrix",
    "match_detections",
    "paired_tile_bootstrap",
]
