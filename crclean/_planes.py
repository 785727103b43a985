"""One image of a file on its way through `crclean.Cleaner.clean_file`: read ahead, then put back in frame."""

import time
from dataclasses import dataclass

import numpy as np

from crclean._results import CleanResult

__all__ = ["PlaneInputs", "read_plane_inputs", "in_frame"]


@dataclass
class PlaneInputs:
    """What cleaning one image needs from the file, read ahead of the network."""

    plane: object   # crclean.io.ImagePlane
    label: str
    region: tuple   # the data section's (rows, columns) slices, or None for the whole image
    defects: np.ndarray
    seconds: float  # spent reading


def read_plane_inputs(exposure, index, *, gain, readnoise, dq_bit, trim):
    """Read image HDU ``index`` of ``exposure``, its data section and its known defects.

    Touches only the input file, so it can run while the previous image is
    cleaned (`crclean._overlap.run_overlapped`).
    """
    from crclean.io import data_section, read_dq, read_plane

    start = time.perf_counter()
    plane = read_plane(exposure, index, gain=gain, readnoise=readnoise)
    label = f"{exposure.path.name}[{plane.label}]"
    region = data_section(plane.header, plane.data.shape, where=label) if trim else None
    defects = None
    if plane.dq_index is not None:
        # Bits already set by the observatory's pipeline (not our own).
        flags = read_dq(exposure, plane.dq_index)
        if flags.dtype.kind in "iu":
            defects = (flags & ~np.array(dq_bit, flags.dtype)) != 0
    return PlaneInputs(plane, label, region, defects, time.perf_counter() - start)


def in_frame(result, data, region):
    """``result`` of the data section ``region`` of ``data``, put back into the whole frame.

    Outside the section nothing is flagged, the probability is 0 and the
    cleaned image keeps the input's values.
    """
    probability = np.zeros(data.shape, np.float32)
    probability[region] = result.probability
    mask = np.zeros(data.shape, bool)
    mask[region] = result.mask
    cleaned = None
    if result.cleaned is not None:
        cleaned = data.astype(result.cleaned.dtype, copy=True)
        cleaned[region] = result.cleaned
    return CleanResult(probability, mask, cleaned)
