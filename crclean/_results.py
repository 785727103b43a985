"""What cleaning gives: `CleanResult` for an image, `FileReport` for a file (re-exported by `crclean.clean`)."""

from dataclasses import dataclass

import numpy as np

__all__ = ["CleanResult", "FileReport"]


@dataclass
class CleanResult:
    """What cleaning one image gives.

    Attributes
    ----------
    probability : numpy.ndarray
        float32 cosmic-ray probability per pixel.
    mask : numpy.ndarray
        bool, ``probability > threshold`` on finite pixels.
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


@dataclass
class FileReport:
    """Summary of one processed file.

    Attributes
    ----------
    model : str
        The model used (recorded in ``CRMODEL`` too).
    data_kind : crclean.io.DataKind or None
        With model ``'auto'``: the kind of data its header showed, and why;
        ``None`` when the model was named.
    """

    input_path: object
    output_path: object
    planes: list  # (label, pixels flagged, pixels in image)
    seconds: float
    quicklook_path: object = None
    model: str = None
    data_kind: object = None

    @property
    def n_flagged(self):
        return sum(flagged for _, flagged, _ in self.planes)

    @property
    def n_pixels(self):
        return sum(total for _, _, total in self.planes)
