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
from crclean.exceptions import CrcleanError, InputError, UnitsWarning

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


def search_tile(finder, input_path, *, extensions=None, cutouts=False, pixel_scale=None):
    """Search every selected plane of one FITS file (or one file per band) and capture its outcome.

    Parameters
    ----------
    finder : crclean.lenses.LensFinder
    input_path : str or pathlib.Path
        A FITS file; for a multi-band model, a pattern naming one file per
        band with ``{band}`` (e.g. ``tile_{band}.fits``), whose n-th selected
        planes are searched together.
    extensions : list of int or str, optional
        Planes to search (``--ext``) [default: all SCI, else every 2-D image].
    cutouts : bool, optional
        Also make a cutout thumbnail per candidate.
    pixel_scale : float, optional
        Arcsec per pixel for planes without a celestial WCS (``--pixel-scale``);
        without it, such a plane's header keywords (`PIXEL_SCALE_KEYWORDS`)
        are tried, then the model's scale is assumed.

    Returns
    -------
    FileOutcome
        ``report`` is a `TileSearch`. Never raises for a bad file: errors are
        in ``error``.
    """
    from crclean.lenses._catalog import cutout_thumbnail

    found, error = TileSearch(), None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            planes = _band_planes if finder.spec.bands else _single_planes
            for name, image, wcs, header, notes in planes(input_path, extensions, finder.spec.bands):
                scale, scale_notes = _pixel_scale(name, wcs, header, pixel_scale)
                result = finder.find(image, wcs=wcs, pixel_scale=scale, tile=name,
                                     first_id=1 + sum(len(table) for table in found.tables))
                notes = notes + scale_notes + _cutout_hint(name, image.shape, finder.spec)
                found.tables.append(result.catalog)
                if cutouts:
                    found.thumbnails.extend(cutout_thumbnail(result.image, row) for row in result.catalog)
                found.notes.extend(notes + result.notes)
                found.seconds += result.seconds
        except (CrcleanError, ValueError, OSError) as exc:
            error = str(exc)
    return FileOutcome(str(input_path), found if error is None else None, error, [str(w.message) for w in caught])


def _cutout_hint(name, shape, spec):
    """A note for an image no larger than one window, a cutout whose sky a tile's background mesh would misjudge."""
    if max(shape[-2:]) > spec.tile_size:
        return []
    return [f"{name} is {shape[-1]}x{shape[-2]} pixels, the size of a cutout: searched as a tile, with a background "
            "mesh that its central galaxy may dominate; --cutouts-in scores it with the sky of its border"]


def _pixel_scale(name, wcs, header, requested):
    """Scale to search a plane at when its WCS does not give one: ``(arcsec per pixel or None, notes)``.

    A celestial WCS always wins, since ra/dec come from it too; then
    ``--pixel-scale``; then the header's own keywords; ``None`` leaves the
    model's scale (the finder notes it).
    """
    from crclean.lenses._finder import SCALE_TOLERANCE
    from crclean.lenses._resample import header_pixel_scale, pixel_scale_arcsec

    if wcs is not None:
        stated = pixel_scale_arcsec(wcs)  # a broken one is refused by the finder
        if requested is not None and stated > 0 and abs(requested / stated - 1) > SCALE_TOLERANCE:
            return None, [f"{name}: --pixel-scale {requested:g} ignored; its WCS gives {stated:.4g} arcsec/pixel"]
        return None, []
    if requested is not None:
        return requested, [f"{name} has no celestial WCS; searched at --pixel-scale {requested:g} arcsec/pixel "
                           "and left ra/dec empty"]
    found = header_pixel_scale(header, where=name)
    if found is None:
        return None, []
    scale, keywords = found
    return scale, [f"{name} has no celestial WCS; searched at {scale:.4g} arcsec/pixel from its {keywords} "
                   "keyword(s) and left ra/dec empty"]


def _read(exposure, index):
    """``(label, data, wcs, header, notes)`` of one image plane of an opened file."""
    from crclean.io import read_plane
    from crclean.lenses._resample import celestial_wcs

    with warnings.catch_warnings():
        # Gain and units are irrelevant here: the finder works in units of the sky noise.
        warnings.simplefilter("ignore", UnitsWarning)
        plane = read_plane(exposure, index)
    wcs, notes = celestial_wcs(plane.header, where=f"{exposure.path}[{plane.label}]")
    return plane.label, plane.data, wcs, plane.header, notes


def _single_planes(input_path, extensions, bands):
    """What a single-band model searches in one file: each selected plane on its own, read one at a time."""
    from crclean.io import open_exposure, select_planes
    from crclean.lenses._bands import BAND_FIELD

    if BAND_FIELD in str(input_path):
        raise InputError(f"{input_path}: the lens model takes one image per tile, so {BAND_FIELD} is not filled "
                         "in; name one file, or choose a multi-band model with --model")
    with open_exposure(input_path) as exposure:
        indices = select_planes(exposure, extensions)
        for index in indices:
            label, data, wcs, header, notes = _read(exposure, index)
            yield (str(input_path) if len(indices) == 1 else f"{input_path}[{label}]"), data, wcs, header, notes


def _band_planes(pattern, extensions, bands):
    """What a multi-band model searches: the n-th selected plane of every band's file, on one grid.

    Every file is opened (and its planes chosen) before any pixel is read, so
    a missing band fails before any compute.
    """
    from contextlib import ExitStack

    from crclean.io import select_planes
    from crclean.lenses._bands import band_paths, open_band_files, reference_index, register_bands

    paths = band_paths(pattern, bands)
    with ExitStack() as files:
        exposures, indices = open_band_files(files, pattern, paths,
                                             lambda exposure: select_planes(exposure, extensions), what="image planes")
        for position in range(len(indices[0])):
            planes = [_read(exposure, chosen[position]) for exposure, chosen in zip(exposures, indices)]
            name = str(pattern) if len(indices[0]) == 1 else f"{pattern}[{planes[0][0]}]"
            stack, wcs, resampled = register_bands([plane[1] for plane in planes], [plane[2] for plane in planes],
                                                   bands=bands, where=name)
            notes = [note for plane in planes for note in plane[4]]
            if resampled:
                notes.append(f"{name}: band(s) {', '.join(resampled)} resampled onto the grid of band "
                             f"{bands[reference_index(bands)]}")
            # Without a WCS the bands share one grid, so the reference band's header speaks for all.
            yield name, stack, wcs, planes[reference_index(bands)][3], notes
