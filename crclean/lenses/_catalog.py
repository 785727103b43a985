"""The lens catalogue: build it, and write it, ds9 regions and PNG cutouts."""

from pathlib import Path

import numpy as np

from crclean.exceptions import OutputError

__all__ = ["CATALOG_COLUMNS", "catalog_provenance", "make_catalog", "write_catalog", "write_regions",
           "cutout_thumbnail", "write_cutouts", "CATALOG_FORMATS"]

CATALOG_COLUMNS = ("id", "tile", "x", "y", "xmin", "ymin", "xmax", "ymax", "score", "ra", "dec",
                   "theta_e_arcsec")

#: Suffix -> astropy Table format.
CATALOG_FORMATS = {".ecsv": "ascii.ecsv", ".csv": "ascii.csv", ".fits": "fits"}


def make_catalog(boxes, scores, *, tile="", wcs=None, pixel_scale=None, theta_e_slope=1.0,
                 theta_e_offset=0.0, first_id=1):
    """One row per detection, best score first.

    Parameters
    ----------
    boxes : array_like
        ``(n, 4)`` ``(x0, y0, x1, y1)`` pixel-edge boxes in the input tile
        (pixel ``i`` spans ``[i, i + 1)``).
    scores : array_like
        ``(n,)``.
    tile : str, optional
        Names the tile in the ``tile`` column.
    wcs : astropy.wcs.WCS, optional
        Celestial WCS of the tile; ``ra``/``dec`` are NaN without one.
    pixel_scale : float, optional
        Arcsec per input pixel, for ``theta_e_arcsec`` (NaN without it).
    theta_e_slope, theta_e_offset : float, optional
        Calibration of the Einstein radius from the box half-side.
    first_id : int, optional

    Returns
    -------
    astropy.table.Table
        Columns `CATALOG_COLUMNS`; ``x``, ``y``, ``xmin``... are 0-based
        pixel coordinates (``xmin``/``xmax`` the centres of the first and
        last pixel the box covers).
    """
    from astropy.table import Table

    boxes = np.asarray(boxes, float).reshape(-1, 4)
    scores = np.asarray(scores, float).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    x = (boxes[:, 0] + boxes[:, 2]) / 2 - 0.5
    y = (boxes[:, 1] + boxes[:, 3]) / 2 - 0.5
    if wcs is not None and len(x):
        ra, dec = (np.asarray(v, float) for v in wcs.pixel_to_world_values(x, y))
    else:
        ra = dec = np.full(len(x), np.nan)
    if pixel_scale:
        half_side = (boxes[:, 2] - boxes[:, 0] + boxes[:, 3] - boxes[:, 1]) / 4 * pixel_scale
        theta_e = np.clip(theta_e_slope * half_side + theta_e_offset, 0.0, None)
    else:
        theta_e = np.full(len(x), np.nan)
    table = Table({
        "id": np.arange(first_id, first_id + len(x), dtype=np.int64),
        "tile": np.array([str(tile)] * len(x), dtype=str if len(x) else "U1"),
        "x": x, "y": y, "xmin": boxes[:, 0], "ymin": boxes[:, 1],
        "xmax": boxes[:, 2] - 1, "ymax": boxes[:, 3] - 1,
        "score": scores, "ra": ra, "dec": dec, "theta_e_arcsec": theta_e,
    })
    for name, unit in (("ra", "deg"), ("dec", "deg"), ("theta_e_arcsec", "arcsec"), ("x", "pix"), ("y", "pix")):
        table[name].unit = unit
    return table


def catalog_provenance(spec, *, conf, views, cosmics=None):
    """What made a catalogue, for its metadata: the model, its checksum and calibrations, the cut and views.

    Keys are at most 8 characters, so a ``.fits`` catalogue keeps them as
    plain header keywords.

    Parameters
    ----------
    spec : crclean.weights.ModelSpec
        The lens model.
    conf : float
    views : int
    cosmics : str, optional
        The mask model that cleaned the inputs of cosmic rays first (``--clean-cosmics``), if any.

    Returns
    -------
    dict
        ``model``, ``modelver``, ``modelsha`` (sha256 of the weights),
        ``scorecal`` (the Platt map from logits to scores, Platt 1999),
        ``thetacal`` (box half-side -> Einstein radius), ``conf``, ``views``,
        ``cosmics`` (the mask model, or ``none``), ``crclean`` (the version),
        and ``bands`` for a multi-band model.
    """
    from crclean import __version__

    def signed(value):
        return f"{'-' if value < 0 else '+'} {abs(value):g}"

    meta = {"model": spec.name, "modelver": str(spec.version), "modelsha": spec.sha256,
            "scorecal": f"score = sigmoid({spec.score_slope:g} * logit {signed(spec.score_offset)}) (Platt 1999, "
                        "fitted on held-out simulated windows)",
            "thetacal": f"theta_E = {spec.theta_e_slope:g} * box half-side {signed(spec.theta_e_offset)} arcsec "
                        "(fitted on held-out simulated lenses)",
            "conf": float(conf), "views": int(views), "cosmics": cosmics or "none", "crclean": __version__}
    if spec.bands:
        meta["bands"] = ",".join(spec.bands)
    return meta


def _atomic(path, writer, *, overwrite):
    """Write through a temporary file in the same folder, then rename."""
    from crclean.io import check_output_writable
    from crclean.io._paths import replace_via_temporary

    path = Path(path)
    check_output_writable(path, overwrite=overwrite)
    replace_via_temporary(path, writer)
    return path


def write_catalog(table, path, *, overwrite=False):
    """Write the catalogue as .ecsv, .csv or .fits (chosen by the suffix), atomically.

    Raises
    ------
    OutputError
        Unknown suffix, existing file without ``overwrite``, or an unwritable folder.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in CATALOG_FORMATS:
        raise OutputError(f"{path}: catalogue suffix must be one of {', '.join(CATALOG_FORMATS)}")
    return _atomic(path, lambda tmp: table.write(tmp, format=CATALOG_FORMATS[suffix], overwrite=True),
                   overwrite=overwrite)


def write_regions(table, path, *, overwrite=False):
    """Write a ds9 region file: fk5 circles when every row has ra/dec, else image boxes."""
    rows = list(table)
    use_sky = bool(rows) and all(np.isfinite(row["ra"]) and np.isfinite(row["theta_e_arcsec"]) for row in rows)
    lines = ["# Region file format: DS9 version 4.1", "# crclean lenses",
             'global color=green width=2 font="helvetica 10 normal"', "fk5" if use_sky else "image"]
    for row in rows:
        width, height = row["xmax"] - row["xmin"] + 1, row["ymax"] - row["ymin"] + 1
        label = f"text={{{row['id']} {row['score']:.2f}}}"
        if use_sky:  # a circle 1.5 Einstein radii wide holds the arcs
            radius = 1.5 * max(float(row["theta_e_arcsec"]), 0.5)
            lines.append(f'circle({row["ra"]:.7f},{row["dec"]:.7f},{radius:.2f}") # {label}')
        else:  # ds9 image coordinates are 1-based
            lines.append(f"box({row['x'] + 1:.2f},{row['y'] + 1:.2f},{width:.2f},{height:.2f},0) # {label} "
                         f"tile={{{row['tile']}}}")
    text = "\n".join(lines) + "\n"
    return _atomic(path, lambda tmp: Path(tmp).write_text(text), overwrite=overwrite)


def _asinh_stretch(cut, candidate):
    """Pixels -> [0, 1]: asinh from the sky (20th percentile) to the candidate's brightest pixels.

    The top of the stretch is the 99th percentile inside the candidate's box
    (``candidate``, a boolean mask of ``cut``), so that a bright star beside a
    faint lens saturates instead of fading the lens to black. The stretch is
    `astropy.visualization.AsinhStretch` with ``a = 0.1`` (Lupton et al. 1999).
    """
    from astropy.visualization import AsinhStretch, ManualInterval

    finite = np.isfinite(cut)
    if not finite.any():
        return np.zeros_like(cut)
    inside = cut[finite & candidate] if (finite & candidate).any() else cut[finite]
    low, high = np.percentile(cut[finite], 20), np.percentile(inside, 99)
    scaled = AsinhStretch(a=0.1)(ManualInterval(low, max(high, low + 1e-12))(cut, clip=True), clip=True)
    return np.where(finite, scaled, 0.0)


def cutout_thumbnail(image, row, *, size=96, min_side=48):
    """A display-ready RGB cutout (asinh stretch, north-up as stored, row 0 at the bottom).

    A single-band tile gives a grey cutout. A multi-band one ``(bands, ny, nx)``,
    bands from blue to red, gives a colour composite: the reddest band is
    red, the bluest blue and the mean of the bands green, each band
    stretched on its own (as in Lupton et al. 2004, where the colours are
    what tells a blue arc from its red lens galaxy). Each band's stretch runs
    from the sky to the brightest pixels in the candidate's box.

    Parameters
    ----------
    image : numpy.ndarray
        The input tile (sky-subtracted is best), ``(ny, nx)`` or ``(bands, ny, nx)``.
    row : astropy.table.Row or dict
        A catalogue row.
    size : int, optional
        Side of the returned thumbnail in pixels.
    min_side : int, optional
        Smallest cutout side in tile pixels.

    References
    ----------
    Lupton, R. et al. 2004, PASP 116, 133.
    """
    image = np.asarray(image, float)
    planes = image if image.ndim == 3 else image[None]
    side = int(max(min_side, 2 * max(row["xmax"] - row["xmin"], row["ymax"] - row["ymin"])))
    cx, cy = int(round(row["x"])), int(round(row["y"]))
    ny, nx = planes.shape[-2:]
    rows = np.arange(cy - side // 2, cy - side // 2 + side)
    cols = np.arange(cx - side // 2, cx - side // 2 + side)
    candidate = (((rows >= row["ymin"]) & (rows <= row["ymax"]))[:, None]
                 & ((cols >= row["xmin"]) & (cols <= row["xmax"]))[None, :])
    rows_index, cols_index = np.clip(rows, 0, ny - 1), np.clip(cols, 0, nx - 1)
    pick = (np.arange(size) * side / size).astype(int)
    stretched = [_asinh_stretch(plane[np.ix_(rows_index, cols_index)], candidate)[np.ix_(pick, pick)][::-1]
                 for plane in planes]
    rgb = np.stack([stretched[-1], np.mean(stretched, axis=0), stretched[0]], axis=2)
    return (rgb * 255).astype(np.uint8)


def write_cutouts(table, thumbnails, folder, *, overwrite=False, columns=8):
    """Write one PNG per detection and ``mosaic.png``, sorted by score.

    The mosaic labels each cutout with its catalogue ``id`` and score, and
    says so when there is no candidate. Its heading gives the model and the
    score cut when the table's metadata has them (``model``, ``conf``).

    Parameters
    ----------
    table : astropy.table.Table
        The catalogue.
    thumbnails : list of numpy.ndarray
        One RGB thumbnail per row (see `cutout_thumbnail`), same size.
    folder : str or os.PathLike
        Created if missing.

    Returns
    -------
    list of pathlib.Path
        Written files, the mosaic last. Every name is checked before any is written.
    """
    from crclean.io import check_output_writable
    from crclean.io._quicklook import figure_png, write_bytes, write_png

    if len(thumbnails) != len(table):
        raise ValueError(f"got {len(thumbnails)} thumbnails for {len(table)} rows")
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create cutout folder {folder}: {error.strerror}") from None
    names = [folder / f"lens_{int(row['id']):05d}.png" for row in table] + [folder / "mosaic.png"]
    for name in names:
        check_output_writable(name, overwrite=overwrite)
    for name, thumbnail in zip(names, thumbnails):
        write_png(name, thumbnail)
    write_bytes(names[-1], figure_png(mosaic_figure(table, thumbnails, columns=columns)))
    return names


def mosaic_figure(table, thumbnails, *, columns=8):
    """The cutouts best first, each titled with its id and score (a matplotlib ``Figure``)."""
    from matplotlib.figure import Figure

    meta = getattr(table, "meta", {}) or {}
    cut = f" with score >= {meta['conf']:g}" if "conf" in meta else ""
    model = f" ({meta['model']})" if "model" in meta else ""
    if not thumbnails:
        figure = Figure(figsize=(4.5, 1.0), dpi=100)
        figure.text(0.5, 0.5, f"no candidate{cut}{model}", ha="center", va="center", fontsize=11)
    else:
        order = np.argsort(-np.asarray(table["score"], float), kind="stable")
        n_cols = min(columns, len(thumbnails))
        n_rows = -(-len(thumbnails) // columns)
        # At least wide enough for the heading, however few the cutouts.
        figure = Figure(figsize=(max(1.25 * n_cols, 4.0), 1.45 * n_rows + 0.6), dpi=100, layout="constrained")
        axes = figure.subplots(n_rows, n_cols, squeeze=False)
        for ax in axes.flat:
            ax.set_axis_off()
        for ax, index in zip(axes.flat, order):
            row = table[int(index)]
            ax.imshow(thumbnails[index], interpolation="nearest")  # row 0 at the top, as cutout_thumbnail gives
            ax.set_title(f"id {int(row['id'])}  {float(row['score']):.3f}", fontsize=8)
        figure.suptitle(f"{len(thumbnails)} candidate(s){cut}{model}\nbest first, each with its id and score",
                        fontsize=9)
    return figure
