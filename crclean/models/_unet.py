"""A plain UNet: the baseline mask network for crclean's TransUNet, and the
body of the learned inpainter (two input channels).

References
----------
Ronneberger, O., Fischer, P. & Brox, T. 2015, "U-Net: Convolutional Networks
for Biomedical Image Segmentation", MICCAI (arXiv:1505.04597).
Xu, C. et al. 2021, "Cosmic-CoNN" (arXiv:2106.14922): GroupNorm for CR masks.
"""

import torch
from torch import nn

from crclean.models._blocks import ContextBlock, ConvBlock
from crclean.models._local_median import local_median

__all__ = ["UNet"]


class UNet(nn.Module):
    """Encoder-decoder with skip connections; one output per pixel.

    Parameters
    ----------
    channels : sequence of int, optional
        Channels per level, full resolution first; each further level halves
        the resolution.
    norm : {'group', 'batch', 'none'}, optional
    groups : int, optional
        Groups of GroupNorm.
    in_channels : int, optional
        Input planes: 1 for a mask network, 2 for the inpainter (image and
        mask).
    psf_inputs : bool, optional
        Also take the image's PSF shape, ``(e1, e2)`` of
        `crclean.engine._psf_shape`, as two constant planes beside the input:
        a few dozen pixels cannot tell a star stretched by the frame's PSF from
        a short track, the frame's shape can. Given per image in ``forward``
        (training) or set once per image in the ``psf_shape`` buffer (run time;
        zeros, a round PSF, by default).
    psf_size : bool, optional
        With ``psf_inputs``, two more planes: the PSF's size and whether it
        was measured, ``(log(FWHM / 3 px), 1)``, or ``(0, 0)`` with the shape
        also zero when the image shows too few stars
        (`crclean.engine._psf_shape.network_inputs`). A hit on a star's core
        or wing departs from the star's profile, which a network can judge
        only when it knows how wide the frame's stars are.
    psf_skew : bool, optional
        With ``psf_inputs``, four more planes, last: the PSF's coma and
        trefoil (`crclean.engine._psf_shape.PSFShape.skew`, times 10). A frame
        whose stars have a spur or a second lump shows charge on a star that
        is the star's; a frame whose stars are symmetric does not, and there
        such charge is a hit.
    context_dilations : sequence of int, optional
        Dilations of a `ContextBlock` on the deepest level (none by default).
        Each dilation d there widens the field of view by
        ``2 * d * 2 ** (len(channels) - 1)`` pixels: a 250 px track along a
        column differs from a bad column only at its ends, beyond the ~100 px
        that four levels of plain convolutions see.
    median_plane : bool, optional
        Also take a median of the input's first plane over its neighbours
        (`crclean.models._local_median.local_median`, 5 px along rows, then
        columns) as a plane after all others: the smooth light under a pixel.
        A faint hit on a bright star or galaxy stands out from that, not from
        the sky; convolutions cannot compute a median. Last, so that a network
        trained without it starts from the same output with this plane's
        weights zero (`crclean.training.mask._loop`).
    """

    #: The block that sees the input (`crclean.models._inference.keep_input_block_float32`).
    input_block = "encoders.0"

    def __init__(self, *, channels=(32, 64, 128), norm="group", groups=8, in_channels=1, psf_inputs=False,
                 psf_size=False, psf_skew=False, context_dilations=(),
                 median_plane=False):
        super().__init__()
        channels = list(channels)
        self.size_multiple = 2 ** (len(channels) - 1)
        for name, wanted in (("psf_size", psf_size), ("psf_skew", psf_skew)):
            if wanted and not psf_inputs:
                raise ValueError(f"{name} needs psf_inputs")
        self.psf_inputs = bool(psf_inputs)
        self.psf_size = bool(psf_size)
        self.psf_skew = bool(psf_skew)
        self.psf_planes = 2 * self.psf_inputs + 2 * self.psf_size + 4 * self.psf_skew
        # Not saved with the weights: it describes the image, not the network.
        self.register_buffer("psf_shape", torch.zeros(max(self.psf_planes, 2)), persistent=False)
        self.encoders = nn.ModuleList()
        self.median_plane = bool(median_plane)
        previous = in_channels + self.psf_planes + self.median_plane
        for width in channels:
            self.encoders.append(ConvBlock(previous, width, norm=norm, groups=groups))
            previous = width
        self.pool = nn.MaxPool2d(2)
        self.upsamples = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for deep, shallow in zip(channels[::-1][:-1], channels[::-1][1:]):
            self.upsamples.append(nn.ConvTranspose2d(deep, shallow, 2, stride=2))
            self.decoders.append(ConvBlock(2 * shallow, shallow, norm=norm, groups=groups))
        self.head = nn.Conv2d(channels[0], 1, 1)
        self.context = (ContextBlock(channels[-1], context_dilations, norm=norm, groups=groups)
                        if len(context_dilations) else None)

    def forward(self, x, psf_shape=None):
        """Logits for ``x`` (N, C, H, W); ``psf_shape`` (N, `psf_planes`) overrides the buffer for ``psf_inputs``."""
        image = x
        if self.psf_inputs:
            shape = self.psf_shape.expand(x.shape[0], self.psf_planes) if psf_shape is None else psf_shape
            # Indexed, not unpacked, so that torch.fx can trace it (benchmarks/_int8.py).
            planes = shape.to(device=x.device, dtype=x.dtype)[:, :, None, None]
            planes = planes.expand(-1, -1, x.shape[-2], x.shape[-1])
            x = torch.cat([x, planes], dim=1)
        if self.median_plane:
            x = torch.cat([x, local_median(image[:, :1])], dim=1)
        skips = []
        for level, encoder in enumerate(self.encoders):
            x = encoder(x if level == 0 else self.pool(x))
            skips.append(x)
        x = skips.pop()
        if self.context is not None:
            x = self.context(x)
        for upsample, decoder in zip(self.upsamples, self.decoders):
            x = decoder(torch.cat([skips.pop(), upsample(x)], dim=1))
        return self.head(x)
