"""Inpainting methods, chosen by name."""

from types import MappingProxyType

from crclean.inpaint._median import masked_median

__all__ = ["INPAINTERS", "inpaint", "masked_median"]

INPAINTERS = MappingProxyType({"median": masked_median})


def inpaint(method, image, mask):
    """Fill ``mask`` pixels of ``image`` with the named method (a new array)."""
    if method not in INPAINTERS:
        known = ", ".join(INPAINTERS)
        raise ValueError(f"unknown inpainting method {method!r}; choose one of: {known}")
    return INPAINTERS[method](image, mask)
