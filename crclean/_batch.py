"""One file of a batch: process it, and turn failures and warnings into a result.

Used by the CLI's local loop and by Dask workers alike, so a file fails the
same way wherever it runs: its error is reported, the others go on.
`clean_one` is ``crclean mask``'s; ``crclean lenses`` has
`crclean.lenses._batch.search_tile`.
"""

import warnings
from dataclasses import dataclass, field

from crclean.exceptions import CrcleanError

__all__ = ["FileOutcome", "clean_one"]


@dataclass
class FileOutcome:
    """What happened to one input file.

    Attributes
    ----------
    input_path : str
    report : object or None
        Set when the file succeeded: a `crclean.clean.FileReport` (mask) or a
        `crclean.lenses._batch.TileSearch` (lenses).
    error : str or None
        One-line message when it failed.
    warnings : list of str
        Warnings raised while processing it, in order.
    skipped : bool
        Its output existed and was left as it was (``skip_existing``).
    output_path : str or None
        The output it was given (set by `clean_one`).
    """

    input_path: str
    report: object = None
    error: str = None
    warnings: list = field(default_factory=list)
    skipped: bool = False
    output_path: str = None

    @property
    def status(self):
        """``'done'``, ``'skipped'`` or ``'failed'``."""
        if self.error is not None:
            return "failed"
        return "skipped" if self.skipped else "done"


def clean_one(cleaner, input_path, output_path, *, quicklook_path=None, skip_existing=False, **file_options):
    """Run `Cleaner.clean_file` on one file and capture its outcome.

    Parameters
    ----------
    cleaner : crclean.clean.Cleaner
    input_path, output_path : str or pathlib.Path
    quicklook_path : pathlib.Path, optional
        Also write a quick-look PNG (checked before any work).
    skip_existing : bool, optional
        When ``output_path`` exists, leave it (and the input) alone and
        return an outcome with ``skipped`` set, without reading the input.
    **file_options
        Passed to `Cleaner.clean_file` (``ext``, ``gain``, ``overwrite``, ``trim``...).

    Returns
    -------
    FileOutcome
        Never raises for bad input or output: errors are in ``error``.
    """
    from pathlib import Path

    from crclean.io import check_output_writable

    if skip_existing and Path(output_path).exists():
        return FileOutcome(str(input_path), skipped=True, output_path=str(output_path))
    report, error = None, None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if quicklook_path is not None:
                check_output_writable(quicklook_path, overwrite=file_options.get("overwrite", False))
            report = cleaner.clean_file(input_path, output_path, quicklook_path=quicklook_path,
                                        **file_options)
        except (CrcleanError, ValueError, OSError) as exc:
            error = str(exc)
    return FileOutcome(str(input_path), report, error, [str(w.message) for w in caught],
                       output_path=str(output_path))
