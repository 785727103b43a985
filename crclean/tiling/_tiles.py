"""Overlapping tiles, smooth blend weights and stitching.

The image is padded once (reflect) by half the overlap on every side, then
covered by tiles whose origins sit on a regular grid. ``tile_size`` is the
largest tile side; along each axis the tiles are shrunk, in steps of the
model's alignment, to the smallest length that still needs no more tiles, so
a 2048 px wide CCD is covered by three 816 px tiles rather than three of
1024 px that run far past its edge. Each tile's prediction is multiplied by a separable
window that is exactly zero in a guard band at the tile border (where a
convolution sees the tile's own zero padding) and rises smoothly to one;
the weighted sum is divided by the summed weights. Because the padding is the
same whatever the tile size, and the tile origins are multiples of the model's
alignment, a pixel's result does not depend on where tile borders fall.
Unlike deepCR's non-overlapping patches there are no seams, and unlike
Cosmic-CoNN no border rows are left unprocessed.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["TilePlan", "plan_tiles", "blend_window", "Stitcher", "MIN_IMAGE_SIZE"]

#: Smallest image side crclean accepts; below this an image is a spectrum or
#: a cutout too small for a 2-D model to see context.
MIN_IMAGE_SIZE = 16


@dataclass(frozen=True)
class TilePlan:
    """Where tiles go for one image.

    Attributes
    ----------
    shape : tuple of int
        Shape of the original image.
    padded_shape : tuple of int
        Shape after padding; every tile lies inside it.
    pad : tuple of tuple of int
        ``((top, bottom), (left, right))`` padding, as for `numpy.pad`.
    origins : list of tuple of int
        ``(row, col)`` of each tile's first pixel in the padded image.
    tile_size, overlap : int
        As requested (``tile_size`` is the largest tile side).
    tile_shape : tuple of int
        ``(rows, cols)`` of every tile of this plan, each at most
        ``tile_size``.
    """

    shape: tuple
    padded_shape: tuple
    pad: tuple
    origins: list
    tile_size: int
    overlap: int
    tile_shape: tuple

    @property
    def n_tiles(self):
        return len(self.origins)


def _validate(shape, tile_size, overlap, multiple):
    if len(shape) != 2:
        raise ValueError(f"shape must be 2-D, got {shape!r}")
    if min(shape) < MIN_IMAGE_SIZE:
        raise ValueError(
            f"image is {shape[0]}x{shape[1]} pixels; crclean needs at least "
            f"{MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE} pixels per image"
        )
    if tile_size < 2 * multiple or tile_size % multiple:
        raise ValueError(
            f"tile_size must be a multiple of {multiple} and at least {2 * multiple}, "
            f"got {tile_size}"
        )
    if overlap < 0 or overlap % multiple or overlap > tile_size // 2:
        raise ValueError(
            f"overlap must be a multiple of {multiple} between 0 and tile_size/2 "
            f"({tile_size // 2}), got {overlap}"
        )


def plan_tiles(shape, tile_size, overlap, *, multiple=16):
    """Plan overlapping tiles covering an image.

    Parameters
    ----------
    shape : tuple of int
        Image shape ``(ny, nx)``; each side at least `MIN_IMAGE_SIZE`.
    tile_size : int
        Largest tile side in pixels, a multiple of `multiple`.
    overlap : int
        Pixels shared by neighbouring tiles, a multiple of `multiple`, at
        most ``tile_size // 2``.
    multiple : int, optional
        Alignment the model needs (its total down-sampling factor).

    Returns
    -------
    TilePlan
    """
    _validate(shape, tile_size, overlap, multiple)
    # Half the overlap of reflected context on each side, so edge pixels get
    # the same treatment as interior ones.
    margin = overlap // 2
    pad, padded, starts, tile_shape = [], [], [], []
    for n in shape:
        inner = n + 2 * margin
        n_tiles = max(1, -(-(inner - tile_size) // (tile_size - overlap)) + 1)
        # The shortest step (a multiple of the alignment, so every origin
        # stays on the same grid whatever the tile size) that covers the axis
        # with n_tiles tiles.
        step = -(-(inner - overlap) // n_tiles)
        step = -(-step // multiple) * multiple
        length = step + overlap
        total = (n_tiles - 1) * step + length
        pad.append((margin, total - n - margin))
        padded.append(total)
        starts.append([i * step for i in range(n_tiles)])
        tile_shape.append(length)
    origins = [(r, c) for r in starts[0] for c in starts[1]]
    return TilePlan(tuple(shape), tuple(padded), tuple(pad), origins, tile_size, overlap,
                    tuple(tile_shape))


def blend_window(tile_shape, overlap):
    """2-D blend weights for one tile.

    The 1-D profile rises over a short raised-cosine ramp of
    ``min(overlap // 2, 16)`` pixels after a zero-weight guard band that takes
    the rest of half the overlap, and is one in the middle. The guard band is
    where a tile's own edge (its zero padding) still reaches the prediction,
    so the wider the network's receptive field, the larger the overlap it
    needs (each model declares its own). Neighbouring tiles' ramps overlap, so
    every pixel of the image gets a positive total weight.

    Parameters
    ----------
    tile_shape : int or tuple of int
        Tile side, or ``(rows, cols)``.
    overlap : int
        As for `plan_tiles`.

    Returns
    -------
    numpy.ndarray
        float32 weights in [0, 1] of the tile's shape.
    """
    rows, cols = (tile_shape, tile_shape) if np.isscalar(tile_shape) else tile_shape
    return np.outer(_blend_profile(rows, overlap), _blend_profile(cols, overlap)).astype(np.float32)


def _blend_profile(length, overlap):
    profile = np.ones(length, dtype=np.float64)
    if overlap > 0:
        ramp_len = min(overlap // 2, 16)
        guard = (overlap - ramp_len) // 2
        t = (np.arange(ramp_len) + 0.5) / ramp_len
        ramp = np.sin(0.5 * np.pi * t) ** 2
        edge = np.concatenate([np.zeros(guard), ramp])
        profile[: edge.size] = edge
        profile[length - edge.size :] = edge[::-1]
    return profile


class Stitcher:
    """Accumulate weighted tile predictions and return the blended image.

    Parameters
    ----------
    plan : TilePlan
        The plan the tiles came from.
    """

    def __init__(self, plan):
        self.plan = plan
        self._window = blend_window(plan.tile_shape, plan.overlap)
        self._sum = np.zeros(plan.padded_shape, dtype=np.float32)
        self._added = []

    def add(self, origin, prediction):
        """Add one tile's prediction at ``origin`` (row, col) of the padded image."""
        r, c = origin
        rows, cols = self.plan.tile_shape
        self._sum[r : r + rows, c : c + cols] += prediction * self._window
        self._added.append((r, c))

    def _separable_weights(self):
        """Summed windows along each axis, ``(rows, cols)`` of the padded image, when every tile of the grid
        was added once (their outer product is the summed 2-D windows); else None."""
        if sorted(self._added) != sorted(self.plan.origins):
            return None
        starts_along = (sorted({r for r, _ in self.plan.origins}), sorted({c for _, c in self.plan.origins}))
        along = []
        for starts, length, n in zip(starts_along, self.plan.tile_shape, self.plan.padded_shape):
            total = np.zeros(n)
            for start in starts:
                total[start : start + length] += _blend_profile(length, self.plan.overlap)
            along.append(total)
        return along

    def _weights(self):
        """The summed 2-D windows over the padded image."""
        along = self._separable_weights()
        if along is not None:
            return np.outer(*along).astype(np.float32)
        rows, cols = self.plan.tile_shape
        weight = np.zeros(self.plan.padded_shape, dtype=np.float32)
        for r, c in self._added:
            weight[r : r + rows, c : c + cols] += self._window
        return weight

    def result(self):
        """Blended prediction cropped back to the original image shape."""
        (top, _), (left, _) = self.plan.pad
        ny, nx = self.plan.shape
        crop = self._sum[top : top + ny, left : left + nx]
        along = self._separable_weights()
        if along is None:
            return (crop / self._weights()[top : top + ny, left : left + nx]).astype(np.float32, copy=False)
        # Divided by the two 1-D sums in turn: the full weight image is never made (64 MB at 4k x 4k).
        blended = np.divide(crop, along[0][top : top + ny, None].astype(np.float32))
        blended /= along[1][None, left : left + nx].astype(np.float32)
        return blended


def pad_image(image, plan):
    """Reflect-pad ``image`` to the plan's padded shape (a new array)."""
    return np.pad(image, plan.pad, mode="reflect")
