"""Learned inpainting: a small UNet corrects the `grow` fill of masked pixels.

The network never sees a masked or non-finite value. Every such pixel (a
"hole") is first filled by `grow_fill`; the image is put in units of the
local sky noise with the same background mesh the mask networks use
(`crclean.engine.background_mesh`, over the whole image, so tiles agree),
compressed with ``asinh`` like their input; the network sees that plane and
the hole map, and returns a correction to the fill in the same ``asinh``
units. The correction is bounded (``tanh``) and applied to masked pixels
only; every other pixel, NaN ones included, is returned unchanged.

Working in ``asinh`` units lets one correction mean a few sigma on the sky
and a few per cent on a star's core, so the network can restore the peak of
a star under a cosmic ray, which no local fill can.
"""

import functools

import numpy as np

from crclean.engine import background_mesh, resolve_device, run_tiled
from crclean.engine._background import ASINH_SIGMA
from crclean.inpaint._checks import checked_image_and_mask
from crclean.inpaint._grow import grow_fill
from crclean.weights import INPAINT_MODELS

__all__ = ["LEARNED_INPAINTER", "MAX_CORRECTION", "decode", "encode", "learned_fill", "load_inpaint_network"]

#: The shipped inpainting network (its entry in `crclean.weights.INPAINT_MODELS`).
LEARNED_INPAINTER = INPAINT_MODELS["crclean-inpaint"]

#: Largest correction, in asinh units, the network can apply to the fill:
#: ``tanh`` keeps it smooth and bounded (3 is a factor of ~20 on a star).
MAX_CORRECTION = 3.0

# Pixels of tiles per forward pass.
_BATCH_PIXELS = 1 << 20


def encode(image, mask):
    """The network's input for an image and the pixels to fill.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image; non-finite pixels are never used.
    mask : numpy.ndarray of bool
        Pixels to fill.

    Returns
    -------
    features : numpy.ndarray
        ``(2, ny, nx)`` float32: ``asinh((fill - background) / (k * rms))``
        with ``k`` = `crclean.engine.ASINH_SIGMA`, and the hole map (1 on
        masked or non-finite pixels, whose value is `grow_fill`'s).
    background, rms : numpy.ndarray
        float32 sky level and noise maps of the filled image.
    """
    image = np.asarray(image)
    holes = np.asarray(mask, bool) | ~np.isfinite(image)
    filled = grow_fill(image, holes).astype(np.float32)
    background, rms = background_mesh(filled)
    scaled = (filled - background) / (np.float32(ASINH_SIGMA) * rms)
    features = np.stack([np.arcsinh(scaled, out=scaled), holes.astype(np.float32)])
    return features, background, rms


def decode(fill_asinh, correction, background, rms):
    """Pixel values from the fill plane of `encode` and the network's raw output.

    ``background + rms * k * sinh(fill + MAX_CORRECTION * tanh(correction / MAX_CORRECTION))``
    (numpy arrays; training uses the same formula on tensors).
    """
    bounded = MAX_CORRECTION * np.tanh(np.asarray(correction, np.float64) / MAX_CORRECTION)
    return background + rms * ASINH_SIGMA * np.sinh(fill_asinh + bounded)


def load_inpaint_network(*, device="cpu"):
    """The shipped inpainting network, its sha256 checked, ready for inference.

    Returns
    -------
    network : torch.nn.Module
        BatchNorm folded, on ``device``, gradients off.
    memory_format : torch.memory_format
        The layout its input should have.

    Raises
    ------
    crclean.exceptions.ModelError
        If the weights are missing, damaged (checksum mismatch) or do not fit.
    """
    from crclean.models._inference import prepare_for_inference
    from crclean.weights import load_network

    return prepare_for_inference(load_network(LEARNED_INPAINTER), device)


@functools.lru_cache(maxsize=2)
def _cached_network(device):
    return load_inpaint_network(device=device)


def _predict(features, mask, *, tile_size, overlap, batch_size, device):
    """The network's raw output over overlapping tiles (zero where no tile holds a masked pixel)."""
    device = resolve_device(device)
    network, memory_format = _cached_network(device)
    if batch_size is None:
        from crclean.engine import TILE_MULTIPLE
        from crclean.tiling import plan_tiles

        rows, cols = plan_tiles(mask.shape, tile_size, overlap, multiple=TILE_MULTIPLE).tile_shape
        batch_size = max(1, _BATCH_PIXELS // (rows * cols))
    # Only tiles that hold a masked pixel need the network: the output is
    # used on masked pixels alone, and every tile covering one of them runs.
    return run_tiled(network, features, tile_size=tile_size, overlap=overlap, batch_size=batch_size,
                     device=device, memory_format=memory_format, needed=mask)


def learned_fill(image, mask, *, tile_size=None, overlap=None, batch_size=None, device="cpu"):
    """Fill masked pixels with a learned correction to the `grow` fill.

    A small UNet (Ronneberger et al. 2015; BatchNorm, folded away at
    inference) sees the image in units of the local sky noise, with every
    masked or non-finite pixel already filled by `grow_fill`, and the map of
    those pixels; it predicts how far the fill is from the clean image, in
    ``asinh`` units (see the module notes). It was trained on crclean's
    simulated exposures (thin and thick ground CCDs, space) against the
    image without cosmic rays, with a Huber loss in units of each pixel's
    noise on cosmic-ray pixels only; like maskfill and the partial-convolution
    inpainters, it draws only on pixels outside the holes. It runs over
    overlapping tiles that do not change the result.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image, at least 16 x 16; not modified.
    mask : numpy.ndarray of bool
        Pixels to replace, same shape as ``image``.
    tile_size, overlap : int, optional
        Largest tile side and tile overlap in pixels (multiples of 16);
        default the model's (512 and 64).
    batch_size : int, optional
        Tiles per forward pass; default about 1 Mpx of tiles.
    device : str, optional
        ``'cpu'``, ``'cuda'`` or ``'auto'``.

    Returns
    -------
    numpy.ndarray
        A new float array (``float32`` stays ``float32``, integers become
        ``float64``): ``image`` with masked pixels filled. Unmasked pixels,
        NaN ones included, are unchanged bit for bit; non-finite pixels
        never enter the fill.

    Raises
    ------
    crclean.exceptions.ModelError
        If the shipped weights are missing or fail their sha256 check.

    References
    ----------
    van Dokkum, P. & Pasha, I. 2024, PASP 136, 034503 (maskfill: the fill
    the network corrects); Ronneberger, O., Fischer, P. & Brox, T. 2015,
    MICCAI (U-Net); Liu, G. et al. 2018, ECCV, "Image Inpainting for
    Irregular Holes Using Partial Convolutions" (holes given as a mask
    channel, loss on the holes).
    """
    image, mask = checked_image_and_mask(image, mask)
    from crclean.tiling import MIN_IMAGE_SIZE

    if min(image.shape) < MIN_IMAGE_SIZE:
        raise ValueError(f"image is {image.shape[0]}x{image.shape[1]} pixels; the learned inpainter "
                         f"needs at least {MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE} (use 'grow' for smaller)")
    tile_size = LEARNED_INPAINTER.tile_size if tile_size is None else tile_size
    overlap = min(LEARNED_INPAINTER.overlap, tile_size // 2) if overlap is None else overlap
    out = image.astype(np.result_type(image.dtype, np.float32), copy=True)
    if not mask.any():
        return out
    features, background, rms = encode(image, mask)
    correction = _predict(features, mask, tile_size=tile_size, overlap=overlap, batch_size=batch_size,
                          device=device)
    out[mask] = decode(features[0][mask], correction[mask], background[mask], rms[mask])
    return out
