"""Convolution and ReLU in one oneDNN call on the CPU (an inference-only rewrite).

In eager PyTorch a ``Conv2d`` followed by ``ReLU`` writes the convolution's
output to memory and reads it back to clip it: on crclean's narrow layers the
ReLU took ~19% of a bfloat16 forward pass on one core (torch.profiler, 1120 px tile). oneDNN applies the ReLU
as a post-op while the output is still in cache; PyTorch exposes that as
``torch.ops.mkldnn._convolution_pointwise`` (what ``torch.compile`` uses on the
CPU). The result is the same convolution, so the outputs are identical (the
tests compare them); where the op is missing or refuses a layer, the layer
stays as it was, and where it refuses a precision (oneDNN's float16 path
needs AVX512-FP16 or AVX-NE-CONVERT, which many CPUs lack), the layer runs
unfused in it.
"""

import functools

import torch
from torch import nn

__all__ = ["fuse_conv_relu"]


def _fused_op():
    """oneDNN's convolution with a pointwise post-op, or None when this PyTorch build lacks it."""
    try:
        op = torch.ops.mkldnn._convolution_pointwise
    except (AttributeError, RuntimeError):
        return None
    return op if _takes(op, torch.float32) else None


@functools.lru_cache(maxsize=None)
def _takes(op, dtype):
    """Whether ``op`` runs in ``dtype`` on this CPU (it raises where the CPU lacks the instructions)."""
    try:
        op(torch.zeros(1, 1, 4, 4, dtype=dtype), torch.zeros(1, 1, 3, 3, dtype=dtype), None, [1, 1], [1, 1],
           [1, 1], 1, "relu", [], "")
    except (RuntimeError, TypeError):
        return False
    return True


class _ConvReLU(nn.Module):
    """``relu(conv(x))`` as one oneDNN call on the CPU; the two modules as before elsewhere."""

    def __init__(self, conv, op):
        super().__init__()
        self.conv, self._op = conv, op

    def forward(self, x):
        if x.device.type != "cpu":
            return torch.relu(self.conv(x))
        # As autocast would run the convolution: input, weight and bias in its dtype.
        dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else x.dtype
        if not _takes(self._op, dtype):
            return torch.relu(self.conv(x))
        conv = self.conv
        bias = None if conv.bias is None else conv.bias.to(dtype)
        return self._op(x.to(dtype), conv.weight.to(dtype), bias, list(conv.padding), list(conv.stride),
                        list(conv.dilation), conv.groups, "relu", [], "")


def _fusable(conv):
    # Plain convolutions with numeric zero padding: what the fused op takes ('same' padding does not).
    return type(conv) is nn.Conv2d and conv.padding_mode == "zeros" and isinstance(conv.padding, tuple)


def fuse_conv_relu(network):
    """Replace each ``Conv2d`` followed by ``ReLU`` (``Identity`` layers between them skipped) inside
    an ``nn.Sequential`` with one fused module, in place.

    Parameters
    ----------
    network : torch.nn.Module
        In evaluation mode, for the CPU.

    Returns
    -------
    int
        How many pairs were fused (0 when PyTorch lacks the fused op).
    """
    op = _fused_op()
    if op is None:
        return 0
    fused = 0
    for module in list(network.modules()):
        if not isinstance(module, nn.Sequential):
            continue
        names = [name for name in module._modules if not isinstance(module._modules[name], nn.Identity)]
        for first, second in zip(names, names[1:]):
            conv, activation = module._modules[first], module._modules[second]
            if _fusable(conv) and isinstance(activation, nn.ReLU):
                module._modules[first] = _ConvReLU(conv, op)
                module._modules[second] = nn.Identity()
                fused += 1
    return fused
