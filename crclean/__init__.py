"""crclean: cosmic-ray masks and cleaning for CCD exposures with deep models.

Importing :mod:`crclean` is cheap: PyTorch is imported only when a model is
loaded, so ``crclean --help`` and ``crclean models`` start quickly.
"""

__version__ = "0.2.0.dev0"

__all__ = ["__version__", "clean_array", "cosmicray_crclean", "Cleaner", "CleanResult"]


def __getattr__(name):
    # Lazy public API: importing crclean.clean pulls in numpy and astropy,
    # which the CLI's --help path does not need.
    if name in ("clean_array", "Cleaner", "CleanResult"):
        from crclean import clean

        return getattr(clean, name)
    if name == "cosmicray_crclean":
        from crclean._ccddata import cosmicray_crclean

        return cosmicray_crclean
    raise AttributeError(f"module 'crclean' has no attribute {name!r}")
