"""Maskers: turn an image into a per-pixel cosmic-ray probability.

`NetworkMasker` runs a PyTorch mask network over overlapping tiles in
batches under ``torch.inference_mode()`` (`crclean.engine._tiled.run_tiled`,
the loop the learned inpainter shares); memory grows with the batch, not
with the image (beyond a few image-sized float32 buffers). `LacosmicMasker`
wraps LA Cosmic through ccdproc as a classical baseline.
"""

import numpy as np

from crclean.engine._background import background_mesh, noise_normalise
from crclean.engine._median import masked_median
from crclean.engine._tiled import run_tiled
from crclean.engine._units import to_model_units

__all__ = ["NetworkMasker", "LacosmicMasker", "resolve_device", "default_batch_size"]


def resolve_device(device):
    """Map ``'auto' | 'cpu' | 'cuda' | 'cuda:N'`` to a `torch.device`.

    Raises
    ------
    ValueError
        If CUDA is asked for and PyTorch sees no GPU.
    """
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {device!r} was requested but PyTorch sees no CUDA GPU; "
                "use --device auto or --device cpu"
            )
        return torch.device(device)
    raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")


def default_batch_size(device, tile_size=256):
    """Tiles per batch: about 1 Mpx on the CPU (more only costs memory: the
    cores are already busy within one tile), 8 Mpx on a GPU."""
    pixels = (8 if device.type == "cuda" else 1) * 1024 * 1024
    return max(1, pixels // (tile_size * tile_size))


# Non-finite pixels this close to data get a local median; deeper ones copy the nearest such value.
_FILL_EDGE = 8


def _fill_non_finite(image):
    """Replace NaN/inf so they cannot bleed into neighbours' predictions: ``(filled, finite)``.

    Within `_FILL_EDGE` pixels of data a hole gets the local median of the
    data, which is what the network sees beside real pixels. Deeper in (a
    wide NaN border, a chip gap), each pixel copies the nearest such value:
    the network's output there is discarded, and growing median windows
    across a wide hole cost minutes and gigabytes on a full frame.
    """
    finite = np.isfinite(image)
    if finite.all():
        return image, finite
    if not finite.any():
        return np.zeros(image.shape, np.float32), finite
    # Imported here, not above: scipy.ndimage costs ~0.15 s of every call's start-up otherwise.
    from scipy.ndimage import distance_transform_edt

    distance = distance_transform_edt(~finite)
    near = ~finite & (distance <= _FILL_EDGE)
    filled = masked_median(image, near, max_size=2 * _FILL_EDGE + 1)
    deep = ~finite & ~near
    if deep.any():
        _, (rows, cols) = distance_transform_edt(deep, return_indices=True)
        filled[deep] = filled[rows[deep], cols[deep]]
    return filled, finite


class NetworkMasker:
    """Tile-and-stitch inference with a mask network.

    Parameters
    ----------
    network : torch.nn.Module
        Returns one logit per pixel for a ``(N, 1, H, W)`` input.
    spec : crclean.weights.ModelSpec
        Units and scaling the network expects.
    device : torch.device
        Where the network lives.
    batch_size : int
        Tiles per forward pass.
    tile_size, overlap : int
        See `crclean.tiling.plan_tiles`.
    precision : torch.dtype or None, optional
        Run the network under ``torch.autocast`` with this dtype (see
        `crclean._precision.resolve_precision`); None for float32.

    Attributes
    ----------
    sky : tuple of numpy.ndarray or None
        ``(background, rms)`` maps (`background_mesh`) of the image last
        predicted, for the steps after the network that judge pixels against
        the sky; None for networks that do not measure it (those given
        physical units).
    """

    def __init__(self, network, spec, *, device, batch_size, tile_size=256, overlap=32, precision=None):
        from crclean.models._inference import prepare_for_inference

        self.network, self._memory_format = prepare_for_inference(
            network, device, precision=precision, float32_blocks=spec.float32_blocks)
        self.spec = spec
        self.device = device
        self.batch_size = batch_size
        self.tile_size = tile_size
        self.overlap = overlap
        self.precision = precision
        self.sky = None

    def predict(self, data, *, units="adu", gain=None, exptime=None, readnoise=None,
                saturation=None, label="image", progress=False):
        """Probability that each pixel was hit by a cosmic ray.

        Parameters
        ----------
        data : numpy.ndarray
            2-D image in ``units``; not modified.
        units : {'adu', 'electron', 'electron/s'}, optional
        gain, exptime : float, optional
            For unit conversion (see `crclean.engine.to_model_units`).
        readnoise, saturation : float, optional
            Unused by networks; accepted so every masker takes the same call.
        label : str, optional
            Names the image in warnings and the progress bar.
        progress : bool, optional
            Draw a progress bar on stderr.

        Returns
        -------
        numpy.ndarray
            float32 probabilities, 0 on non-finite input pixels.
        """
        import torch

        self.sky = None
        if self.spec.normalisation == "background":
            # Unit-free: gain and units cancel in (image - sky) / noise.
            image, finite = _fill_non_finite(np.asarray(data, dtype=np.float32))
            background, rms = background_mesh(image)
            self.sky = background, rms
            if getattr(self.network, "psf_inputs", False):
                self._tell_psf_shape(image, background, rms)
            image = noise_normalise(image, background=background, rms=rms)
        else:
            image = to_model_units(data, units=units, target=self.spec.units, gain=gain,
                                   exptime=exptime, label=label)
            if self.spec.scale != 1.0:
                image /= np.float32(self.spec.scale)
            image, finite = _fill_non_finite(image)
        result = run_tiled(self.network, image[None], tile_size=self.tile_size, overlap=self.overlap,
                           batch_size=self.batch_size, device=self.device, memory_format=self._memory_format,
                           precision=self.precision, activation=torch.sigmoid, progress=progress, label=label)
        result[~finite] = 0.0
        return result

    def _tell_psf_shape(self, image, background, rms):
        """Give a ``psf_inputs`` network this image's PSF shape (round when too few stars show it)."""
        import torch

        from crclean.engine._psf_shape import measure_psf_shape, network_inputs

        shape = measure_psf_shape(image, background=background, rms=rms)
        told = network_inputs(shape, with_size=getattr(self.network, "psf_size", False),
                              with_skew=getattr(self.network, "psf_skew", False))
        self.network.psf_shape.copy_(torch.tensor(told, dtype=self.network.psf_shape.dtype))


class LacosmicMasker:
    """LA Cosmic (van Dokkum 2001) through ccdproc/astroscrappy, as a baseline.

    Returns a 0/1 "probability". Runs on the whole image (astroscrappy is
    compiled and has no tile seams).

    Parameters
    ----------
    sigclip : float, optional
        Laplacian-to-noise limit for cosmic-ray detection.
    objlim : float, optional
        Contrast limit between cosmic rays and the underlying object.

    References
    ----------
    van Dokkum, P. G. 2001, PASP 113, 1420.
    McCully, C. et al. 2018, astroscrappy, doi:10.5281/zenodo.1482019.
    """

    spec = None

    def __init__(self, *, sigclip=4.5, objlim=5.0):
        self.sigclip = sigclip
        self.objlim = objlim

    def predict(self, data, *, units="adu", gain=None, exptime=None, readnoise=None,
                saturation=None, label="image", progress=False):
        """See `NetworkMasker.predict`; ``readnoise`` (electrons) is used here."""
        import warnings

        from ccdproc import cosmicray_lacosmic

        from crclean.exceptions import UnitsWarning

        # Work in electrons with gain 1 so one code path serves every unit.
        electrons = to_model_units(data, units=units, target="electron", gain=gain,
                                   exptime=exptime, label=label)
        if readnoise is None:
            warnings.warn(
                f"{label}: no read noise found in the header; assuming 5.0 e-. "
                "Pass --readnoise to set it.",
                UnitsWarning,
                stacklevel=2,
            )
            readnoise = 5.0
        image, finite = _fill_non_finite(electrons)
        if saturation is None:
            satlevel = np.inf
        else:
            satlevel = float(saturation) * (gain or 1.0) if units == "adu" else float(saturation)
        _, mask = cosmicray_lacosmic(
            image, sigclip=self.sigclip, objlim=self.objlim, gain=1.0, readnoise=float(readnoise),
            satlevel=satlevel, gain_apply=False,
        )
        probability = np.asarray(mask, dtype=np.float32)
        probability[~finite] = 0.0
        return probability
