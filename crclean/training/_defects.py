"""Detector defects of a simulated CCD exposure, in electrons: hot pixels, bad columns, saturation.

None of these is a cosmic ray: a mask model must learn to leave them alone,
which is why the simulator keeps them in a separate truth mask. Bleeding
moves the charge above full well along the column, as a CCD's parallel
transfer does.
"""

import numpy as np

__all__ = ["add_hot_pixels", "bad_columns", "bleed_saturation"]


def add_hot_pixels(shape, *, rng, fraction, exptime):
    """Dark charge of hot pixels.

    Parameters
    ----------
    shape : tuple of int
        Image shape.
    rng : numpy.random.Generator
        Random generator.
    fraction : float
        Fraction of pixels that are hot.
    exptime : float
        Exposure time in seconds.

    Returns
    -------
    charge : numpy.ndarray
        Expected dark charge in electrons (zero except at hot pixels).
    mask : numpy.ndarray
        Boolean mask of the hot pixels.
    """
    size = shape[0] * shape[1]
    n_hot = rng.binomial(size, fraction)
    where = rng.choice(size, n_hot, replace=False)
    # Dark currents spread over decades (0.5-500 e-/s), many far above the sky.
    rates = 10 ** rng.uniform(np.log10(0.5), np.log10(500.0), n_hot)
    charge = np.zeros(size)
    charge[where] = np.maximum(rates * exptime, 20.0)
    mask = np.zeros(size, bool)
    mask[where] = True
    return charge.reshape(shape), mask.reshape(shape)


def bad_columns(shape, *, rng, n_columns, whole=False):
    """Draw ``n_columns`` damaged columns, each from a random row to one edge.

    With ``whole``, each runs the full height instead (the same draws): a
    segment that ends inside the frame looks, near its end, like a bright
    cosmic-ray bar along a column, and as a negative taught models to miss
    such bars' ends.

    Half are dead (charge scaled by 0-0.3), half hot (an offset of 100-3000 e-).
    Apply them as ``electrons * scale + offset`` so that two versions of an
    exposure (with and without cosmic rays) share the same damage.

    Returns
    -------
    scale, offset : numpy.ndarray
        Multiplicative and additive (e-) maps.
    mask : numpy.ndarray
        Boolean mask of the damaged pixels.
    """
    scale = np.ones(shape)
    offset = np.zeros(shape)
    mask = np.zeros(shape, bool)
    ny, nx = shape
    for _ in range(int(n_columns)):
        col = int(rng.integers(nx))
        start = int(rng.integers(ny))
        rows = slice(start, ny) if rng.integers(2) else slice(0, start + 1)
        if whole:
            rows = slice(0, ny)
        if rng.integers(2):
            scale[rows, col] = rng.uniform(0.0, 0.3)
        else:
            offset[rows, col] = rng.uniform(100.0, 3000.0)
        mask[rows, col] = True
    return scale, offset, mask


def bleed_saturation(electrons, full_well):
    """Clip pixels at the full well and spill the excess along their column.

    The excess charge of each saturated run is shared equally between the
    pixels above and below it, filling each to the full well in turn, which
    makes the vertical bleed trails of saturated stars; charge pushed past the
    edge of the detector is lost.

    Parameters
    ----------
    electrons : numpy.ndarray
        Charge per pixel; not modified.
    full_well : float
        Full-well capacity in electrons.

    Returns
    -------
    bled : numpy.ndarray
        float64 image after bleeding.
    saturated : numpy.ndarray
        Boolean mask of the pixels at the full well.
    """
    out = np.array(electrons, dtype=float)
    for col in np.flatnonzero((out > full_well).any(axis=0)):
        column = out[:, col]  # a view: edits land in out
        while True:
            over = np.flatnonzero(column > full_well)
            if over.size == 0:
                break
            # One contiguous run at a time, starting with the first.
            breaks = np.flatnonzero(np.diff(over) != 1)
            lo = over[0]
            hi = over[breaks[0]] if breaks.size else over[-1]
            excess = column[lo : hi + 1].sum() - full_well * (hi - lo + 1)
            column[lo : hi + 1] = full_well
            for step, share in ((-1, 0.5 * excess), (1, 0.5 * excess)):
                row = lo - 1 if step < 0 else hi + 1
                while share > 0 and 0 <= row < column.size:
                    room = max(full_well - column[row], 0.0)
                    take = min(room, share)
                    column[row] += take
                    share -= take
                    row += step
    return out, out >= full_well
