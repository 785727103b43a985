"""Quick-look PNG of a cleaned image: input, cosmic-ray mask and cleaned image, and a zoom.

The figure is titled with the file it shows. Its top row is the whole image
(binned to about 600 pixels a side): the input, the mask drawn red over the
input, and the cleaned image. Cosmic rays are a pixel or two wide, lost at
that scale, so a second row shows one region at full resolution: the one
asked for, or else the window with the most flagged pixels; it is outlined
in the top row. Input and cleaned share one stretch, IRAF's zscale
(`astropy.visualization.ZScaleInterval`), measured on the cleaned pixels of
the data section only, so that overscan, blank borders and the cosmic rays
themselves do not set it. Axes count FITS pixels (1-based, x along columns).

Drawn with matplotlib's Agg canvas and no pyplot state, so it is safe in
worker threads. `write_png` writes raw RGB arrays (the lens cutouts).
"""

import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np

__all__ = ["densest_window", "figure_png", "parse_fits_section", "quicklook_figure", "render_quicklook",
           "write_bytes", "write_png", "write_quicklook"]

# Longest side of an overview panel in pixels; larger images are binned.
_PANEL_PX = 600
# Side of the default zoom window, in image pixels.
_ZOOM_SIDE = 160
_DPI = 100


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


def write_bytes(path, data):
    """Write ``data`` to ``path`` atomically (temporary file, then rename)."""
    from crclean.io._paths import replace_via_temporary

    replace_via_temporary(path, lambda temporary: Path(temporary).write_bytes(data))


def write_png(path, rgb):
    """Write an ``(ny, nx, 3)`` uint8 array to ``path`` as a PNG, atomically."""
    write_bytes(path, png_bytes(rgb))


def parse_fits_section(text):
    """``'[X1:X2,Y1:Y2]'`` (FITS/IRAF: 1-based, inclusive, columns first) -> ``(rows, columns)`` slices.

    Raises
    ------
    ValueError
        If ``text`` is not such a section, with what to write instead.
    """
    import re

    found = re.fullmatch(r"\s*\[\s*(\d+)\s*:\s*(\d+)\s*,\s*(\d+)\s*:\s*(\d+)\s*\]\s*", str(text))
    if found is None:
        raise ValueError(f"{text!r} is not a FITS section; write it as [X1:X2,Y1:Y2] (1-based pixels, "
                         "inclusive, columns first, as ds9 and TRIMSEC), e.g. [1001:1200,501:700]")
    x1, x2, y1, y2 = (int(value) for value in found.groups())
    if not (1 <= x1 < x2 and 1 <= y1 < y2):
        raise ValueError(f"{text!r}: each range must run from a lower to a higher pixel, counting from 1")
    return slice(y1 - 1, y2), slice(x1 - 1, x2)


def densest_window(mask, side=_ZOOM_SIDE):
    """The ``side`` x ``side`` window (clipped to the image) holding most flagged pixels, or None without any.

    Returns
    -------
    tuple of slice or None
        ``(rows, columns)``.
    """
    from scipy.ndimage import uniform_filter

    mask = np.asarray(mask, bool)
    if not mask.any():
        return None
    counts = uniform_filter(mask.astype(np.float32), size=min(side, *mask.shape), mode="constant")
    row, col = np.unravel_index(int(np.argmax(counts)), mask.shape)
    first = tuple(_window(centre, side, length) for centre, length in zip((row, col), mask.shape))
    # Many windows hold the same hits; centre on them rather than keep the first such window.
    rows, cols = np.nonzero(mask[first])
    centre = (first[0].start + (rows.min() + rows.max()) // 2, first[1].start + (cols.min() + cols.max()) // 2)
    return tuple(_window(middle, side, length) for middle, length in zip(centre, mask.shape))


def _window(centre, side, length):
    start = int(min(max(centre - side // 2, 0), max(length - side, 0)))
    return slice(start, min(start + side, length))


def _bin(image, factor, reduce):
    if factor == 1:
        return image
    ny, nx = (s // factor * factor for s in image.shape)
    blocks = image[:ny, :nx].reshape(ny // factor, factor, nx // factor, factor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy: a block of NaN only (a blank border)
        return reduce(blocks, axis=(1, 3))


def _limits(values):
    """zscale limits of the finite values (0, 1 when there are none)."""
    from astropy.visualization import ZScaleInterval

    finite = values[np.isfinite(values)]
    if not finite.size:
        return 0.0, 1.0
    low, high = ZScaleInterval().get_limits(finite)
    return float(low), float(high) if high > low else float(low) + 1.0


def _grey(image, limits):
    """Linear zscale stretch to [0, 1]; non-finite pixels black."""
    from astropy.visualization import LinearStretch, ManualInterval

    scaled = LinearStretch()(ManualInterval(*limits)(image, clip=True), clip=True)
    return np.where(np.isfinite(scaled), scaled, 0.0)


def _overlay(grey, mask):
    """The grey image, dimmed, with flagged pixels red."""
    rgb = np.repeat(grey[..., None] * 0.6, 3, axis=2)
    rgb[mask] = (1.0, 0.1, 0.1)
    return rgb


def _clip_region(region, shape):
    rows, cols = region
    clipped = tuple(slice(max(part.start, 0), min(part.stop, length)) for part, length in zip((rows, cols), shape))
    if any(part.start >= part.stop for part in clipped):
        from crclean.io._sections import fits_section

        raise ValueError(f"the quick-look region {fits_section(region)} lies outside the "
                         f"{shape[1]}x{shape[0]} pixel image")
    return clipped


def render_quicklook(image, mask, cleaned, **options):
    """The quick-look figure of one image (`quicklook_figure`) as PNG bytes."""
    return figure_png(quicklook_figure(image, mask, cleaned, **options))


def figure_png(figure):
    """A matplotlib figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()


def quicklook_figure(image, mask, cleaned, *, title="", region=None, data_section=None):
    """The quick-look figure of one image (a matplotlib ``Figure``, Agg canvas).

    Parameters
    ----------
    image : numpy.ndarray
        The input image.
    mask : numpy.ndarray of bool
        Flagged pixels, drawn red over the input in the middle panels.
    cleaned : numpy.ndarray or None
        The inpainted image; ``None`` shows the input again.
    title : str, optional
        Heading: the file (and image) shown.
    region : tuple of slice, optional
        ``(rows, columns)`` to show at full resolution (see
        `parse_fits_section`); default the densest window of hits.
    data_section : tuple of slice, optional
        Where the data are (raw frames): the stretch is measured there.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``region`` lies outside the image.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    from crclean.io._sections import fits_section

    image = np.asarray(image, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    cleaned = image if cleaned is None else np.asarray(cleaned, dtype=np.float64)
    ny, nx = image.shape
    limits = _limits(cleaned if data_section is None else cleaned[data_section])
    zoom = _clip_region(region, image.shape) if region is not None else densest_window(mask)

    factor = max(1, -(-max(ny, nx) // _PANEL_PX))
    binned = _bin(image, factor, np.nanmean), _bin(mask, factor, np.any), _bin(cleaned, factor, np.nanmean)
    grey_in, grey_out = _grey(binned[0], limits), _grey(binned[2], limits)
    overview = [("input", np.repeat(grey_in[..., None], 3, axis=2)),
                (f"mask: {int(mask.sum())} px flagged", _overlay(grey_in, binned[1])),
                ("cleaned", np.repeat(grey_out[..., None], 3, axis=2))]
    height, width = binned[0].shape
    extent = (0.5, width * factor + 0.5, 0.5, height * factor + 0.5)

    panel = 4.0  # inches across each panel
    aspect = float(np.clip(height / width, 0.2, 5.0))
    rows = [panel * aspect]
    if zoom is not None:
        zoom_aspect = float(np.clip((zoom[0].stop - zoom[0].start) / (zoom[1].stop - zoom[1].start), 0.2, 5.0))
        rows.append(panel * zoom_aspect)
    figure = Figure(figsize=(3 * panel + 0.6, sum(rows) + 0.5 * len(rows) + 0.4), dpi=_DPI, layout="constrained")
    axes = figure.subplots(len(rows), 3, squeeze=False, height_ratios=rows)
    for ax, (label, rgb) in zip(axes[0], overview):
        ax.imshow(rgb, origin="lower", extent=extent, interpolation="nearest")
        ax.set_title(label, fontsize=10)
    if zoom is not None:
        section = fits_section(zoom)
        (y0, y1), (x0, x1) = (zoom[0].start, zoom[0].stop), (zoom[1].start, zoom[1].stop)
        for ax in axes[0]:
            ax.add_patch(Rectangle((x0 + 0.5, y0 + 0.5), x1 - x0, y1 - y0, fill=False, edgecolor="#33bbff",
                                   linewidth=1.2))
        grey_zoom = _grey(image[zoom], limits)
        panels = [("input", np.repeat(grey_zoom[..., None], 3, axis=2)),
                  (f"mask: {int(mask[zoom].sum())} px flagged", _overlay(grey_zoom, mask[zoom])),
                  ("cleaned", np.repeat(_grey(cleaned[zoom], limits)[..., None], 3, axis=2))]
        how = "as asked" if region is not None else "most hits"
        for ax, (label, rgb) in zip(axes[1], panels):
            ax.imshow(rgb, origin="lower", extent=(x0 + 0.5, x1 + 0.5, y0 + 0.5, y1 + 0.5), interpolation="nearest")
            ax.set_title(f"{label}, {section} ({how})", fontsize=9)
    for ax in axes.flat:
        ax.tick_params(labelsize=7)
    measured = "" if data_section is None else f" (measured on the data section {fits_section(data_section)})"
    stretch = f"zscale {limits[0]:.4g} to {limits[1]:.4g}{measured}, the same for input and cleaned"
    if zoom is None:
        stretch += "; no pixel flagged, so no zoom"
    figure.suptitle(f"{title}\n{stretch}" if title else stretch, fontsize=11)
    return figure


def write_quicklook(path, image, mask, cleaned, **options):
    """Write the quick-look PNG of one image to ``path`` (options as for `render_quicklook`)."""
    write_bytes(path, render_quicklook(image, mask, cleaned, **options))
