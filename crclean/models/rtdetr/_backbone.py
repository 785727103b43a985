"""A small ResNet-like backbone giving feature maps at strides 8, 16 and 32 (and 4).

RT-DETR uses a ResNet or HGNet backbone and feeds its last three stages
(strides 8/16/32) to the hybrid encoder (Zhao et al. 2024, sec. 4.1). Survey
windows are small and have one to a few bands, so this one is a slim
basic-block ResNet (He et al. 2016).

Each stage can end with extra residual blocks whose last batch norm starts
at zero (Goyal et al. 2017), so that a block starts as the identity: a model
deepened this way computes exactly what the model it starts from did, and
learns to use its new depth from there.

References
----------
He, K. et al. 2016, "Deep Residual Learning for Image Recognition", CVPR.
Goyal, P. et al. 2017, "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", arXiv:1706.02677.
Zhao, Y. et al. 2024, "DETRs Beat YOLOs on Real-time Object Detection", CVPR.
"""

from torch import nn

__all__ = ["ConvNormAct", "SmallResNet"]


class ConvNormAct(nn.Sequential):
    """Convolution, batch norm and (optionally) SiLU."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, *, act=True):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.SiLU() if act else nn.Identity(),
        )


class _BasicBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.conv1 = ConvNormAct(in_channels, out_channels, 3, stride)
        self.conv2 = ConvNormAct(out_channels, out_channels, 3, 1, act=False)
        if stride != 1 or in_channels != out_channels:
            # ResNet-D style shortcut: average-pool, then 1x1, keeps every input pixel.
            self.shortcut = nn.Sequential(
                nn.AvgPool2d(stride, stride) if stride > 1 else nn.Identity(),
                ConvNormAct(in_channels, out_channels, 1, 1, act=False),
            )
        else:
            self.shortcut = nn.Identity()
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.conv2(self.conv1(x)) + self.shortcut(x))


class _ResidualBlock(nn.Module):
    """``x + branch(x)``, with no activation after the sum and the branch's last batch norm at zero.

    A basic block applies SiLU after its sum, so it cannot start as the
    identity; this one does, whatever its input, until training moves the
    zeroed batch-norm weight.
    """

    def __init__(self, channels):
        super().__init__()
        self.branch = nn.Sequential(ConvNormAct(channels, channels, 3, 1), ConvNormAct(channels, channels, 3, 1, act=False))
        nn.init.zeros_(self.branch[1][1].weight)

    def forward(self, x):
        return x + self.branch(x)


class SmallResNet(nn.Module):
    """Stem at stride 4, then four stages; returns the last three (or all four).

    Parameters
    ----------
    in_channels : int, optional
        Bands of the input (1 for single-band tiles).
    widths : sequence of 4 int, optional
        Channels of the stages at strides 4, 8, 16, 32.
    depths : sequence of 4 int, optional
        Basic blocks per stage.
    residual_blocks : sequence of 4 int, optional
        Identity-start residual blocks (`_ResidualBlock`) after each stage's
        basic blocks.
    fine : bool, optional
        Also return the stride-4 map, first.

    Attributes
    ----------
    out_channels : list of int
        Channels of the returned maps, finest first.
    """

    def __init__(self, in_channels=1, *, widths=(24, 48, 96, 160), depths=(1, 1, 2, 1), residual_blocks=(0, 0, 0, 0),
                 fine=False):
        super().__init__()
        if len(widths) != 4 or len(depths) != 4 or len(residual_blocks) != 4:
            raise ValueError(f"widths, depths and residual_blocks need 4 entries, got {widths!r}, {depths!r} "
                             f"and {residual_blocks!r}")
        if any(int(n) != n or n < 0 for n in residual_blocks):
            raise ValueError(f"residual_blocks must be counts of 0 or more, got {residual_blocks!r}")
        self.stem = nn.Sequential(
            ConvNormAct(in_channels, widths[0] // 2, 3, 2),
            ConvNormAct(widths[0] // 2, widths[0], 3, 1),
            nn.MaxPool2d(3, 2, 1),
        )
        stages, previous = [], widths[0]
        for index, (width, depth, extra) in enumerate(zip(widths, depths, residual_blocks)):
            stride = 1 if index == 0 else 2
            blocks = [_BasicBlock(previous, width, stride)]
            blocks += [_BasicBlock(width, width, 1) for _ in range(depth - 1)]
            # Appended after the basic blocks, so the earlier blocks keep their state-dict names.
            blocks += [_ResidualBlock(width) for _ in range(int(extra))]
            stages.append(nn.Sequential(*blocks))
            previous = width
        self.stages = nn.ModuleList(stages)
        self.first_output = 0 if fine else 1
        self.out_channels = list(widths[self.first_output:])

    def forward(self, x):
        x = self.stem(x)
        outputs = []
        for index, stage in enumerate(self.stages):
            x = stage(x)
            if index >= self.first_output:
                outputs.append(x)
        return outputs
