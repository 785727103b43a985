"""Real cosmic-ray footprints from LSST ITL dark frames, and their injection.

The footprints ship in ``crclean/training/data`` (see the README there for the
provenance and the BSD 3-Clause license). Injecting measured footprints rather
than only simulated tracks gives a model the real morphology (tracks, worms,
spots, long tracks on thick CCDs) that toy simulations miss; this is the idea
behind the Cosmic-CoNN training data (Xu et al. 2021) and imSim's cosmic rays.

References
----------
.. [1] Xu, C., McCully, C., Dong, B., Howell, D. A., & Sen, P. 2021,
   "Cosmic-CoNN: A Cosmic Ray Detection Deep-Learning Framework, Dataset, and
   Toolkit", arXiv:2106.14922.
.. [2] Zhang, K., & Bloom, J. S. 2020, "deepCR: Cosmic Ray Rejection with Deep
   Learning", ApJ, 889, 24.
"""

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from astropy.io import fits

from crclean.training._hit_variants import move_onto_anchors

__all__ = [
    "FOOTPRINT_FILE",
    "FOOTPRINT_PROVENANCE",
    "SOURCE_PIXEL_PITCH_UM",
    "SOURCE_THICKNESS_UM",
    "FootprintCatalog",
    "split_of",
    "load_footprints",
    "rebin_stamp",
    "inject_footprints",
]

FOOTPRINT_FILE = Path(__file__).with_name("data") / "cosmic_rays_itl_2017_even.fits.gz"

#: One line to copy into every product made with the footprints.
FOOTPRINT_PROVENANCE = (
    "Cosmic-ray footprints: LSST ITL CCD darks (100 um thick, 10 um pixels), "
    "LSST DESC imSim data/cosmic_rays_itl_2017.fits.gz (even fp_id), BSD 3-Clause, "
    "Copyright (c) 2016-2019 LSST Dark Energy Science Collaboration."
)

SOURCE_PIXEL_PITCH_UM = 10.0
SOURCE_THICKNESS_UM = 100.0

# Every 5th footprint id is held out; the rule depends only on the id, so it
# stays the same if the catalog is extended (e.g. with the odd ids).
_VALIDATION_EVERY = 5
_SPLITS = ("train", "validation", "all")


@dataclass(frozen=True)
class FootprintCatalog:
    """Footprint stamps of one split.

    Attributes
    ----------
    stamps : tuple of numpy.ndarray
        Read-only 2-D float32 stamps in electrons, zero outside the footprint.
    fp_ids : numpy.ndarray
        The ``fp_id`` of each stamp (int64), in increasing order.
    rate_per_pixel_s : float
        Footprints per pixel per second on the source CCD (full catalog, all
        splits), from the file's ``EXPTIME`` and ``NUM_PIX``.
    split : str
        ``"train"``, ``"validation"`` or ``"all"``.
    """

    stamps: tuple
    fp_ids: np.ndarray
    rate_per_pixel_s: float
    split: str

    def __len__(self):
        return len(self.stamps)


def split_of(fp_id):
    """Name the split a footprint id belongs to.

    Parameters
    ----------
    fp_id : int
        Footprint id of the catalog.

    Returns
    -------
    str
        ``"validation"`` when ``fp_id % 5 == 0``, else ``"train"``.
    """
    return "validation" if int(fp_id) % _VALIDATION_EVERY == 0 else "train"


@lru_cache(maxsize=4)
def _read_catalog(path):
    with fits.open(path, memmap=False) as hdul:
        table = hdul["COSMIC_RAYS"].data
        header = hdul["COSMIC_RAYS"].header
        fp_id = np.asarray(table["fp_id"], dtype=np.int64)
        x0 = np.asarray(table["x0"], dtype=np.int64)
        y0 = np.asarray(table["y0"], dtype=np.int64)
        values = [np.asarray(v, dtype=np.float32) for v in table["pixel_values"]]
        exptime = float(header["EXPTIME"])
        num_pix = float(header["NUM_PIX"])
    ids = np.unique(fp_id)
    order = np.argsort(fp_id, kind="stable")
    bounds = np.append(np.searchsorted(fp_id[order], ids), len(order))
    stamps = []
    for k in range(len(ids)):
        rows = order[bounds[k] : bounds[k + 1]]
        xs = x0[rows]
        ys = y0[rows]
        xe = xs + np.array([len(values[r]) for r in rows])
        stamp = np.zeros((ys.max() - ys.min() + 1, xe.max() - xs.min()), np.float32)
        for r, x, y in zip(rows, xs - xs.min(), ys - ys.min()):
            stamp[y, x : x + len(values[r])] += values[r]
        stamp.setflags(write=False)
        stamps.append(stamp)
    # The file holds half the source catalog (even ids), hence the factor 2.
    rate = 2.0 * len(ids) / (exptime * num_pix)
    ids.setflags(write=False)
    return tuple(stamps), ids, rate


def load_footprints(split="train", *, path=None):
    """Load the real cosmic-ray footprints of one split.

    Parameters
    ----------
    split : {"train", "validation", "all"}
        Which footprints: ``fp_id % 5 == 0`` are the held-out validation split.
    path : str or pathlib.Path, optional
        Catalog file; defaults to the copy shipped in ``crclean/training/data``.

    Returns
    -------
    FootprintCatalog
        Stamps (float32, electrons) with their ids.

    Raises
    ------
    ValueError
        If ``split`` is not one of the names above.
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {_SPLITS}, got {split!r}")
    stamps, ids, rate = _read_catalog(str(path or FOOTPRINT_FILE))
    if split == "all":
        keep = np.ones(len(ids), bool)
    else:
        keep = np.array([split_of(i) == split for i in ids])
    kept_ids = ids[keep]
    kept_ids.setflags(write=False)
    return FootprintCatalog(
        stamps=tuple(s for s, k in zip(stamps, keep) if k),
        fp_ids=kept_ids,
        rate_per_pixel_s=rate,
        split=split,
    )


def _overlap_matrix(n_in, zoom):
    """Fraction of each input pixel falling in each output pixel (area weighting)."""
    n_out = max(1, int(np.ceil(n_in * zoom)))
    edges_in = np.arange(n_in + 1) * zoom
    edges_out = np.arange(n_out + 1, dtype=float)
    lo = np.maximum(edges_out[:-1, None], edges_in[None, :-1])
    hi = np.minimum(edges_out[1:, None], edges_in[None, 1:])
    return np.clip(hi - lo, 0.0, None) / zoom


def rebin_stamp(stamp, zoom):
    """Resample a stamp to a different pixel size, conserving its total charge.

    Parameters
    ----------
    stamp : numpy.ndarray
        2-D charge stamp.
    zoom : float
        Output pixels per input pixel along each axis, e.g. ``10 / 15`` to put a
        footprint measured with 10 um pixels onto 15 um pixels.

    Returns
    -------
    numpy.ndarray
        float32 stamp of shape ``ceil(stamp.shape * zoom)`` with the same sum.
    """
    if not zoom > 0:
        raise ValueError(f"zoom must be > 0, got {zoom!r}")
    if zoom == 1:
        return np.array(stamp, dtype=np.float32)
    rows = _overlap_matrix(stamp.shape[0], zoom)
    cols = _overlap_matrix(stamp.shape[1], zoom)
    return (rows @ np.asarray(stamp, np.float64) @ cols.T).astype(np.float32)


def inject_footprints(image, stamps, n_footprints, *, rng, charge_scale=1.0, zoom=1.0, anchors=None,
                      anchor_fraction=0.0):
    """Add randomly placed, rotated and flipped footprints to an image.

    Each footprint is drawn uniformly from ``stamps``, rotated by ``k * 90``
    degrees, flipped with probability 1/2, and centred on a uniformly random
    pixel, or with ``anchors`` a share of them on a source; the part falling
    outside the image is lost.

    Parameters
    ----------
    image : numpy.ndarray
        2-D image; not modified.
    stamps : sequence of numpy.ndarray
        Footprint stamps in electrons (e.g. ``load_footprints().stamps``).
    n_footprints : int
        Number of footprints to inject.
    rng : numpy.random.Generator
        Source of all randomness.
    charge_scale : float, optional
        Multiplies the charge, e.g. ``1 / gain`` for an image in ADU.
    zoom : float, optional
        Geometric scale (see `rebin_stamp`) for a different pixel size.
    anchors : tuple, optional
        Sources as `crclean.training._hit_variants.move_onto_anchors` takes
        them (e.g. ``(x, y, weights, spread)``): each footprint is centred,
        with probability ``anchor_fraction``, on one of them. Without anchors
        nothing more is drawn, so the placements are those made before.
    anchor_fraction : float, optional
        Share of footprints centred on a source.

    Returns
    -------
    new_image : numpy.ndarray
        ``image + charge`` (float32 or wider).
    charge : numpy.ndarray
        The injected charge per pixel, same dtype and shape as ``new_image``.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D, got shape {image.shape}")
    if int(n_footprints) < 0:
        raise ValueError(f"n_footprints must be >= 0, got {n_footprints!r}")
    if n_footprints and len(stamps) == 0:
        raise ValueError("stamps is empty; load them with load_footprints()")
    dtype = np.result_type(image.dtype, np.float32)
    charge = np.zeros(image.shape, dtype)
    height, width = image.shape
    for _ in range(int(n_footprints)):
        stamp = stamps[rng.integers(len(stamps))]
        stamp = np.rot90(stamp, k=int(rng.integers(4)))
        if rng.integers(2):
            stamp = stamp[:, ::-1]
        if zoom != 1:
            stamp = rebin_stamp(stamp, zoom)
        h, w = stamp.shape
        centre_y, centre_x = int(rng.integers(height)), int(rng.integers(width))
        (centre_x,), (centre_y,) = move_onto_anchors(np.array([centre_x]), np.array([centre_y]), rng, anchors,
                                                     anchor_fraction)
        top = int(round(centre_y)) - h // 2
        left = int(round(centre_x)) - w // 2
        y0, y1 = max(top, 0), min(top + h, height)
        x0, x1 = max(left, 0), min(left + w, width)
        if y0 >= y1 or x0 >= x1:
            continue
        charge[y0:y1, x0:x1] += stamp[y0 - top : y1 - top, x0 - left : x1 - left] * charge_scale
    return image + charge, charge
