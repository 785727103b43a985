"""``crclean lenses``: find strong gravitational lenses in survey tiles."""

from pathlib import Path

import click

from crclean.cli._options import CommandError, ExtensionList, echo_warnings, read_inputs
from crclean.exceptions import CrcleanError
from crclean.lenses._manifest import (DEFAULT_LENS_MODEL, DEFAULT_MULTIBAND_LENS_MODEL, LENS_MODELS,
                                      PLAUSIBLE_PIXEL_SCALE, REMOVED_LENS_MODELS)

__all__ = ["lenses_command"]

_CATALOG_SUFFIXES = (".ecsv", ".csv", ".fits")


def _format_for_terminal(table):
    shown = table.copy(copy_data=True)
    for name, fmt in (("x", ".1f"), ("y", ".1f"), ("xmin", ".1f"), ("ymin", ".1f"), ("xmax", ".1f"),
                      ("ymax", ".1f"), ("score", ".3f"), ("ra", ".6f"), ("dec", ".6f"), ("theta_e_arcsec", ".2f"),
                      ("sky_sigma", ".4g")):
        if name in shown.colnames:
            shown[name].format = fmt
    return "\n".join(shown.pformat(max_lines=-1, max_width=-1))


class _LensModelChoice(click.Choice):
    """The shipped lens models; a removed one's error names its replacement."""

    def __init__(self):
        super().__init__(list(LENS_MODELS))

    def convert(self, value, param, ctx):
        if value in REMOVED_LENS_MODELS:
            from crclean.exceptions import ModelError
            from crclean.lenses._manifest import get_lens_model

            try:
                get_lens_model(value)
            except ModelError as error:
                self.fail(str(error), param, ctx)
        return super().convert(value, param, ctx)


def _default_model(paths):
    """The single-band default for plain files, the multi-band one for ``{band}`` patterns."""
    from crclean.lenses._bands import BAND_FIELD

    patterns = {BAND_FIELD in str(path) for path in paths}
    if len(patterns) > 1:
        raise click.UsageError("some TILEs are {band} patterns and some single files, and a run uses one model; "
                               "search them in separate runs")
    return DEFAULT_MULTIBAND_LENS_MODEL if patterns == {True} else DEFAULT_LENS_MODEL


@click.command("lenses")
@click.argument("tiles", nargs=-1, metavar="TILE...")
@click.option("--conf", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.9,
              show_default=True, help="Keep candidates scoring at least this.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Catalogue file: .ecsv, .csv or .fits [default: print to stdout].")
@click.option("--regions", type=click.Path(dir_okay=False), help="Also write a ds9 region file.")
@click.option("--cutouts", type=click.Path(file_okay=False),
              help="Folder for PNG cutouts (asinh stretch) and mosaic.png: all of them, best first, each "
                   "labelled with its id and score.")
@click.option("--cutouts-in", "cutouts_in", is_flag=True,
              help="Each TILE is a cutout centred on an object (a 2-D image), or a cube of them (a 3-D HDU, one "
                   "cutout per plane), 32-256 pixels a side at the model's 0.2 arcsec: score every cutout, sky "
                   "and noise from its border, and write one row per cutout with its best score whatever --conf "
                   "(column candidate: score >= --conf). Not --cutouts, which writes PNGs of candidates.")
@click.option("--model", type=_LensModelChoice(), default=None,
              help=f"Lens-finder model (`crclean models` says which is for what); a multi-band one takes a "
                   f"TILE pattern with {{band}} [default: {DEFAULT_LENS_MODEL} for single files, "
                   f"{DEFAULT_MULTIBAND_LENS_MODEL} (g, r, i) for {{band}} patterns].")
@click.option("--views", type=click.Choice(["4", "1", "8"]), default="4", show_default=True,
              help="Run the detector on each window as it is and mirrored in x, y and both, fusing the "
                   "views (4); only as it is (1): about 3.5 times faster, with more false positives; or "
                   "the four mirror images and the same transposed (8): twice the time of 4.")
@click.option("--ext", "--hdu", "ext", multiple=True, type=ExtensionList(),
              help="Extensions to search: index, EXTNAME, or EXTNAME,EXTVER [default: all SCI, "
                   "else every 2-D image].")
@click.option("--pixel-scale", type=click.FloatRange(*PLAUSIBLE_PIXEL_SCALE), default=None, metavar="ARCSEC",
              help="Arcsec per pixel of tiles without a celestial WCS [default: the header's PIXSCALE, "
                   "PIXSCAL1/2, PXSCAL1/2, SECPIX or SECPIX1/2, else the model's 0.2]. A WCS always "
                   "wins.")
@click.option("--clean-cosmics", "clean_cosmics", is_flag=True,
              help="First find and inpaint cosmic rays in every tile (each band) or cutout with crclean's default "
                   "mask model, as `crclean mask` would: for single exposures, where hits can look like arcs and "
                   "move the scores of sources near them. Coadds seldom need it. The catalogue's metadata says "
                   "so (cosmics).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="auto uses a GPU when PyTorch sees one.")
@click.option("--overwrite", is_flag=True, help="Replace outputs that already exist.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Send the tiles to a running Dask scheduler (e.g. tcp://host:8786), one task per file.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Start a local Dask cluster of N single-threaded worker processes.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no per-file summary.")
@click.pass_context
def lenses_command(ctx, tiles, conf, output, regions, cutouts, cutouts_in, model, views, ext, pixel_scale,
                   clean_cosmics, device, overwrite, scheduler, workers, quiet):
    """Find strong gravitational lenses in survey tiles and write a catalogue.

    TILE is one or more FITS images (.fits, .fits.fz, .fits.gz), or - to read
    paths from stdin. A multi-band model takes one file per band: give TILE
    as a pattern with {band}, e.g. 'tile_{band}.fits' (quoted), which is
    filled in with each of the model's bands (a pattern selects the
    multi-band model unless --model is given); bands on different grids are
    resampled onto the r band's (with WCS). Tiles of any size are searched in overlapping windows
    after sky subtraction; tiles whose WCS pixel scale differs from the
    model's are resampled and detections mapped back (without a WCS the
    scale comes from --pixel-scale or the header's PIXSCALE-like keywords). Columns: id, tile, x, y
    (0-based pixel centre), xmin, ymin, xmax, ymax, score, ra, dec,
    theta_e_arcsec. With --workers or --scheduler the files are searched on
    a Dask cluster and the same catalogue is assembled here.

    With --cutouts-in each TILE holds cutouts centred on objects rather than
    a survey tile: one row per cutout with columns id, file, plane, index
    (0-based plane of a cube), score, candidate, the best box (x, y, xmin,
    ymin, xmax, ymax; empty when nothing was detected), ra, dec,
    theta_e_arcsec, sky_sigma and model. Exit status: 0 when every tile was
    searched, 1 when any failed, 2 for usage errors.
    """
    from crclean.io import check_output_writable
    from crclean.lenses import LensFinder, write_catalog, write_cutouts, write_regions
    from crclean.lenses._catalog import catalog_provenance
    from crclean.lenses._batch import load_finder, search_tile

    paths = read_inputs(tiles)
    if not paths:
        raise click.UsageError("no TILE given; pass FITS paths, or - to read them from stdin")
    if output and Path(output).suffix.lower() not in _CATALOG_SUFFIXES:
        raise click.BadParameter(f"{output} must end in .ecsv, .csv or .fits", param_hint="'-o' / '--output'")
    if regions and Path(regions).suffix.lower() != ".reg":
        raise click.BadParameter(f"{regions} must end in .reg", param_hint="'--regions'")
    if scheduler and workers:
        raise click.UsageError("use either --scheduler (a running cluster) or --workers (a local one), not both")
    if cutouts_in:
        clashing = [name for name, value in (("--regions", regions), ("--cutouts", cutouts), ("--workers", workers),
                                             ("--scheduler", scheduler)) if value]
        if clashing:
            raise click.UsageError(f"--cutouts-in scores given cutouts and writes only their catalogue; drop "
                                   f"{', '.join(clashing)}")
    extensions = [item for group in ext for item in group] or None
    model = model or _default_model(paths)
    finder_options = dict(model=model, conf=conf, device=device, views=int(views), clean_cosmics=clean_cosmics)
    try:
        for target in (output, regions):
            if target:
                check_output_writable(target, overwrite=overwrite)
        finder = LensFinder(**finder_options, progress=not quiet)
        if not (scheduler or workers):
            finder.load()
    except (CrcleanError, ValueError) as error:
        raise CommandError(str(error)) from None

    # Paths and options go out, never the model: each worker loads its own finder once.
    jobs = [(path, dict(extensions=extensions, cutouts=bool(cutouts), pixel_scale=pixel_scale)) for path in paths]
    if cutouts_in:
        from crclean.lenses._cutout_files import score_cutout_file

        outcomes = (score_cutout_file(finder, path, extensions=extensions, pixel_scale=pixel_scale) for path in paths)
    elif scheduler or workers:
        from crclean._dask import run_on_dask

        outcomes = run_on_dask(search_tile, jobs, setup=load_finder, setup_options=finder_options,
                               scheduler=scheduler, workers=workers, ordered=True)
    else:
        outcomes = (search_tile(finder, path, **options) for path, options in jobs)

    tables, thumbnails, failures, seen = [], [], 0, set()
    # search_tile never raises for a bad file; a CrcleanError here means the
    # cluster itself could not be used.
    try:
        for outcome in outcomes:
            echo_warnings(outcome.warnings, seen)
            if outcome.error is not None:
                click.echo(f"crclean: error: {outcome.error}", err=True)
                failures += 1
                continue
            found = outcome.report
            for note in found.notes:
                click.echo(f"crclean: note: {note}", err=True)
            offset = sum(len(t) for t in tables)  # each file numbers its rows from 1
            for table in found.tables:
                table["id"] += offset
                tables.append(table)
            thumbnails.extend(found.thumbnails)
            if not quiet and cutouts_in:
                count = sum(len(t) for t in found.tables)
                passed = sum(int(t["candidate"].sum()) for t in found.tables)
                click.echo(f"{outcome.input_path}: {count} cutout(s) scored, {passed} with score >= {conf:g}", err=True)
            elif not quiet:
                count = sum(len(t) for t in found.tables)
                click.echo(f"{outcome.input_path}: {count} candidate(s) with score >= {conf:g}, "
                           f"{found.seconds:.1f} s", err=True)
    except CrcleanError as error:
        raise CommandError(str(error)) from None

    if tables:
        from astropy.table import vstack

        catalog = vstack(tables, metadata_conflicts="silent") if len(tables) > 1 else tables[0]
        catalog.meta.update(catalog_provenance(finder.spec, conf=conf, views=int(views),
                                               cosmics=finder.cosmics_model))
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
        searched = "files scored" if cutouts_in else "tiles searched"
        click.echo(f"crclean: {len(paths) - failures} of {len(paths)} {searched}, {failures} failed", err=True)
    if failures:
        ctx.exit(1)
