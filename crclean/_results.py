"""What cleaning gives: `CleanResult` for an image, `FileReport` for a file (re-exported by `crclean.clean`)."""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

__all__ = ["CleanResult", "FileReport", "PlaneReport"]


@dataclass
class CleanResult:
    """What cleaning one image gives.

    Attributes
    ----------
    probability : numpy.ndarray
        float32 cosmic-ray probability per pixel.
    mask : numpy.ndarray
        bool, ``probability > threshold`` on finite pixels, grown into the touching
        pixels above ``grow_threshold`` when the `Cleaner` has one.
    cleaned : numpy.ndarray or None
        The image with masked pixels inpainted (same units as the input), or
        ``None`` when inpainting is off.
    """

    probability: np.ndarray
    mask: np.ndarray
    cleaned: np.ndarray = None

    @property
    def n_flagged(self):
        return int(self.mask.sum())


class PlaneReport(NamedTuple):
    """Summary of one processed image of a file.

    Attributes
    ----------
    label : str
        The image: ``'HDU 0'``, ``'SCI,2'``...
    n_flagged : int
        Pixels flagged as cosmic rays.
    n_pixels : int
        Pixels searched: the data section of a raw frame, else the whole image.
    seconds : float
        Time spent on it, reading and cleaning.
    section : str or None
        The data section searched (FITS notation, as in ``CRSECT``), or
        ``None`` for the whole image.
    """

    label: str
    n_flagged: int
    n_pixels: int
    seconds: float = 0.0
    section: str = None


@dataclass
class FileReport:
    """Summary of one processed file.

    Attributes
    ----------
    input_path, output_path : str or pathlib.Path
    planes : list of PlaneReport
        One per processed image, in file order.
    seconds : float
        Time for the whole file, writing included.
    quicklook_path : pathlib.Path or None
    model : str
        The model used (recorded in ``CRMODEL`` too).
    data_kind : crclean.io.DataKind or None
        With model ``'auto'``: the kind of data its header showed, and why;
        ``None`` when the model was named.
    device : str or None
        Where the model ran: ``'cpu'``, ``'cuda:0'``...
    """

    input_path: object
    output_path: object
    planes: list
    seconds: float
    quicklook_path: object = None
    model: str = None
    data_kind: object = None
    device: str = None

    @property
    def n_flagged(self):
        return sum(plane.n_flagged for plane in self.planes)

    @property
    def n_pixels(self):
        return sum(plane.n_pixels for plane in self.planes)
