"""``crclean lenses``: find strong gravitational lenses in survey tiles."""

import warnings
from pathlib import Path

import click

from crclean.cli._options import ExtensionList, echo_warnings, read_inputs
from crclean.exceptions import CrcleanError, UnitsWarning
from crclean.lenses._manifest import DEFAULT_LENS_MODEL, LENS_MODELS

__all__ = ["lenses_command"]

_CATALOG_SUFFIXES = (".ecsv", ".csv", ".fits")


def _format_for_terminal(table):
    shown = table.copy(copy_data=True)
    for name, fmt in (("x", ".1f"), ("y", ".1f"), ("xmin", ".1f"), ("ymin", ".1f"), ("xmax", ".1f"),
                      ("ymax", ".1f"), ("score", ".3f"), ("ra", ".6f"), ("dec", ".6f"), ("theta_e_arcsec", ".2f")):
        shown[name].format = fmt
    return "\n".join(shown.pformat(max_lines=-1, max_width=-1))


def _search_file(finder, path, extensions, first_id, want_images):
    """Every selected plane of one FITS file -> (tables, images)."""
    from crclean.io import open_exposure, read_plane, select_planes
    from crclean.lenses._resample import celestial_wcs

    tables, images, notes, seconds = [], [], [], 0.0
    with open_exposure(path) as exposure:
        indices = select_planes(exposure, extensions)
        for index in indices:
            with warnings.catch_warnings():
                # Gain and units are irrelevant here: the finder works in units of the sky noise.
                warnings.simplefilter("ignore", UnitsWarning)
                plane = read_plane(exposure, index)
            name = str(path) if len(indices) == 1 else f"{path}[{plane.label}]"
            result = finder.find(plane.data, wcs=celestial_wcs(plane.header), tile=name,
                                 first_id=first_id + sum(len(t) for t in tables))
            tables.append(result.catalog)
            images.append(result.image if want_images else None)
            notes.extend(result.notes)
            seconds += result.seconds
    return tables, images, notes, seconds


@click.command("lenses")
@click.argument("tiles", nargs=-1, metavar="TILE...")
@click.option("--conf", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.9,
              show_default=True, help="Keep candidates scoring at least this.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Catalogue file: .ecsv, .csv or .fits [default: print to stdout].")
@click.option("--regions", type=click.Path(dir_okay=False), help="Also write a ds9 region file.")
@click.option("--cutouts", type=click.Path(file_okay=False),
              help="Folder for PNG cutouts (asinh stretch) and a score-sorted mosaic.png.")
@click.option("--model", type=click.Choice(list(LENS_MODELS)), default=DEFAULT_LENS_MODEL, show_default=True,
              help="Lens-finder model.")
@click.option("--ext", "--hdu", "ext", multiple=True, type=ExtensionList(),
              help="Extensions to search: index, EXTNAME, or EXTNAME,EXTVER [default: all SCI, "
                   "else every 2-D image].")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="auto uses a GPU when PyTorch sees one.")
@click.option("--overwrite", is_flag=True, help="Replace outputs that already exist.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no per-file summary.")
@click.pass_context
def lenses_command(ctx, tiles, conf, output, regions, cutouts, model, ext, device, overwrite, quiet):
    """Find strong gravitational lenses in survey tiles and write a catalogue.

    TILE is one or more FITS images (.fits, .fits.fz, .fits.gz), or - to read
    paths from stdin. Tiles of any size are searched in overlapping windows
    after sky subtraction; tiles whose WCS pixel scale differs from the
    model's are resampled and detections mapped back. Columns: id, tile, x, y
    (0-based pixel centre), xmin, ymin, xmax, ymax, score, ra, dec,
    theta_e_arcsec. Exit status: 0 when every tile was searched, 1 when any
    failed, 2 for usage errors.
    """
    from crclean.io import check_output_writable
    from crclean.lenses import LensFinder, cutout_thumbnail, write_catalog, write_cutouts, write_regions

    paths = read_inputs(tiles)
    if not paths:
        raise click.UsageError("no TILE given; pass FITS paths, or - to read them from stdin")
    if output and Path(output).suffix.lower() not in _CATALOG_SUFFIXES:
        raise click.BadParameter(f"{output} must end in .ecsv, .csv or .fits", param_hint="'-o' / '--output'")
    if regions and Path(regions).suffix.lower() != ".reg":
        raise click.BadParameter(f"{regions} must end in .reg", param_hint="'--regions'")
    extensions = [item for group in ext for item in group] or None
    try:
        for target in (output, regions):
            if target:
                check_output_writable(target, overwrite=overwrite)
        finder = LensFinder(model, conf=conf, device=device, progress=not quiet).load()
    except (CrcleanError, ValueError) as error:
        raise click.ClickException(str(error)) from None

    tables, thumbnails, failures, seen = [], [], 0, set()
    for path in paths:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                found, images, notes, seconds = _search_file(
                    finder, path, extensions, 1 + sum(len(t) for t in tables), bool(cutouts))
            echo_warnings([str(w.message) for w in caught], seen)
        except (CrcleanError, ValueError, OSError) as error:
            echo_warnings([str(w.message) for w in caught], seen)
            click.echo(f"crclean: error: {error}", err=True)
            failures += 1
            continue
        for note in notes:
            click.echo(f"crclean: note: {note}", err=True)
        for table, image in zip(found, images):
            tables.append(table)
            if cutouts:
                thumbnails.extend(cutout_thumbnail(image, row) for row in table)
        if not quiet:
            count = sum(len(t) for t in found)
            click.echo(f"{path}: {count} candidate(s) with score >= {conf:g}, {seconds:.1f} s", err=True)

    if tables:
        from astropy.table import vstack

        catalog = vstack(tables, metadata_conflicts="silent") if len(tables) > 1 else tables[0]
        catalog.meta.update({"model": model, "conf": conf})
        try:
            if output:
                write_catalog(catalog, output, overwrite=overwrite)
            else:
                click.echo(_format_for_terminal(catalog))
            if regions:
                write_regions(catalog, regions, overwrite=overwrite)
            if cutouts:
                write_cutouts(catalog, thumbnails, cutouts, overwrite=overwrite)
        except (CrcleanError, OSError) as error:
            click.echo(f"crclean: error: {error}", err=True)
            ctx.exit(1)
    if len(paths) > 1 and not quiet:
        click.echo(f"crclean: {len(paths) - failures} of {len(paths)} tiles searched, {failures} failed", err=True)
    if failures:
        ctx.exit(1)
