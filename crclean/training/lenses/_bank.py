"""Stamp banks: lenses, hard negatives and field galaxies rendered once and re-used.

Rendering a stamp with lenstronomy takes milliseconds, far more than pasting
one, so scenes (`crclean.training.lenses._scene.compose_scene`) paste bank
stamps with a random flip, rotation and flux.
"""

from dataclasses import dataclass

import numpy as np

from crclean.training.lenses._lookalikes import EXTRA_NEGATIVE_KINDS
from crclean.training.lenses._stamps import ALIGNMENT, NEGATIVE_KINDS, field_galaxy_stamp, lens_stamp, negative_stamp

__all__ = ["StampBank", "build_bank", "check_extra_negatives", "check_lens_mix"]


@dataclass
class StampBank:
    """Pre-rendered unit-flux stamps, re-used with random flips, rotations and fluxes."""

    pixel_scale: float
    lens: np.ndarray
    arcs: np.ndarray
    arc_mask: np.ndarray
    theta_e: np.ndarray
    negatives: np.ndarray
    negative_kinds: np.ndarray
    field: np.ndarray
    negatives_young: np.ndarray = None
    lens_configuration: np.ndarray = None
    n_images: np.ndarray = None


def build_bank(seed, *, n_lenses, n_negatives, n_field, size=64, pixel_scale=0.2, wide_negatives=False,
               wide_lenses=False, early_type_rings=False, smooth_source_fraction=0.0, clumpy_negatives=False,
               colour_parts=False, varied_lenses=False, unlensed_negatives=False, extra_negatives=(),
               compact_fraction=0.0, multiple_image_fraction=0.0, progress=None):
    """Render a bank of stamps; the same seed gives the same bank.

    Parameters
    ----------
    seed : int
    n_lenses, n_negatives, n_field : int
        Stamps of each family.
    size : int, optional
        Stamp side in pixels.
    pixel_scale : float, optional
        Arcsec per pixel.
    wide_negatives : bool, optional
        Rings and spirals from the wider families (see `negative_stamp`).
    wide_lenses : bool, optional
        Power-law lens masses of varied slope (see `lens_stamp`).
    early_type_rings : bool, optional
        Half of the rings are early-type disk galaxies with a faint
        resonance ring (see `negative_stamp`).
    smooth_source_fraction : float, optional
        This share of the lensed sources has no clumps (see `lens_stamp`).
    clumpy_negatives : bool, optional
        Star-forming rings and knotted spiral arms (see `negative_stamp`).
    varied_lenses : bool, optional
        Lensed sources and lens galaxies from wider families: irregular and
        elongated sources, bulge-plus-disk and disky lens galaxies (see
        `lens_stamp`).
    unlensed_negatives : bool, optional
        Add a fifth look-alike kind, ``'alignment'``: a lens galaxy with
        background galaxies beside it, not lensed (see `negative_stamp`),
        drawn from the lenses' families. The kinds then take turns by fives.
    extra_negatives : sequence of str, optional
        Further look-alike kinds from `EXTRA_NEGATIVE_KINDS` (polar rings,
        open spirals, galaxy-star pairs, mergers, blends, dusty edge-on
        disks; `crclean.training.lenses._lookalikes`), taking turns with the
        others. Empty keeps the earlier banks.
    compact_fraction, multiple_image_fraction : float, optional
        Shares of compact lenses and of doubles and quads (see `lens_stamp`);
        with either set, the bank records each lens's ``lens_configuration``
        and ``n_images``.
    colour_parts : bool, optional
        Keep each negative's young light apart (``negatives_young``), which
        multi-band scenes need to colour it; the stamps are the same.
    progress : callable, optional
        Called with the number of stamps done after each one.
    """
    rng = np.random.default_rng(seed)
    if not 0.0 <= smooth_source_fraction <= 1.0:
        raise ValueError(f"smooth_source_fraction must be within 0-1, got {smooth_source_fraction!r}")
    check_lens_mix(compact_fraction, multiple_image_fraction)
    extra_negatives = check_extra_negatives(extra_negatives)
    lenses = [lens_stamp(rng, size=size, pixel_scale=pixel_scale, wide=wide_lenses,
                         smooth_fraction=smooth_source_fraction, varied=varied_lenses,
                         compact_fraction=compact_fraction,
                         multiple_image_fraction=multiple_image_fraction)
              for _ in _counted(n_lenses, progress)]
    turns = NEGATIVE_KINDS + ((ALIGNMENT,) if unlensed_negatives else ()) + extra_negatives
    kinds = np.array([turns[i % len(turns)] for i in range(n_negatives)])
    negatives = [negative_stamp(rng, kind, size=size, pixel_scale=pixel_scale, wide=wide_negatives,
                                early_type_rings=early_type_rings, clumpy=clumpy_negatives, with_young=True,
                                varied=varied_lenses, smooth_fraction=smooth_source_fraction)
                 for kind in kinds]
    fields = [field_galaxy_stamp(rng, size=size, pixel_scale=pixel_scale) for _ in range(n_field)]
    return StampBank(
        pixel_scale=pixel_scale,
        lens=np.stack([s["lens"] for s in lenses]), arcs=np.stack([s["arcs"] for s in lenses]),
        arc_mask=np.stack([s["arc_mask"] for s in lenses]),
        theta_e=np.array([s["theta_e"] for s in lenses], np.float32),
        negatives=np.stack([image for image, _ in negatives]), negative_kinds=kinds, field=np.stack(fields),
        negatives_young=np.stack([young for _, young in negatives]) if colour_parts else None,
        **_configurations(lenses))


def _configurations(lenses):
    """The bank's ``lens_configuration`` and ``n_images``, where its stamps recorded them."""
    if not lenses or "configuration" not in lenses[0]:
        return {}
    return {"lens_configuration": np.array([s["configuration"] for s in lenses]),
            "n_images": np.array([s["n_images"] for s in lenses], np.int16)}


def check_extra_negatives(kinds):
    """``kinds`` as a tuple of distinct `EXTRA_NEGATIVE_KINDS`, or ValueError naming the problem."""
    if isinstance(kinds, str) or not all(isinstance(kind, str) for kind in kinds):
        raise ValueError(f"extra_negatives must be a list of names from {EXTRA_NEGATIVE_KINDS}, got {kinds!r}")
    kinds = tuple(kinds)
    if len(set(kinds)) != len(kinds) or not set(kinds) <= set(EXTRA_NEGATIVE_KINDS):
        raise ValueError(f"extra_negatives must be distinct names from {EXTRA_NEGATIVE_KINDS}, got {list(kinds)}")
    return kinds


def check_lens_mix(compact_fraction, multiple_image_fraction):
    """Both shares are numbers within 0-1 and together at most 1, or ValueError."""
    for name, value in (("compact_fraction", compact_fraction), ("multiple_image_fraction", multiple_image_fraction)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ValueError(f"{name} must be a number within 0-1, got {value!r}")
    if compact_fraction + multiple_image_fraction > 1:
        raise ValueError(f"compact_fraction + multiple_image_fraction must be at most 1, got "
                         f"{compact_fraction} + {multiple_image_fraction}")


def _counted(n, progress):
    for index in range(n):
        yield index
        if progress is not None:
            progress(index + 1)
