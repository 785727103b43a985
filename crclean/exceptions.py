"""Exceptions and warnings raised by crclean.

The library raises these; only :mod:`crclean.cli` turns them into exit codes
and messages. Every message names the file (or parameter) at fault and says
what to do about it.
"""

__all__ = [
    "CrcleanError",
    "InputError",
    "OutputError",
    "ModelError",
    "MissingExtraError",
    "CrcleanWarning",
    "UnitsWarning",
]


class CrcleanError(Exception):
    """Base class of every error crclean raises on purpose."""


class InputError(CrcleanError):
    """An input file or array cannot be processed (missing, not FITS, bad shape...)."""


class OutputError(CrcleanError):
    """An output cannot be written (exists without ``overwrite``, read-only folder...)."""


class ModelError(CrcleanError):
    """A model is unknown, its weights are missing, or their checksum does not match."""


class MissingExtraError(ModelError):
    """A model needs an optional dependency that is not installed (``extra`` names the pip extra)."""

    def __init__(self, message, *, extra):
        super().__init__(message)
        self.extra = extra


class CrcleanWarning(UserWarning):
    """Base class of crclean's warnings."""


class UnitsWarning(CrcleanWarning):
    """Gain, read noise or units had to be assumed rather than read from the header."""
