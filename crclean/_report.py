"""A batch's report: one row per file and image, written as JSON or ECSV.

``crclean mask --report FILE`` writes it, from the `crclean._batch.FileOutcome`
of each file (local and Dask runs give the same outcomes, so the same rows).
The file is written through a temporary name and renamed into place, so a
pipeline never reads half a report.
"""

import json
from pathlib import Path

import numpy as np

from crclean import __version__

__all__ = ["REPORT_COLUMNS", "REPORT_FORMATS", "check_report_path", "outcome_rows", "unprocessed_row",
           "write_report"]

REPORT_FORMATS = (".json", ".ecsv")
"""File name endings `write_report` knows."""

REPORT_COLUMNS = {
    "input": (str, "the input file"),
    "output": (str, "its output file (for a skipped file: the one that existed)"),
    "extension": (str, "the image, e.g. 'HDU 0' or 'SCI,2'; empty for a file skipped or failed as a whole"),
    "status": (str, "done, skipped or failed"),
    "message": (str, "why it failed or was skipped; for a done image, the file's warnings, '; '-separated"),
    "model": (str, "the model used"),
    "threshold": (float, "probability above which a pixel is flagged"),
    "grow_threshold": (float, "lower probability the flagged hits were grown into (--grow-threshold); "
                              "null when they were not"),
    "star_check": (bool, "whether the model's flags on stars that the frame's unflagged stars explain were "
                         "taken back (--star-check)"),
    "axis_tracks": (bool, "whether long tracks along rows and columns that the model left were searched for "
                          "and flagged (--axis-tracks)"),
    "flagged": (np.int64, "pixels flagged as cosmic rays"),
    "flagged_fraction": (float, "flagged / pixels searched"),
    "section": (str, "the data section searched (FITS notation), empty when the whole image was"),
    "seconds": (float, "time spent on the image (reading and cleaning)"),
    "device": (str, "where the model ran: cpu, cuda:0..."),
}
"""Each column of a report -> (type, meaning); a value that does not apply is null (JSON) or masked (ECSV)."""


def check_report_path(path):
    """Fail early unless ``path`` can take a report: a known ending and a writable folder.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        If the name does not end in ``.json`` or ``.ecsv``.
    crclean.exceptions.OutputError
        If ``path`` is a folder, or its folder is missing or not writable.
    """
    from crclean.io import check_output_writable

    path = Path(path)
    if path.suffix.lower() not in REPORT_FORMATS:
        raise ValueError(f"the report {path} must end in .json or .ecsv, got {path.suffix or 'no ending'!r}")
    # A report describes one run and is replaced by the next (as a log file is).
    check_output_writable(path, overwrite=True)
    return path


def outcome_rows(outcome, *, threshold, grow_threshold=None, star_check=None, axis_tracks=None):
    """The report rows of one file's `crclean._batch.FileOutcome`: one per image when it was done.

    Parameters
    ----------
    outcome : crclean._batch.FileOutcome
    threshold : float
        The run's threshold.
    grow_threshold : float, optional
        The run's ``--grow-threshold``; None when masks were not grown.
    star_check : bool, optional
        Whether the run took back flags on stars like the frame's others (``--star-check``).
    axis_tracks : bool, optional
        Whether the run searched for long tracks along the axes (``--axis-tracks``).

    Returns
    -------
    list of dict
        Keys are `REPORT_COLUMNS`, in order.
    """
    base = dict(input=str(outcome.input_path), output=_text(outcome.output_path),
                **_thresholds(threshold, grow_threshold), star_check=star_check, axis_tracks=axis_tracks)
    if outcome.status == "failed":
        return [_row(base, status="failed", message=outcome.error)]
    if outcome.status == "skipped":
        return [_row(base, status="skipped", message="the output exists; left as it was (--skip-existing)")]
    report = outcome.report
    if report is None:  # finished on a Dask worker while a signal stopped the run: only its output is known
        return [_row(base, status="done", message="finished while the run was stopping; no details came back")]
    warnings = "; ".join(outcome.warnings) or None
    return [_row(base, output=str(report.output_path), extension=plane.label, status="done", message=warnings,
                 model=report.model, flagged=int(plane.n_flagged),
                 flagged_fraction=plane.n_flagged / max(plane.n_pixels, 1), section=plane.section,
                 seconds=float(plane.seconds), device=report.device)
            for plane in report.planes]


def unprocessed_row(input_path, output_path, *, threshold, reason, grow_threshold=None, star_check=None,
                    axis_tracks=None):
    """The row of a file the run never reached (stopped by a signal, or no cluster): status failed."""
    return _row(dict(input=str(input_path), output=_text(output_path), **_thresholds(threshold, grow_threshold),
                     star_check=star_check, axis_tracks=axis_tracks), status="failed",
                message=f"not processed: {reason}")


def _thresholds(threshold, grow_threshold):
    return dict(threshold=float(threshold), grow_threshold=None if grow_threshold is None else float(grow_threshold))


def _row(base, **values):
    row = dict.fromkeys(REPORT_COLUMNS)
    row.update(base)
    row.update(values)
    return row


def _text(value):
    return None if value is None else str(value)


def write_report(path, rows):
    """Write report rows to ``path`` (``.json``: a list of objects; ``.ecsv``: a table), atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Ends in ``.json`` or ``.ecsv``; an existing report is replaced.
    rows : list of dict
        From `outcome_rows` and `unprocessed_row`.

    Raises
    ------
    ValueError
        For another ending.
    crclean.exceptions.OutputError
        If the file cannot be written.
    """
    from crclean.io._paths import output_errors, replace_via_temporary

    path = check_report_path(path)
    if path.suffix.lower() == ".json":
        def write(temporary):
            with open(temporary, "w", encoding="utf-8") as stream:
                json.dump(rows, stream, indent=1, allow_nan=False)
                stream.write("\n")
    else:
        table = _table(rows)

        def write(temporary):
            table.write(temporary, format="ascii.ecsv")
    with output_errors(path):
        replace_via_temporary(path, write)


def _table(rows):
    from astropy.table import MaskedColumn, Table

    table = Table(meta={"crclean_version": __version__})
    for name, (kind, meaning) in REPORT_COLUMNS.items():
        values = [row[name] for row in rows]
        missing = [value is None for value in values]
        fill = "" if kind is str else kind(0)
        table[name] = MaskedColumn([fill if value is None else value for value in values], mask=missing,
                                   dtype=kind, description=meaning)
    return table
