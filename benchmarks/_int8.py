"""int8 mask networks for benchmarks/precision.py: an evaluation, not a product feature.

The convolutions are quantised statically with PyTorch's FX graph mode and
the x86 backend (oneDNN/FBGEMM, VNNI or AMX int8 where the CPU has them):
weights per channel, activations per tensor, observers calibrated on one
exposure of crclean's own simulator that no benchmark family uses. crclean
ships no int8 path; this keeps the measurement that decided so reproducible.
"""

import copy
import warnings

import numpy as np
import torch


def quantised_cleaner(model, threshold, calibration):
    """A float32 `crclean.Cleaner` whose network is swapped for its int8 version.

    Parameters
    ----------
    model : str
        A background-normalised crclean model (``'crclean-ccd'``).
    threshold : float
    calibration : object
        An exposure (``image_adu``) to calibrate the activation ranges on.
    """
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    from crclean import Cleaner
    from crclean.engine import noise_normalise

    cleaner = Cleaner(model, threshold=threshold, inpaint=None, device="cpu", precision="float32").load()
    masker = cleaner._masker
    if cleaner.spec.normalisation != "background":
        raise ValueError(f"the int8 evaluation needs a background-normalised model, not {model!r}")
    network = _unfused(copy.deepcopy(masker.network)).to(memory_format=torch.contiguous_format)
    sample = noise_normalise(np.asarray(calibration.image_adu, np.float32))
    tensor = torch.from_numpy(sample[None, None].copy())
    planes = getattr(network, "psf_planes", 0)
    # A network told the PSF's shape takes it as a second input here, so that the traced graph reads it
    # from the call rather than from a buffer that FX would copy and the masker could no longer set.
    traced = _TakesShape(network) if planes else network
    example = (tensor, torch.zeros(1, planes)) if planes else (tensor,)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notices
        prepared = prepare_fx(traced, get_default_qconfig_mapping("x86"), example)
        with torch.inference_mode():
            prepared(*example)
        quantised = convert_fx(prepared)
    masker.network = _ToldShape(quantised, network) if planes else quantised
    masker._memory_format = torch.contiguous_format  # quantised kernels take the default layout
    return cleaner


def _unfused(network):
    """``network`` with each fused convolution + ReLU (`crclean.models._fused`) back as two modules, which FX
    can trace and quantise (the fused module asks its input's device at run time)."""
    from crclean.models._fused import _ConvReLU

    for parent in list(network.modules()):
        for name, child in parent.named_children():
            if isinstance(child, _ConvReLU):
                setattr(parent, name, torch.nn.Sequential(child.conv, torch.nn.ReLU()))
    return network


class _TakesShape(torch.nn.Module):
    """``network(x, psf_shape=shape)`` with the shape as an argument, for tracing."""

    def __init__(self, network):
        super().__init__()
        self.network = network

    def forward(self, x, shape):
        return self.network(x, psf_shape=shape)


class _ToldShape(torch.nn.Module):
    """The quantised graph behind the attributes through which the masker tells a network the PSF's shape."""

    def __init__(self, quantised, network):
        super().__init__()
        self.quantised = quantised
        for name in ("psf_inputs", "psf_size", "psf_skew", "psf_planes"):
            setattr(self, name, getattr(network, name, False))
        self.register_buffer("psf_shape", network.psf_shape.clone(), persistent=False)

    def forward(self, x):
        return self.quantised(x, self.psf_shape[:self.psf_planes].expand(x.shape[0], self.psf_planes))
