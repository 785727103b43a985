"""Masked-median inpainting (method ``median``).

The implementation is the engine's (`crclean.engine._median`), which fills
non-finite pixels with it before a network sees them.
"""

from crclean.engine._median import masked_median

__all__ = ["masked_median"]
