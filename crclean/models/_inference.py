"""Inference-only rewrites of a trained mask network that keep its output.

At inference a BatchNorm layer is a fixed per-channel affine map, so it can be
folded into the convolution before it: one pass over the activations fewer,
with the same result to float32 rounding (~1e-5 in the logits, measured).
On the CPU, channels-last activations let oneDNN pick faster convolution
kernels for crclean's narrow (16-64 channel) layers, and each convolution
and the ReLU after it run as one oneDNN call (`crclean.models._fused`). Under
bfloat16 autocast the block that sees the input stays in float32
(`keep_input_block_float32`), and so do the further blocks a model's spec
names (`keep_blocks_float32`, `crclean.weights.ModelSpec.float32_blocks`).
"""

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from crclean.models._fused import fuse_conv_relu

__all__ = ["fold_batch_norm", "keep_blocks_float32", "keep_input_block_float32", "prepare_for_inference"]


def fold_batch_norm(network):
    """Fold every ``Conv2d`` directly followed by ``BatchNorm2d`` (inside an
    ``nn.Sequential``) into one convolution, in place.

    Parameters
    ----------
    network : torch.nn.Module
        In evaluation mode.

    Returns
    -------
    int
        How many BatchNorm layers were folded.
    """
    if network.training:
        raise ValueError("fold_batch_norm needs a network in evaluation mode (call .eval())")
    folded = 0
    for module in network.modules():
        if not isinstance(module, nn.Sequential):
            continue
        names = list(module._modules)
        for first, second in zip(names, names[1:]):
            conv, norm = module._modules[first], module._modules[second]
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                module._modules[first] = fuse_conv_bn_eval(conv, norm)
                module._modules[second] = nn.Identity()
                folded += 1
    return folded


class _Float32Block(nn.Module):
    """Runs ``block`` in float32 even inside an autocast region, and hands on autocast's dtype."""

    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, x):
        device = x.device.type
        with torch.autocast(device, enabled=False):
            y = self.block(x.float())
        if not torch.is_autocast_enabled(device):
            return y
        # Every layer after this one casts its input to autocast's dtype anyway (pooling and
        # concatenation commute with the rounding), so cast once here: the same result, and
        # the skip connection's concatenation no longer mixes float32 and bfloat16 (13% of a
        # bfloat16 run's time on one core, measured on a 1120 px tile).
        return y.to(torch.get_autocast_dtype(device))


def keep_input_block_float32(network):
    """Run the network's first block (its ``input_block``) in float32 under autocast, in place.

    The input of a mask network spans thousands of noise sigmas (sky to
    saturated stars), and bfloat16 keeps 8 bits of mantissa: rounded to it, a
    star of 2000 sigma moves by ~8 sigma, a cosmic-ray-sized edge. Kept in
    float32, this one block halves the probability differences and cut the
    flipped pixels on astroscrappy's GMOS frame from 13 to 3 of 462, for a
    bfloat16 run typically 15-30% slower than with the block in bfloat16
    (``python benchmarks/precision.py --whole-network``).

    Parameters
    ----------
    network : torch.nn.Module
        With an ``input_block`` attribute naming a submodule (crclean's mask
        networks have one); other networks are left as they are.

    Returns
    -------
    bool
        Whether a block was wrapped.
    """
    name = getattr(network, "input_block", None)
    if name is None:
        return False
    keep_blocks_float32(network, [name])
    return True


def keep_blocks_float32(network, names):
    """Run each named submodule of ``network`` in float32 under autocast, in place.

    Parameters
    ----------
    network : torch.nn.Module
    names : iterable of str
        Dotted submodule names, e.g. ``'encoders.1'``; one already wrapped
        is left as it is.
    """
    for name in names:
        parent, _, child = name.rpartition(".")
        owner = network.get_submodule(parent) if parent else network
        block = getattr(owner, child)
        if not isinstance(block, _Float32Block):
            setattr(owner, child, _Float32Block(block))


def prepare_for_inference(network, device, *, precision=None, float32_blocks=()):
    """A copy of ``network`` rewritten for fast inference on ``device``.

    Parameters
    ----------
    network : torch.nn.Module
        A trained network in evaluation mode; left unchanged.
    device : torch.device
    precision : torch.dtype, optional
        The autocast dtype it will run under; with bfloat16 its input block
        stays in float32 (`keep_input_block_float32`), and so do
        ``float32_blocks``. On the CPU each convolution and its ReLU are
        fused (`crclean.models._fused.fuse_conv_relu`).
    float32_blocks : sequence of str, optional
        Further submodules kept in float32 under bfloat16 (`keep_blocks_float32`).

    Returns
    -------
    network : torch.nn.Module
        The rewritten copy, on ``device``, gradients off.
    memory_format : torch.memory_format
        The layout its input should have.
    """
    network = copy.deepcopy(network).eval().requires_grad_(False)
    fold_batch_norm(network)
    if precision == torch.bfloat16:
        keep_input_block_float32(network)
        keep_blocks_float32(network, float32_blocks)
    on_cpu = torch.device(device).type == "cpu"
    if on_cpu:
        fuse_conv_relu(network)
    # Measured on the CPU only; CUDA keeps PyTorch's default layout.
    memory_format = torch.channels_last if on_cpu else torch.contiguous_format
    return network.to(device=device, memory_format=memory_format), memory_format
