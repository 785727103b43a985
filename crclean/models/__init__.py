"""Neural networks, built from a registered architecture name and a config.

Modules here hold no file I/O: :mod:`crclean.weights` finds, verifies and
loads checkpoints.
"""

from crclean.models._registry import ARCHITECTURES, build_network

__all__ = ["ARCHITECTURES", "build_network"]
