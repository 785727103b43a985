"""Overlapping tiles and seamless stitching (numpy only)."""

from crclean.tiling._tiles import (
    MIN_IMAGE_SIZE,
    Stitcher,
    TilePlan,
    blend_window,
    pad_image,
    plan_tiles,
)

__all__ = ["MIN_IMAGE_SIZE", "Stitcher", "TilePlan", "blend_window", "pad_image", "plan_tiles"]
