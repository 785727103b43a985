"""Inpainting methods, chosen by name.

The names are known without importing numpy, so the CLI can list them
cheaply; an implementation is imported when it is first used.
"""

import importlib
from types import MappingProxyType

__all__ = ["DEFAULT_INPAINTER", "INPAINTERS", "get_inpainter", "inpaint", "masked_median"]

#: Method name -> (module, function). Each function takes ``(image, mask)``
#: and returns a new array with the masked pixels filled.
INPAINTERS = MappingProxyType({
    "median": ("crclean.inpaint._median", "masked_median"),
    "grow": ("crclean.inpaint._grow", "grow_fill"),
    "harmonic": ("crclean.inpaint._harmonic", "harmonic_fill"),
    "learned": ("crclean.inpaint._learned", "learned_fill"),
})

#: The method `crclean mask` uses unless told otherwise: the best measured by
#: benchmarks/inpaint.py (true masks, 2 x 1024^2 per set; docs/benchmarks.md).
#: RMS of (fill - truth) / noise, grow vs median: ground thin 1.98 vs 5.62,
#: ground thick 1.46 vs 1.65, space 1.16 vs 1.20; median |dF|/F of stars with a
#: cosmic ray in the aperture: 0.026 vs 0.030, 0.016 vs 0.018, 0.30 vs 0.41.
#: `learned` has a lower RMS on all three sets (1.19, 1.14, 1.07) and better
#: ground star fluxes (0.014, 0.007), but worse space ones (0.46 vs 0.30), so
#: it is not the default: a default must not make any set's photometry worse.
DEFAULT_INPAINTER = "grow"


def get_inpainter(method):
    """The function behind an inpainting method's name."""
    if method not in INPAINTERS:
        known = ", ".join(INPAINTERS)
        raise ValueError(f"unknown inpainting method {method!r}; choose one of: {known}")
    module, function = INPAINTERS[method]
    return getattr(importlib.import_module(module), function)


def inpaint(method, image, mask, *, unusable=None, **options):
    """Fill ``mask`` pixels of ``image`` with the named method (a new array).

    ``unusable`` pixels (known defects, saturated pixels) outside ``mask``
    are never used to fill others and keep their values. ``options`` go to
    the method (e.g. ``device`` for ``'learned'``).
    """
    fill = get_inpainter(method)
    if unusable is None or not (unusable := unusable & ~mask).any():
        return fill(image, mask, **options)
    import numpy as np

    # Every method refuses non-finite pixels as sources: the unusable ones are hidden as NaN for the fill.
    cleaned = fill(np.where(unusable, np.nan, image), mask, **options)
    cleaned[unusable] = image[unusable]
    return cleaned


def __getattr__(name):
    if name == "masked_median":
        return get_inpainter("median")
    raise AttributeError(f"module 'crclean.inpaint' has no attribute {name!r}")
