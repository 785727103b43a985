"""The one tiled-inference loop: a network over overlapping tiles, batched, stitched.

The mask networks (`crclean.engine.NetworkMasker`) and the learned inpainter
(`crclean.inpaint.learned_fill`) both run through `run_tiled`, so tiling,
batching, device placement, precision and the progress bar behave the same
for every network crclean runs on an image.
"""

import numpy as np

from crclean._progress import ProgressBar
from crclean.tiling import Stitcher, plan_tiles

__all__ = ["TILE_MULTIPLE", "run_tiled"]

# Every tile origin is a multiple of this, so pooling grids line up between
# tiles whatever the tile size; 16 covers four 2x down-samplings.
TILE_MULTIPLE = 16


def run_tiled(network, planes, *, tile_size, overlap, batch_size, device, memory_format=None, precision=None,
              activation=None, needed=None, progress=False, label="image"):
    """Run ``network`` over overlapping tiles of ``planes`` and stitch its first output channel.

    Parameters
    ----------
    network : torch.nn.Module
        Takes ``(N, channels, rows, cols)`` and returns ``(N, >= 1, rows, cols)``.
    planes : numpy.ndarray
        ``(channels, ny, nx)`` float32 network input; reflect-padded here
        (`crclean.tiling.plan_tiles`), not modified.
    tile_size, overlap : int
        Largest tile side and tile overlap, multiples of `TILE_MULTIPLE`.
    batch_size : int
        Tiles per forward pass.
    device : torch.device
        Where ``network`` lives.
    memory_format : torch.memory_format, optional
        Layout of the input tensors (`crclean.models._inference.prepare_for_inference`).
    precision : torch.dtype, optional
        Run under ``torch.autocast`` with this dtype; None for float32.
    activation : callable, optional
        Applied to the float32 output (e.g. ``torch.sigmoid``).
    needed : numpy.ndarray of bool, optional
        ``(ny, nx)``: only tiles holding one of its pixels are run; the
        output is 0 where no run tile reaches.
    progress : bool, optional
        Draw a progress bar on stderr.
    label : str, optional
        Names the image in the progress bar.

    Returns
    -------
    numpy.ndarray
        ``(ny, nx)`` float32.
    """
    import torch

    plan = plan_tiles(planes.shape[-2:], tile_size, overlap, multiple=TILE_MULTIPLE)
    padded = np.pad(planes, ((0, 0), *plan.pad), mode="reflect")
    rows, cols = plan.tile_shape
    stitcher = Stitcher(plan)
    origins = plan.origins
    if needed is not None:
        padded_needed = np.pad(needed, plan.pad, mode="constant")
        holds = [padded_needed[r : r + rows, c : c + cols].any() for r, c in origins]
        # A tile without a needed pixel contributes zeros (and its weight) without a forward pass.
        for origin in (origin for origin, hold in zip(origins, holds) if not hold):
            stitcher.add(origin, np.zeros(plan.tile_shape, np.float32))
        origins = [origin for origin, hold in zip(origins, holds) if hold]
    memory_format = torch.contiguous_format if memory_format is None else memory_format
    with ProgressBar(len(origins), label, enabled=progress) as bar, torch.inference_mode():
        for start in range(0, len(origins), batch_size):
            chunk = origins[start : start + batch_size]
            batch = np.stack([padded[:, r : r + rows, c : c + cols] for r, c in chunk])
            tensor = torch.from_numpy(batch).to(device).contiguous(memory_format=memory_format)
            with torch.autocast(device.type, dtype=precision, enabled=precision is not None):
                output = network(tensor)
            output = output[:, 0].float()
            if activation is not None:
                output = activation(output)
            for origin, tile in zip(chunk, output.cpu().numpy()):
                stitcher.add(origin, tile)
            bar.update(len(chunk))
    return stitcher.result()
