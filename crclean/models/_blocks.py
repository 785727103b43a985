"""Convolution blocks shared by crclean's own mask networks."""

from torch import nn

__all__ = ["norm_layer", "ConvBlock"]


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
