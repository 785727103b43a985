"""`Cleaner.clean_file`'s work: stream a FITS file's images through a `Cleaner` into its products.

Kept apart from `crclean.clean` so that the public `Cleaner` stays about
models and arrays, and the file side (data sections, DQ, provenance, the
quick-look) reads in one place.
"""

import time
from pathlib import Path

from crclean import __version__
from crclean._planes import in_frame, read_plane_inputs
from crclean._results import FileReport, PlaneReport
from crclean.exceptions import InputError

__all__ = ["clean_file", "provenance"]


def clean_file(cleaner, input_path, output_path, *, ext, gain, readnoise, dq_bit, write_probability, overwrite,
               quicklook_path, quicklook_region, trim, overlap_io):
    """See `crclean.Cleaner.clean_file`; ``cleaner`` is the `Cleaner` (model ``'auto'`` chooses per file)."""
    from crclean._overlap import run_overlapped
    from crclean.io import ProductWriter, check_output_writable, fits_section, open_exposure, select_planes

    if dq_bit <= 0 or dq_bit & (dq_bit - 1) or dq_bit >= 2**15:
        raise ValueError(f"dq_bit must be a power of two between 1 and 16384, got {dq_bit!r}")
    start = time.perf_counter()
    check_output_writable(output_path, overwrite=overwrite)
    planes, quicklook = [], None
    with open_exposure(input_path) as exposure:
        indices = select_planes(exposure, ext)
        chosen, data_kind = cleaner._choose(exposure, indices)

        def read(index):
            return read_plane_inputs(exposure, index, gain=gain, readnoise=readnoise, dq_bit=dq_bit, trim=trim)

        def compute(index, inputs):
            nonlocal quicklook
            plane_start = time.perf_counter()
            plane, region = inputs.plane, inputs.region
            result = _clean_inputs(chosen, inputs)
            section = None if region is None else fits_section(region)
            searched = plane.data.size if region is None else plane.data[region].size
            if quicklook_path is not None and quicklook is None:
                quicklook = _render_quicklook(chosen, input_path, plane, result, region, quicklook_region)
            planes.append(PlaneReport(plane.label, result.n_flagged, searched,
                                      inputs.seconds + time.perf_counter() - plane_start, section))
            return _plane_result(chosen, index, result, dq_bit, write_probability, section)

        with ProductWriter(exposure, output_path, indices, dq_bit=dq_bit, overwrite=overwrite) as writer:
            run_overlapped(indices, read, compute, writer.write, overlap=overlap_io)
            written = writer.finish()
    if quicklook_path is not None:
        from crclean.io._quicklook import write_bytes

        write_bytes(quicklook_path, quicklook)
    return FileReport(input_path, written, planes, time.perf_counter() - start, quicklook_path,
                      model=chosen.model, data_kind=data_kind, device=chosen._device_name())


def provenance(cleaner, n_flagged, *, dq_bit, section=None):
    """Provenance keywords and the HISTORY line for an image with ``n_flagged`` cosmic-ray pixels."""
    from crclean.io import provenance_keywords

    keywords = provenance_keywords(
        version=__version__, model=cleaner.spec.name, weights_sha256=cleaner.weights_sha256,
        threshold=cleaner.threshold, n_flagged=n_flagged, inpaint=cleaner.inpaint,
        tile_size=cleaner.tile_size, overlap=cleaner.overlap, dq_bit=dq_bit, section=section,
        grow_threshold=cleaner.grow_threshold, star_check=cleaner.star_check, axis_tracks=cleaner.axis_tracks,
    )
    flags = f" (DQ bit {dq_bit})" if dq_bit is not None else ""
    grown = f" grown to {cleaner.grow_threshold:g}" if cleaner.grow_threshold is not None else ""
    history = (
        f"crclean {__version__} mask: model {cleaner.spec.name}, threshold "
        f"{cleaner.threshold:g}{grown}, {n_flagged} pixels flagged{flags}, "
        f"inpaint {cleaner.inpaint or 'off'}"
    )
    if section is not None:
        history += f", section {section}"
    autocast = getattr(cleaner._masker, "precision", None)
    if autocast is not None:
        history += f", {str(autocast).removeprefix('torch.')} autocast"
    return keywords, history


def _clean_inputs(cleaner, inputs):
    """Clean one image read by `crclean._planes.read_plane_inputs`: its `CleanResult` in the whole frame."""
    plane, region, defects = inputs.plane, inputs.region, inputs.defects
    saturation = plane.header.get("SATURATE")
    crop = region if region is not None else (slice(None), slice(None))
    result = cleaner.clean_array(
        plane.data[crop], units=plane.units, gain=plane.gain, readnoise=plane.readnoise,
        exptime=plane.exptime,
        saturation=saturation if isinstance(saturation, (int, float)) else None,
        defects=None if defects is None else defects[crop], label=inputs.label,
    )
    return result if region is None else in_frame(result, plane.data, region)


def _render_quicklook(cleaner, input_path, plane, result, region, quicklook_region):
    """The quick-look PNG's bytes for one cleaned image."""
    from crclean.io._quicklook import render_quicklook

    title = f"{Path(input_path).name} [{plane.label}]: {cleaner.model}, inpaint {cleaner.inpaint or 'off'}"
    try:
        return render_quicklook(plane.data, result.mask, result.cleaned, title=title,
                                region=quicklook_region, data_section=region)
    except ValueError as error:  # a region outside the image
        raise InputError(f"{input_path}: {error}; choose a quick-look region inside it") from None


def _plane_result(cleaner, index, result, dq_bit, write_probability, section=None):
    """The `crclean.io.PlaneResult` of HDU ``index``, with provenance keywords."""
    from crclean.io import PlaneResult

    keywords, history = provenance(cleaner, result.n_flagged, dq_bit=dq_bit, section=section)
    return PlaneResult(
        hdu_index=index, mask=result.mask, cleaned=result.cleaned,
        probability=result.probability if write_probability else None,
        keywords=keywords, history=history,
    )
