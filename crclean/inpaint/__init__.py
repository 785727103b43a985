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
})

#: The method `crclean mask` uses unless told otherwise.
DEFAULT_INPAINTER = "median"


def get_inpainter(method):
    """The function behind an inpainting method's name."""
    if method not in INPAINTERS:
        known = ", ".join(INPAINTERS)
        raise ValueError(f"unknown inpainting method {method!r}; choose one of: {known}")
    module, function = INPAINTERS[method]
    return getattr(importlib.import_module(module), function)


def inpaint(method, image, mask):
    """Fill ``mask`` pixels of ``image`` with the named method (a new array)."""
    return get_inpainter(method)(image, mask)


def __getattr__(name):
    if name == "masked_median":
        return get_inpainter("median")
    raise AttributeError(f"module 'crclean.inpaint' has no attribute {name!r}")
