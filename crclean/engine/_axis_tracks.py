"""Find long cosmic-ray tracks that lie along a pixel axis and that the mask network left unflagged.

Through a network's view (some 50 px each way for crclean's UNets), a straight
track along a column and a bad column are the same picture, and a network
trained to leave bad columns alone misses such tracks: crclean-ccd-v28 finds
a half of the bright pixels of tracks 100-220 px long within 2 degrees of an
axis, and none of a bundle of muons that crossed a thick CCD along its
columns (docs/benchmarks.md). Rounds that taught it those tracks learnt to
flag bad columns too.

What tells them apart is what the network does not see: a whole track, and a
particle's physics. This module looks at the whole frame for thin lines
along an axis, each pixel bright over most of a short run along the line and
dark a few pixels to either side, and keeps those that
- run at least `MIN_LENGTH` pixels and stay within a few pixels of one row or column;
- end inside the frame: a column defect (a hot or trapping pixel) spoils its
  column from the defect to the readout edge, and a bleed trail runs along
  its column too;
- carry the uneven charge of a particle: energy loss in a few microns of
  silicon straggles (Landau 1944), so a track's charge varies by tens of per
  cent from pixel to pixel, where a hot column segment's is even and the
  light of a spectrum's trace or a diffraction spike changes smoothly;
- keep off saturation and bright sources at and around them, where a
  saturated star's bleed trail or a diffraction spike starts;
- are mostly unflagged: where the network found a track, its mask stands.
Their pixels more than 2 sigma above the sky, the truth of crclean's
training and benchmarks, are added to the mask. It adds nothing where the
network did its job, and costs a few hundredths of a second per megapixel.

References
----------
Landau, L. 1944, J. Phys. USSR 8, 201 (energy-loss straggling in thin layers).
"""

import numpy as np

__all__ = ["axis_track_pixels", "find_axis_tracks"]

RUN = 9
"""Pixels along the axis over which a line's pixels must mostly be bright."""

BRIGHT_SIGMA = 4.0
"""A track's pixel is brighter than this over the sky, in sky-noise sigma (a muon leaves tens)."""

MOST_OF_RUN = 5
"""Of `RUN` pixels, at least this many bright: the line holds over gaps from uneven charge."""

SIDE_OFFSET = 4
"""Pixels across the line at which its sides must be dark: beyond a diffused track's charge (2-4 px wide)
and inside a star of FWHM 3 px or more."""

MOST_AT_SIDE = 2
"""Of `RUN` pixels at each side, at most this many bright."""

MIN_LENGTH = 24
"""Pixels along the axis: shorter lines are left to the network, which sees them whole."""

EDGE = 3
"""Lines reaching this close to the frame's ends along their axis are column or row defects (or leave the
frame, where no end can be seen)."""

AROUND = 6
"""Pixels around a line searched for saturation and bright sources."""

SOURCE_SIGMA = 30.0
SOURCE_PIXELS = 10
"""As many pixels this bright (sigma) around a line but off it are a star or galaxy it starts from or
crosses: a bleed trail, a diffraction spike, or a hit on a source, which the network judges better."""

EVEN_CHARGE = 0.12
"""Spread of a line's peak charge along it (robust, over its median) at or under which, after the sky noise's
share, the line is a defect: a hot column segment's charge is even to its noise, a particle's varies."""

SLOW_CHANGE = 0.05
"""Spread of the steps of a line's peak charge from each pixel to the next (robust, over its median) at or under
which, after the sky noise's share, the line is a source's light: a spectrum's trace or a diffraction spike
changes along its length, but smoothly; a particle's energy loss straggles from pixel to pixel."""

SOURCE_WIDTH = 0.3
"""Light 2 px to either side of a line, over its peak (median over its length), from which the line is as
wide as a star: a Gaussian PSF of FWHM 3.2 px puts 0.3 of its peak there, a track diffused by 1 px (sigma) 0.14."""

GAP = 3
"""Rows in a row below `BRIGHT_SIGMA` that break a line into sources: a track has none so long."""

FOUND = 0.5
"""A line whose bright pixels the network flagged more than this fraction of is left as the network made it."""

WING_SIGMA = 2.0
"""Pixels of a kept line within 2 px of it and this bright are added (the masks' truth: charge >= 2 sigma)."""


def axis_track_pixels(image, mask, *, saturation=None, defects=None, sky=None):
    """Pixels of ``image`` to add to ``mask``: its long, unflagged tracks along rows or columns.

    Parameters
    ----------
    image : numpy.ndarray
        2-D, in any linear units; NaN pixels are never added.
    mask : numpy.ndarray of bool
        What the network flagged.
    saturation, sky
        See `crclean.engine._sky_levels.sky_levels`.
    defects : numpy.ndarray of bool, optional
        Known bad pixels (a DQ array's): never part of a line.

    Returns
    -------
    numpy.ndarray of bool
    """
    from crclean.engine._sky_levels import sky_levels

    z, untrusted, top_level = sky_levels(image, saturation=saturation, defects=defects, sky=sky)
    return find_axis_tracks(z, mask, top_level=top_level) & ~untrusted


def find_axis_tracks(z, mask, *, top_level=None):
    """Pixels of long, unflagged cosmic-ray tracks along rows or columns of an image.

    Parameters
    ----------
    z : numpy.ndarray
        The image over its sky, in sky-noise sigma: ``(image - background) /
        rms``, with 0 where no pixel can be trusted (NaN, known defects).
    mask : numpy.ndarray of bool
        What the network flagged.
    top_level : numpy.ndarray of bool, optional
        Saturated pixels (at the frame's saturation level): no line is kept
        within `AROUND` px of two of them.

    Returns
    -------
    numpy.ndarray of bool
        Pixels to add to ``mask`` (none of them already in it).
    """
    z = np.asarray(z, np.float32)
    mask = np.asarray(mask, bool)
    top_level = np.zeros(z.shape, bool) if top_level is None else np.asarray(top_level, bool)
    along_columns = _along_axis(z, mask, top_level)
    transposed = (np.ascontiguousarray(plane.T) for plane in (z, mask, top_level))
    along_rows = _along_axis(*transposed).T
    return (along_columns | along_rows) & ~mask


def _along_axis(z, mask, top_level):
    """`find_axis_tracks` for lines along axis 0 (columns).

    numpy only: scipy.ndimage would add a third of a second to every call's start-up.
    """
    count = _count_along(z > BRIGHT_SIGMA, RUN)
    thin_line = ((count >= MOST_OF_RUN) & (_beside(count, SIDE_OFFSET) <= MOST_AT_SIDE)
                 & (_beside(count, -SIDE_OFFSET) <= MOST_AT_SIDE))
    # A line within 2-3 degrees of the axis drifts a pixel every 20-30 rows: three columns side by side
    # keep it in one run for 60-90 rows. Steeper lines the network finds.
    band = thin_line | _beside(thin_line, 1) | _beside(thin_line, -1)
    added = np.zeros(z.shape, bool)
    for column, first, stop in _runs_along(band, MIN_LENGTH):
        if first < EDGE or stop > z.shape[0] - EDGE:
            continue
        top, left = max(first - AROUND, 0), max(column - 1 - AROUND, 0)
        around = (slice(top, stop + AROUND), slice(left, column + 2 + AROUND))
        zone = z[around]
        line = np.zeros(zone.shape, bool)
        columns = slice(max(column - 1, 0), column + 2)
        line[first - top:stop - top, columns.start - left:columns.stop - left] = thin_line[first:stop, columns]
        if _near_light(zone, line, top_level[around]) or _even_charge(zone, line) or _like_sources(zone, line):
            continue
        on_line = line & (zone > BRIGHT_SIGMA)
        if not on_line.any() or mask[around][on_line].mean() > FOUND:
            continue
        added[around] |= _dilate(line, 2, 2) & (zone > WING_SIGMA)
    return added


def _count_along(bright, run):
    """How many of the ``run`` pixels centred on each pixel along axis 0 are ``bright`` (none past the ends)."""
    half = run // 2
    padded = np.zeros((bright.shape[0] + 2 * half, bright.shape[1]), np.uint8)
    padded[half:half + bright.shape[0]] = bright
    # Shifted sums: numpy's cumulative sum down the columns of a C-ordered array is ten times slower.
    count = padded[:bright.shape[0]].copy()
    for shift in range(1, run):
        count += padded[shift:shift + bright.shape[0]]
    return count


def _runs_along(band, min_length):
    """``(column, first row, stop row)`` of each run of True along axis 0 at least ``min_length`` long."""
    padded = np.zeros((band.shape[1], band.shape[0] + 2), np.int8)
    padded[:, 1:-1] = band.T
    change = np.diff(padded, axis=1)
    columns, starts = np.nonzero(change == 1)
    _, stops = np.nonzero(change == -1)  # row-major order: each run's stop follows its start
    long_enough = stops - starts >= min_length
    return zip(columns[long_enough].tolist(), starts[long_enough].tolist(), stops[long_enough].tolist())


def _beside(values, offset):
    """``values`` moved ``offset`` columns to the right (left when negative), zero where nothing moved in."""
    moved = np.zeros_like(values)
    if offset > 0:
        moved[:, offset:] = values[:, :-offset]
    else:
        moved[:, :offset] = values[:, -offset:]
    return moved


def _dilate(pixels, rows, columns):
    """``pixels`` grown by ``rows`` up and down and ``columns`` left and right (a box)."""
    padded = np.pad(pixels, ((rows, rows), (columns, columns)))
    grown = np.zeros(pixels.shape, bool)
    for dy in range(2 * rows + 1):
        for dx in range(2 * columns + 1):
            grown |= padded[dy:dy + pixels.shape[0], dx:dx + pixels.shape[1]]
    return grown


def _near_light(z, line, top_level):
    """Whether two saturated pixels, or `SOURCE_PIXELS` of a bright source off the line, lie in its window."""
    if np.count_nonzero(top_level) >= 2:
        return True
    return np.count_nonzero((z > SOURCE_SIGMA) & ~_dilate(line, 1, 3)) >= SOURCE_PIXELS


def _like_sources(z, line):
    """Whether the line is a chain of stars or galaxies lined up along the axis: its light spreads across it
    as far as a PSF's (`SOURCE_WIDTH`), or it breaks for `GAP` rows or more, where a particle leaves charge in
    every pixel it crosses."""
    rows = line.any(axis=1)
    on_line = np.where(line, z, -np.inf)[rows]
    centre = on_line.argmax(axis=1)
    peak = on_line.max(axis=1)
    index = np.arange(peak.size)
    light = z[rows]
    beside = 0.5 * (light[index, np.maximum(centre - 2, 0)] + light[index, np.minimum(centre + 2, z.shape[1] - 1)])
    if np.median(beside / np.maximum(peak, 1e-6)) >= SOURCE_WIDTH:
        return True
    dark = np.concatenate([[0], (peak < BRIGHT_SIGMA).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(dark))
    return bool(edges.size) and int(np.max(edges[1::2] - edges[::2])) >= GAP


def _even_charge(z, line):
    """Whether the line's peak charge, row by row, is as even as a defect's (`EVEN_CHARGE`) or changes as
    slowly as a source's light (`SLOW_CHANGE`)."""
    peak = np.where(line, z, -np.inf).max(axis=1)
    peak = peak[np.isfinite(peak)]
    if peak.size < 2:
        return True
    level = float(np.median(peak))
    if level <= 0:
        return True
    spread = 1.4826 * float(np.median(np.abs(peak - level))) / level
    step = 1.4826 * float(np.median(np.abs(np.diff(peak)))) / np.sqrt(2.0) / level
    # The sky noise alone spreads a line of `level` sigma, and its steps, by about 1 / level; a particle's
    # charge by more, from each pixel to the next.
    return spread <= EVEN_CHARGE + 1.5 / level or step <= SLOW_CHANGE + 1.2 / level
