"""A small residual CNN that grades one centred candidate stamp: lens or not.

The second stage of crclean's lens search. Wide-survey searches classify
centred cutouts with CNNs (Jacobs et al. 2019; Petrillo et al. 2019); here
the cutouts are the RT-DETR detector's candidates, so the classifier only
has to learn what separates a lens from the things the detector mistakes
for one. Residual blocks follow He et al. (2016). The head pools the whole
stamp and, separately, its central quarter, where the candidate sits, so
that a neighbour's arcs do not pass for the candidate's.

References
----------
He, K., Zhang, X., Ren, S. & Sun, J. 2016, "Deep Residual Learning for Image Recognition", CVPR.
Jacobs, C. et al. 2019, ApJS 243, 17.
Petrillo, C. E. et al. 2019, MNRAS 484, 3879.
"""

import torch
from torch import nn

__all__ = ["LensVetter"]


class _ResidualBlock(nn.Module):
    """Two 3x3 convolutions with batch norm, the first with ``stride``, plus a projected shortcut."""

    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels))
        self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                      nn.BatchNorm2d(out_channels))

    def forward(self, x):
        return torch.relu(self.body(x) + self.shortcut(x))


class LensVetter(nn.Module):
    """Stamp ``(B, 1, S, S)`` (S a multiple of 8, normalised like the detector's input) -> logit ``(B,)``.

    Parameters
    ----------
    widths : sequence of int, optional
        Channels of the full-resolution stem and of each stride-2 stage.
    dropout : float, optional
        Before the final linear layer, in training.
    """

    def __init__(self, widths=(16, 32, 64, 128), dropout=0.2):
        super().__init__()
        widths = tuple(int(w) for w in widths)
        self.config = {"widths": list(widths), "dropout": float(dropout)}
        self.stem = nn.Sequential(nn.Conv2d(1, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]),
                                  nn.ReLU(inplace=True))
        self.stages = nn.Sequential(*[_ResidualBlock(a, b, 2) for a, b in zip(widths[:-1], widths[1:])])
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * widths[-1], 1))

    def forward(self, stamps):
        features = self.stages(self.stem(stamps))
        ny, nx = features.shape[-2:]
        centre = features[..., ny // 4:ny - ny // 4, nx // 4:nx - nx // 4]
        pooled = torch.cat([features.mean((-2, -1)), centre.mean((-2, -1))], dim=1)
        return self.head(pooled).squeeze(1)
