"""``crclean lenses --cutouts-in``: read FITS cutouts (or cubes of them) and catalogue one score per cutout.

A file holds one cutout per 2-D image HDU, or a stack of them per 3-D HDU
(cutout ``i`` is plane ``data[i]``, as astropy reads the cube). A multi-band
model takes a ``{band}`` pattern, one file per band, whose chosen HDUs hold the
same cutouts in the same order and shape. One HDU is read at a time.
"""

import warnings

import numpy as np

from crclean._batch import FileOutcome
from crclean.exceptions import CrcleanError, InputError, UnitsWarning

__all__ = ["CUTOUT_COLUMNS", "make_cutout_catalog", "score_cutout_file"]

CUTOUT_COLUMNS = ("id", "file", "plane", "index", "score", "candidate", "x", "y", "xmin", "ymin", "xmax", "ymax",
                  "ra", "dec", "theta_e_arcsec", "sky_sigma", "model")


def make_cutout_catalog(scores, *, file, plane, conf, spec, scale, wcs=None, first_id=1):
    """One row per cutout, in input order.

    Parameters
    ----------
    scores : list of crclean.lenses._cutouts.CutoutScore
    file, plane : str
        The file (or ``{band}`` pattern) and the HDU the cutouts came from.
    conf : float
        ``candidate`` is ``score >= conf``.
    spec : crclean.weights.ModelSpec
        Names the model in every row and gives the Einstein-radius calibration.
    scale : float
        Arcsec per cutout pixel.
    wcs : astropy.wcs.WCS, optional
        The HDU's celestial WCS (shared by every plane of a cube): ``ra``/``dec``
        of the best box's centre.
    first_id : int, optional

    Returns
    -------
    astropy.table.Table
        Columns `CUTOUT_COLUMNS`. ``x``... ``ymax`` are 0-based pixels of the
        best box in its cutout (as in the tile catalogue), NaN where nothing
        was detected; ``theta_e_arcsec`` is the box's calibrated Einstein radius.
    """
    from astropy.table import Table

    boxes = np.array([s.box if s.box is not None else [np.nan] * 4 for s in scores], float).reshape(-1, 4)
    x = (boxes[:, 0] + boxes[:, 2]) / 2 - 0.5
    y = (boxes[:, 1] + boxes[:, 3]) / 2 - 0.5
    ra = dec = np.full(len(scores), np.nan)
    found = np.isfinite(x)
    if wcs is not None and found.any():
        ra, dec = ra.copy(), dec.copy()
        ra[found], dec[found] = (np.asarray(v, float) for v in wcs.pixel_to_world_values(x[found], y[found]))
    half_side = (boxes[:, 2] - boxes[:, 0] + boxes[:, 3] - boxes[:, 1]) / 4 * scale
    theta_e = np.clip(spec.theta_e_slope * half_side + spec.theta_e_offset, 0.0, None)
    score = np.array([s.score for s in scores], float)
    n = len(scores)
    table = Table({
        "id": np.arange(first_id, first_id + n, dtype=np.int64),
        "file": np.array([str(file)] * n, dtype=str if n else "U1"),
        "plane": np.array([str(plane)] * n, dtype=str if n else "U1"),
        "index": np.arange(n, dtype=np.int64), "score": score, "candidate": score >= conf,
        "x": x, "y": y, "xmin": boxes[:, 0], "ymin": boxes[:, 1], "xmax": boxes[:, 2] - 1, "ymax": boxes[:, 3] - 1,
        "ra": ra, "dec": dec, "theta_e_arcsec": theta_e,
        "sky_sigma": np.array([s.sky_sigma for s in scores], float),
        "model": np.array([spec.name] * n, dtype=str if n else "U1"),
    })
    for name, unit in (("ra", "deg"), ("dec", "deg"), ("theta_e_arcsec", "arcsec"), ("x", "pix"), ("y", "pix")):
        table[name].unit = unit
    return table


def _cutout_hdus(exposure, extensions):
    """Indices of the HDUs holding cutouts: ``--ext``, else every 2-D or 3-D image not named like ancillary data."""
    from crclean.io._hdus import ANCILLARY_NAMES, describe_hdus, hdu_name, hdu_shape, is_image
    from crclean.io._select import _match

    hdul, path = exposure.hdul, exposure.path
    if extensions:
        indices = list(dict.fromkeys(index for spec in extensions for index in _match(hdul, spec, path)))
    else:
        indices = [index for index, hdu in enumerate(hdul)
                   if is_image(hdu) and len(hdu_shape(hdu) or ()) in (2, 3) and hdu_name(hdu) not in ANCILLARY_NAMES]
    if not indices:
        raise InputError(f"{path} holds no 2-D cutout or 3-D cube of cutouts (HDUs: {describe_hdus(hdul)}); "
                         "choose one with --ext")
    for index in indices:
        shape = hdu_shape(hdul[index]) if is_image(hdul[index]) else None
        if not shape or len(shape) not in (2, 3):
            raise InputError(f"HDU {index} of {path} is not a 2-D cutout or a 3-D cube of cutouts (shape {shape}); "
                             "choose another with --ext")
    return indices


def _read_cutouts(exposure, index):
    """``(label, (n, ny, nx) float32 data, header)`` of one HDU; a 2-D image is a stack of one."""
    from crclean.io._hdus import hdu_label, release_data

    hdu = exposure.hdul[index]
    label = hdu_label(hdu, index)
    header = hdu.header.copy()
    try:
        data = np.array(hdu.data, dtype=np.float32, copy=True)
    except (OSError, ValueError, TypeError) as error:
        raise InputError(f"{label} (HDU {index}) of {exposure.path} cannot be read ({error}); the file is corrupt: "
                         "copy or download it again") from None
    finally:
        release_data(hdu)
    return label, data.reshape(-1, *data.shape[-2:]), header


def _stacks(input_path, extensions, bands):
    """Per chosen HDU: ``(name, plane label, cutouts, header)``; cutouts ``(n, [bands,] ny, nx)``."""
    from contextlib import ExitStack

    from crclean.lenses._bands import BAND_FIELD, band_paths, open_band_files, reference_index

    if not bands and BAND_FIELD in str(input_path):
        raise InputError(f"{input_path}: the lens model takes one band, so {BAND_FIELD} is not filled in; name one "
                         "file, or choose a multi-band model with --model")
    paths = band_paths(input_path, bands) if bands else [input_path]
    with ExitStack() as files:
        exposures, chosen = open_band_files(files, input_path, paths,
                                            lambda exposure: _cutout_hdus(exposure, extensions), what="cutout HDUs")
        for position in range(len(chosen[0])):
            read = [_read_cutouts(exposure, indices[position]) for exposure, indices in zip(exposures, chosen)]
            shapes = {data.shape for _, data, _ in read}
            if len(shapes) > 1:
                listing = ", ".join(f"{path} {data.shape}" for path, (_, data, _) in zip(paths, read))
                raise InputError(f"{input_path}: the bands' cutouts differ in number or shape ({listing}); each band "
                                 "needs the same cutouts, on the same grid")
            label, header = read[reference_index(bands) if bands else 0][0::2]
            name = str(input_path) if len(chosen[0]) == 1 else f"{input_path}[{label}]"
            cutouts = np.stack([data for _, data, _ in read], axis=1) if bands else read[0][1]
            yield name, label, cutouts, header


def score_cutout_file(finder, input_path, *, extensions=None, pixel_scale=None):
    """Score every cutout of one FITS file (or one file per band) and capture its outcome.

    Parameters
    ----------
    finder : crclean.lenses.LensFinder
        Loaded; its ``conf`` sets the ``candidate`` column.
    input_path : str or pathlib.Path
        A FITS file, or for a multi-band model a ``{band}`` pattern.
    extensions : list of int or str, optional
        HDUs to read (``--ext``) [default: every 2-D or 3-D image HDU].
    pixel_scale : float, optional
        ``--pixel-scale``, for HDUs without a celestial WCS.

    Returns
    -------
    FileOutcome
        ``report`` is a `crclean.lenses._batch.TileSearch` whose tables are
        `make_cutout_catalog` tables. Never raises for a bad file.
    """
    from crclean.lenses._batch import TileSearch, _pixel_scale
    from crclean.lenses._resample import celestial_wcs, pixel_scale_arcsec

    found, error = TileSearch(), None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            for name, label, cutouts, header in _stacks(input_path, extensions, finder.spec.bands):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UnitsWarning)
                    wcs, notes = celestial_wcs(header, where=name)
                scale, scale_notes = _pixel_scale(name, wcs, header, pixel_scale)
                if scale is None and wcs is not None:
                    scale = pixel_scale_arcsec(wcs)
                elif scale is None:
                    scale = finder.spec.pixel_scale
                    scale_notes.append(f"{name} has no celestial WCS or pixel-scale keyword; assumed the model's "
                                       f"{scale} arcsec/pixel")
                if not np.isfinite(scale) or scale <= 0:
                    raise InputError(f"{name}: its WCS gives a pixel scale of {scale} arcsec; fix the CD/CDELT "
                                     "keywords or remove them and pass --pixel-scale")
                scores = finder.score_cutouts(cutouts, pixel_scale=scale, where=name)
                found.tables.append(make_cutout_catalog(
                    scores, file=input_path, plane=label, conf=finder.conf, spec=finder.spec, scale=scale, wcs=wcs,
                    first_id=1 + sum(len(table) for table in found.tables)))
                found.notes.extend(notes + scale_notes)
        except (CrcleanError, ValueError, OSError) as exc:
            error = str(exc)
    return FileOutcome(str(input_path), found if error is None else None, error, [str(w.message) for w in caught])
