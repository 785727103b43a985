"""Convolution blocks shared by crclean's own mask networks.

References
----------
Yu, F. & Koltun, V. 2016, "Multi-Scale Context Aggregation by Dilated
Convolutions", ICLR (arXiv:1511.07122).
He, K., Zhang, X., Ren, S. & Sun, J. 2016, "Deep Residual Learning for Image
Recognition", CVPR (arXiv:1512.03385).
"""

import torch
from torch import nn

__all__ = ["norm_layer", "ConvBlock", "ContextBlock"]


def norm_layer(kind, channels, groups):
    """``'group'`` (GroupNorm), ``'batch'`` (BatchNorm) or ``'none'``."""
    if kind == "group":
        return nn.GroupNorm(min(groups, channels), channels)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be 'group', 'batch' or 'none', got {kind!r}")


class ConvBlock(nn.Sequential):
    """Two 3x3 convolutions, each followed by normalisation and ReLU."""

    def __init__(self, in_channels, out_channels, *, norm="group", groups=8):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=norm == "none"),
            norm_layer(norm, out_channels, groups),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=norm == "none"),
            norm_layer(norm, out_channels, groups),
            nn.ReLU(inplace=True),
        )


class ContextBlock(nn.Module):
    """A residual branch of dilated 3x3 convolutions: widens a network's field of view at little cost.

    ``x + body(x)``, where ``body`` is one dilated convolution (with
    normalisation and ReLU) per entry of ``dilations`` and a final 1x1
    convolution. That last convolution starts at zero, so a network given the
    block computes, before training, exactly what it did without it (and can
    start from the weights it had).
    """

    def __init__(self, channels, dilations, *, norm="group", groups=8):
        super().__init__()
        layers = []
        for dilation in dilations:
            layers += [nn.Conv2d(channels, channels, 3, padding=int(dilation), dilation=int(dilation),
                                 bias=norm == "none"),
                       norm_layer(norm, channels, groups), nn.ReLU(inplace=True)]
        last = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.body = nn.Sequential(*layers, last)

    def forward(self, x):
        return torch.add(x, self.body(x))
