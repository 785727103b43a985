"""One tile file of a ``crclean lenses`` batch, searched wherever it runs.

Used by the CLI's local loop and by Dask workers alike, so a file fails the
same way in both. A file's candidates are numbered from 1 and come back with
their cutout thumbnails (small RGB arrays), not the tile's pixels; the caller
renumbers them in input order, so the catalogue does not depend on where or
in which order the files were searched.
"""

import warnings
from dataclasses import dataclass, field

from crclean._batch import FileOutcome
from crclean.exceptions import CrcleanError, UnitsWarning

__all__ = ["TileSearch", "load_finder", "search_tile"]


@dataclass
class TileSearch:
    """What `search_tile` found in one file.

    Attributes
    ----------
    tables : list of astropy.table.Table
        One catalogue per searched plane (see `make_catalog`); ``id`` runs
        from 1 across the file.
    thumbnails : list of numpy.ndarray
        One RGB cutout per row of ``tables`` in order (see
        `cutout_thumbnail`); empty unless cutouts were asked for.
    notes : list of str
    seconds : float
        Time spent in `LensFinder.find`.
    """

    tables: list = field(default_factory=list)
    thumbnails: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    seconds: float = 0.0


def load_finder(**finder_options):
    """A `LensFinder` with its network loaded and no progress bar (for Dask workers)."""
    from crclean.lenses._finder import LensFinder

    return LensFinder(**finder_options, progress=False).load()


def search_tile(finder, input_path, *, extensions=None, cutouts=False):
    """Search every selected plane of one FITS file and capture its outcome.

    Parameters
    ----------
    finder : crclean.lenses.LensFinder
    input_path : str or pathlib.Path
    extensions : list of int or str, optional
        Planes to search (``--ext``) [default: all SCI, else every 2-D image].
    cutouts : bool, optional
        Also make a cutout thumbnail per candidate.

    Returns
    -------
    FileOutcome
        ``report`` is a `TileSearch`. Never raises for a bad file: errors are
        in ``error``.
    """
    from crclean.io import open_exposure, read_plane, select_planes
    from crclean.lenses._catalog import cutout_thumbnail
    from crclean.lenses._resample import celestial_wcs

    found, error = TileSearch(), None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with open_exposure(input_path) as exposure:
                indices = select_planes(exposure, extensions)
                for index in indices:
                    with warnings.catch_warnings():
                        # Gain and units are irrelevant here: the finder works in units of the sky noise.
                        warnings.simplefilter("ignore", UnitsWarning)
                        plane = read_plane(exposure, index)
                    name = str(input_path) if len(indices) == 1 else f"{input_path}[{plane.label}]"
                    result = finder.find(plane.data, wcs=celestial_wcs(plane.header), tile=name,
                                         first_id=1 + sum(len(table) for table in found.tables))
                    found.tables.append(result.catalog)
                    if cutouts:
                        found.thumbnails.extend(cutout_thumbnail(result.image, row) for row in result.catalog)
                    found.notes.extend(result.notes)
                    found.seconds += result.seconds
        except (CrcleanError, ValueError, OSError) as exc:
            error = str(exc)
    return FileOutcome(str(input_path), found if error is None else None, error, [str(w.message) for w in caught])
