"""Quick-look PNG: image, cosmic-ray mask and cleaned image side by side.

Written with numpy and zlib alone, so crclean needs no plotting library.
"""

import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["write_png", "quicklook_rgb", "write_quicklook"]

# Longest panel side; larger images are binned so the PNG stays small.
_MAX_PANEL = 1024
_GAP = 6


def _chunk(kind, payload):
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def png_bytes(rgb):
    """Encode an ``(ny, nx, 3)`` uint8 array as PNG bytes (row 0 at the top)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    ny, nx, _ = rgb.shape
    rows = np.concatenate([np.zeros((ny, 1), np.uint8), rgb.reshape(ny, nx * 3)], axis=1)
    header = struct.pack(">IIBBBBB", nx, ny, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + _chunk(b"IEND", b""))


def write_png(path, rgb):
    """Write ``rgb`` to ``path`` atomically (temporary file, then rename)."""
    from crclean.io._paths import replace_via_temporary

    replace_via_temporary(path, lambda temporary: Path(temporary).write_bytes(png_bytes(rgb)))


def _bin(image, factor, reduce):
    if factor == 1:
        return image
    ny, nx = (s // factor * factor for s in image.shape)
    blocks = image[:ny, :nx].reshape(ny // factor, factor, nx // factor, factor)
    return reduce(blocks, axis=(1, 3))


def _stretch(image, low, high):
    """asinh stretch to [0, 1] between two levels; non-finite pixels become 0."""
    scaled = np.clip((image - low) / max(high - low, 1e-12), 0.0, 1.0)
    scaled = np.arcsinh(10.0 * scaled) / np.arcsinh(10.0)
    return np.where(np.isfinite(scaled), scaled, 0.0)


def quicklook_rgb(image, mask, cleaned):
    """Compose the three panels (FITS orientation: row 0 at the bottom).

    Parameters
    ----------
    image, cleaned : numpy.ndarray
        The input and the inpainted image (``cleaned`` may be ``None``: the
        input is shown again).
    mask : numpy.ndarray of bool
        Cosmic rays, drawn red over the grey image in the middle panel.

    Returns
    -------
    numpy.ndarray
        ``(ny, 3 * nx + gaps, 3)`` uint8.
    """
    cleaned = image if cleaned is None else cleaned
    factor = max(1, -(-max(image.shape) // _MAX_PANEL))
    image_b = _bin(np.asarray(image, dtype=np.float64), factor, np.nanmean)
    cleaned_b = _bin(np.asarray(cleaned, dtype=np.float64), factor, np.nanmean)
    mask_b = _bin(np.asarray(mask, dtype=bool), factor, np.any)
    finite = cleaned_b[np.isfinite(cleaned_b)]
    low, high = np.percentile(finite, [1.0, 99.5]) if finite.size else (0.0, 1.0)
    grey_in = _stretch(image_b, low, high)
    grey_out = _stretch(cleaned_b, low, high)
    overlay = np.repeat(grey_in[..., None] * 0.6, 3, axis=2)
    overlay[mask_b] = (1.0, 0.1, 0.1)
    panels = [np.repeat(grey_in[..., None], 3, axis=2), overlay,
              np.repeat(grey_out[..., None], 3, axis=2)]
    gap = np.ones((grey_in.shape[0], _GAP, 3))
    rgb = np.concatenate([panels[0], gap, panels[1], gap, panels[2]], axis=1)
    return (rgb[::-1] * 255 + 0.5).astype(np.uint8)


def write_quicklook(path, image, mask, cleaned):
    """Write the quick-look PNG of one image to ``path``."""
    write_png(path, quicklook_rgb(image, mask, cleaned))
