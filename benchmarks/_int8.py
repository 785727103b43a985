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
    import torch
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    from crclean import Cleaner
    from crclean.engine import noise_normalise

    cleaner = Cleaner(model, threshold=threshold, inpaint=None, device="cpu", precision="float32").load()
    masker = cleaner._masker
    if cleaner.spec.normalisation != "background":
        raise ValueError(f"the int8 evaluation needs a background-normalised model, not {model!r}")
    network = copy.deepcopy(masker.network).to(memory_format=torch.contiguous_format)
    sample = noise_normalise(np.asarray(calibration.image_adu, np.float32))
    tensor = torch.from_numpy(sample[None, None].copy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notices
        prepared = prepare_fx(network, get_default_qconfig_mapping("x86"), (tensor,))
        with torch.inference_mode():
            prepared(tensor)
        masker.network = convert_fx(prepared)
    masker._memory_format = torch.contiguous_format  # quantised kernels take the default layout
    return cleaner
