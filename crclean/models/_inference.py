"""Inference-only rewrites of a trained mask network that keep its output.

At inference a BatchNorm layer is a fixed per-channel affine map, so it can be
folded into the convolution before it: one pass over the activations fewer,
with the same result to float32 rounding (~1e-5 in the logits, measured).
On the CPU, channels-last activations let oneDNN pick faster convolution
kernels for crclean's narrow (16-64 channel) layers.
"""

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

__all__ = ["fold_batch_norm", "prepare_for_inference"]


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


def prepare_for_inference(network, device):
    """A copy of ``network`` rewritten for fast inference on ``device``.

    Parameters
    ----------
    network : torch.nn.Module
        A trained network in evaluation mode; left unchanged.
    device : torch.device

    Returns
    -------
    network : torch.nn.Module
        The rewritten copy, on ``device``, gradients off.
    memory_format : torch.memory_format
        The layout its input should have.
    """
    network = copy.deepcopy(network).eval().requires_grad_(False)
    fold_batch_norm(network)
    # Measured on the CPU only; CUDA keeps PyTorch's default layout.
    memory_format = torch.channels_last if torch.device(device).type == "cpu" else torch.contiguous_format
    return network.to(device=device, memory_format=memory_format), memory_format
