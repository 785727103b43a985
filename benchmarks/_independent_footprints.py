"""Real LSST cosmic-ray footprints of the held-out split, for the independent validation generator.

Part of ``_independent_cosmics.py`` (see its docstring). A reader of its own
for crclean's footprint catalogue (``crclean/training/data``, see the README
there: LSST ITL darks, 100 um thick sensors, 10 um pixels; BSD 3-Clause, LSST
DESC imSim): the binary table ``COSMIC_RAYS`` has one row per horizontal span
(``fp_id``, ``x0``, ``y0``, ``pixel_values`` in electrons along +x). Only
``fp_id % 5 == 0``, the split crclean never trains on, is ever read out.
"""

import functools
from pathlib import Path

import numpy as np

FOOTPRINTS = Path(__file__).resolve().parent.parent / "crclean" / "training" / "data" / \
    "cosmic_rays_itl_2017_even.fits.gz"
HELD_OUT_MODULUS = 5


@functools.lru_cache(maxsize=1)
def held_out_footprints():
    """``(ids, stamps)`` of the held-out footprints: sorted ids, float32 stamps (e-) cut to their spans."""
    from astropy.io import fits

    with fits.open(FOOTPRINTS) as hdul:
        table = hdul["COSMIC_RAYS"].data
        ids, x0, y0 = (np.asarray(table[k]).astype(int) for k in ("fp_id", "x0", "y0"))
        values = [np.asarray(v, dtype=np.float32) for v in table["pixel_values"]]
    rows = {}
    for i, fp_id in enumerate(ids):
        if fp_id % HELD_OUT_MODULUS == 0:
            rows.setdefault(fp_id, []).append(i)
    out_ids, stamps = [], []
    for fp_id in sorted(rows):
        spans = rows[fp_id]
        ya, yb = min(y0[spans]), max(y0[spans])
        xa = min(x0[spans])
        xb = max(x0[i] + len(values[i]) - 1 for i in spans)
        stamp = np.zeros((yb - ya + 1, xb - xa + 1), np.float32)
        for i in spans:
            stamp[y0[i] - ya, x0[i] - xa:x0[i] - xa + len(values[i])] += values[i]
        out_ids.append(int(fp_id))
        stamps.append(stamp)
    return tuple(out_ids), tuple(stamps)


@functools.lru_cache(maxsize=1)
def footprint_rate_per_px_s():
    """Events per pixel per second in the ITL darks the catalogue came from."""
    from astropy.io import fits

    with fits.open(FOOTPRINTS) as hdul:
        header = hdul["COSMIC_RAYS"].header
        n = len(np.unique(hdul["COSMIC_RAYS"].data["fp_id"]))
    # The file holds the even half of the catalogue: the full rate counts twice its footprints.
    return 2 * n / (header["EXPTIME"] * header["NUM_PIX"])


def inject_footprints(shape, x, y, rng):
    """Charge map (e-) of random held-out footprints centred at (``x``, ``y``), each turned by a
    random multiple of 90 degrees and flipped half the time; returns ``(charge, ids used)``."""
    ids, stamps = held_out_footprints()
    image = np.zeros(shape)
    used = []
    for xc, yc in zip(x, y):
        k = int(rng.integers(len(ids)))
        stamp = np.rot90(stamps[k], int(rng.integers(4)))
        if rng.uniform() < 0.5:
            stamp = stamp[:, ::-1]
        y0, x0 = int(yc) - stamp.shape[0] // 2, int(xc) - stamp.shape[1] // 2
        ys, xs = max(y0, 0), max(x0, 0)
        ye, xe = min(y0 + stamp.shape[0], shape[0]), min(x0 + stamp.shape[1], shape[1])
        if ye > ys and xe > xs:
            image[ys:ye, xs:xe] += stamp[ys - y0:ye - y0, xs - x0:xe - x0]
            used.append(ids[k])
    return image, tuple(used)
