"""``crclean mask``: find cosmic rays in FITS files and write cleaned products."""

import logging
import sys
from pathlib import Path

import click

from crclean._precision import PRECISIONS
from crclean.cli._batch_run import Batch, check_report
from crclean.cli._options import (CommandError, ExtensionList, parse_dq_bit, parse_quicklook_region,
                                  quicklook_path_for, read_inputs)
from crclean.cli._signals import Stopped, stop_on_signals
from crclean.exceptions import CrcleanError
from crclean.inpaint import DEFAULT_INPAINTER, INPAINTERS
from crclean.weights import AUTO_MODEL, AUTO_MODELS, MODELS

__all__ = ["mask_command"]


@click.command("mask")
@click.argument("inputs", nargs=-1, metavar="INPUT...")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Output file (only with a single INPUT).")
@click.option("--outdir", type=click.Path(file_okay=False),
              help="Folder for outputs [default: beside each input].")
@click.option("--suffix", default="_crclean", show_default=True,
              help="Added to the input's name to make the output's.")
@click.option("--overwrite", is_flag=True, help="Replace outputs that already exist.")
@click.option("--skip-existing", is_flag=True,
              help="Leave outputs that already exist as they are and report them as skipped (to resume a batch).")
@click.option("--model", type=click.Choice([AUTO_MODEL, *MODELS]), default=AUTO_MODEL, show_default=True,
              help=f"Cosmic-ray model; {AUTO_MODEL} uses {AUTO_MODELS['space']} for files whose "
                   f"TELESCOP/INSTRUME/DETECTOR name a space telescope (HST, JWST, Euclid...) and "
                   f"{AUTO_MODELS['ground']} for the others, with a note per file; see `crclean models`.")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.5,
              show_default=True, help="Probability above which a pixel is flagged.")
@click.option("--grow-threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="Also flag pixels above this lower probability that touch a flagged pixel (hysteresis): "
                   "more of each hit's faint wings. Growth stays off the smooth light of stars and galaxies "
                   "and off saturated pixels (SATURATE). Below --threshold; off by default (recorded as CRGROW).")
@click.option("--star-check/--no-star-check", default=True, show_default=True,
              help="Take back the model's flags on bright stars that the frame's own unflagged stars explain "
                   "(the same shape within their noise), where a PSF (elongated, a crescent, a spur) makes "
                   "stars look like hits; frames whose stars are as compact as hits are left as the model made "
                   "them. Recorded as CRSTARS and in the --report.")
@click.option("--axis-tracks/--no-axis-tracks", default=True, show_default=True,
              help="Also flag long, thin tracks along a row or column that the model left: lines 24 px or longer "
                   "that end inside the frame and whose charge varies as a particle's does (bad columns run to an "
                   "edge, and their charge is even). Recorded as CRAXTRK and in the --report.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="auto uses a GPU when PyTorch sees one.")
@click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
              help="Network arithmetic: auto is float16 autocast on a GPU, bfloat16 on a CPU with native "
                   "bfloat16 units (AMX or AVX512_BF16) for models cleared for it (crclean-ccd), float32 "
                   "otherwise; see docs/usage.md for the mask tolerance.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Tiles per forward pass [default: about 1 Mpx of tiles on CPU, 8 Mpx on GPU].")
@click.option("--tile-size", type=click.IntRange(min=32), default=None,
              help="Largest tile side in pixels, a multiple of 16 [default: the model's; "
                   "see `crclean models`].")
@click.option("--overlap", type=click.IntRange(min=0), default=None,
              help="Pixels shared by neighbouring tiles (multiple of 16, at most half a tile) "
                   "[default: the model's, enough for seamless tiles; see `crclean models`].")
@click.option("--no-inpaint", is_flag=True, help="Keep the image data as it is; only flag.")
@click.option("--no-trim", is_flag=True,
              help="Search every pixel, also where the header's TRIMSEC/DATASEC/BIASSEC say prescan or "
                   "overscan [default: only the data section of raw frames].")
@click.option("--inpaint", "inpaint_method", type=click.Choice(list(INPAINTERS)), default=DEFAULT_INPAINTER,
              show_default=True, help="How flagged pixels are filled (see docs/models.md).")
@click.option("--prob", is_flag=True, help="Also write the probability map (CRPROB extensions).")
@click.option("--dq-bit", type=int, default=8192, show_default=True, callback=parse_dq_bit,
              help="DQ bit set on cosmic rays (a power of two; 8192 is HST's CR bit).")
@click.option("--ext", "--hdu", "ext", multiple=True, type=ExtensionList(),
              help="Extensions to process: index, EXTNAME, or EXTNAME,EXTVER; repeat or "
                   "comma-separate indices [default: all SCI, else every 2-D image].")
@click.option("--gain", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Electrons per ADU, overriding the header.")
@click.option("--readnoise", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Read noise in electrons, overriding the header.")
@click.option("--quicklook", is_flag=True,
              help="Also write a PNG beside each output: input, mask and cleaned image, and a zoom on the "
                   "densest hits.")
@click.option("--quicklook-region", default=None, metavar="[X1:X2,Y1:Y2]", callback=parse_quicklook_region,
              help="Zoom of the quick-look PNG instead: a FITS section (1-based, inclusive, columns first, as in "
                   "ds9), e.g. '[1001:1200,501:700]'. Implies --quicklook.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Send the files to a running Dask scheduler (e.g. tcp://host:8786), one task per file.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Start a local Dask cluster of N single-threaded worker processes.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None,
              help="Also write a table of what was done, one row per file and image: FILE.json or FILE.ecsv.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar, no per-file note or summary.")
@click.option("-v", "--verbose", count=True, help="More log messages on stderr (-vv for debug).")
@click.pass_context
def mask_command(ctx, inputs, output, outdir, suffix, overwrite, skip_existing, model, threshold, grow_threshold,
                 star_check, axis_tracks, device, precision, batch_size, tile_size, overlap, no_inpaint, no_trim,
                 inpaint_method, prob, dq_bit, ext, gain, readnoise, quicklook, quicklook_region, scheduler, workers, report_path, quiet,
                 verbose):
    """Flag cosmic rays in FITS exposures, inpaint them, and write FITS with DQ extensions.

    INPUT is one or more FITS files (.fits, .fits.fz, .fits.gz), or - to read
    paths from stdin, one per line. Each output keeps every HDU of its input
    and adds a DQ extension per processed image (the --dq-bit is OR-ed into an
    existing DQ); inputs are never modified. By default (--model auto) each
    file gets the space or the ground model from its header, with a note on
    stderr saying which and why. Raw frames whose header gives TRIMSEC,
    DATASEC or BIASSEC are searched in their data section only (--no-trim:
    everywhere). Exit status: 0 when every file succeeded (or was skipped
    with --skip-existing), 1 when any failed, 2 for usage errors, and 128 +
    the signal's number when SIGINT (130), SIGTERM (143) or SIGHUP (129)
    stopped the run: the files finished until then are whole, no temporary
    file is left, and a re-run with --skip-existing finishes the batch.
    """
    from crclean._batch import clean_one
    from crclean._report import write_report
    from crclean.clean import Cleaner

    if verbose:
        logging.basicConfig(level=logging.DEBUG if verbose > 1 else logging.INFO,
                            format="crclean: %(message)s", stream=sys.stderr)
    paths = read_inputs(inputs)
    if not paths:
        raise click.UsageError("no INPUT given; pass FITS paths, or - to read them from stdin")
    if output and len(paths) > 1:
        raise click.UsageError(f"-o/--output takes a single INPUT, got {len(paths)}; use --outdir")
    if output and outdir:
        raise click.UsageError("use either -o/--output or --outdir, not both")
    if scheduler and workers:
        raise click.UsageError("use either --scheduler (a running cluster) or --workers (a local one), not both")
    if overwrite and skip_existing:
        raise click.UsageError("use either --overwrite (replace existing outputs) or --skip-existing "
                               "(keep them), not both")
    extensions = [item for group in ext for item in group] or None
    if outdir:
        try:
            Path(outdir).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CommandError(f"cannot create --outdir {outdir}: {error.strerror}") from None
    if report_path is not None:  # after --outdir, which it may be in
        report_path = check_report(report_path)
    if grow_threshold is not None and grow_threshold >= threshold:
        raise click.BadParameter(f"must be below --threshold ({threshold:g}), got {grow_threshold:g}",
                                 param_hint="--grow-threshold")
    try:
        cleaner = Cleaner(model, threshold=threshold, inpaint=None if no_inpaint else inpaint_method,
                          device=device, batch_size=batch_size, tile_size=tile_size, overlap=overlap,
                          progress=not quiet, precision=precision, grow_threshold=grow_threshold,
                          star_check=star_check, axis_tracks=axis_tracks)
    except ValueError as error:
        raise click.UsageError(str(error)) from None

    batch = Batch(paths, threshold=threshold, grow_threshold=grow_threshold, star_check=star_check,
                  axis_tracks=axis_tracks)
    batch.plan(output=output, outdir=outdir, suffix=suffix)
    file_options = dict(ext=extensions, gain=gain, readnoise=readnoise, dq_bit=dq_bit, write_probability=prob,
                        overwrite=overwrite, skip_existing=skip_existing, trim=not no_trim)
    quicklook = quicklook or quicklook_region is not None
    jobs = [(path, target, dict(file_options, quicklook_path=quicklook_path_for(target) if quicklook else None,
                                quicklook_region=quicklook_region))
            for path, target in batch.targets.values()]
    run_error = None
    with stop_on_signals() as signals:
        try:
            try:
                if scheduler or workers:
                    from crclean._dask import clean_on_dask

                    options = dict(model=model, threshold=threshold, grow_threshold=grow_threshold,
                                   star_check=star_check, axis_tracks=axis_tracks,
                                   inpaint=None if no_inpaint else inpaint_method, device=device,
                                   batch_size=batch_size, tile_size=cleaner.tile_size, overlap=cleaner.overlap,
                                   precision=precision)
                    outcomes = clean_on_dask(jobs, options, scheduler=scheduler, workers=workers) if jobs else ()
                else:
                    if jobs:
                        cleaner.load()
                    outcomes = (clean_one(cleaner, path, target, **options) for path, target, options in jobs)
                batch.run(outcomes, quiet=quiet)
            except (CrcleanError, ValueError) as error:
                # clean_one never raises for a bad file: the model or the cluster could not be used.
                run_error = error
            # Inside the try, so that a signal cannot slip in between: from here on it is noted,
            # not raised, and the report is written whole.
            signals.hold()
        except Stopped as stop:
            batch.stop(stop)  # the handler now ignores further signals
        if report_path is not None:
            reason = batch.stopped or (f"the run failed: {run_error}" if run_error else "not reached")
            try:
                write_report(report_path, batch.rows(reason=str(reason)))
            except CrcleanError as error:
                click.echo(f"crclean: error: {error}", err=True)
                batch.failures += 1
        if batch.stopped is None and signals.held is not None:
            batch.stopped = signals.held  # came after the last file: everything is done, but say so
    if run_error is not None:
        raise CommandError(str(run_error))
    batch.summarise(quiet=quiet)
    if batch.stopped is not None:
        ctx.exit(batch.stopped.exit_status)
    if batch.failures:
        ctx.exit(1)
