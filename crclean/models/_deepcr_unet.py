"""The deepCR mask network (the "2-32" UNet), written for crclean.

A two-level UNet: two 3x3 conv + BatchNorm + ReLU blocks at full resolution
with 32 channels, a 2x2 max-pool, two blocks at half resolution with 64
channels, a 2x2 transposed convolution back up, concatenation with the
full-resolution features, two more blocks, and a 1x1 convolution to one
logit per pixel.

References
----------
Zhang, K. & Bloom, J. S. 2020, "deepCR: Cosmic Ray Rejection with Deep
Learning", ApJ 889, 24 (arXiv:1907.09500).
"""

import torch
from torch import nn

__all__ = ["DeepCRUNet", "convert_deepcr_state_dict"]


def _conv_block(in_channels, out_channels):
    # Layout (conv, bn, relu, conv, bn, relu) mirrors deepCR's so that its
    # checkpoints map onto this module by a prefix rename alone.
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class DeepCRUNet(nn.Module):
    """deepCR's two-level mask UNet; returns logits (apply a sigmoid for probability).

    Parameters
    ----------
    hidden : int, optional
        Channels at full resolution (deepCR's shipped models use 32).
    """

    #: Input sides must be multiples of this (one 2x2 pooling).
    size_multiple = 2
    #: The block that sees the input (`crclean.models._inference.keep_input_block_float32`).
    input_block = "encoder"

    def __init__(self, *, hidden=32):
        super().__init__()
        self.encoder = _conv_block(1, hidden)
        self.pool = nn.MaxPool2d(2)
        self.bottom = _conv_block(hidden, 2 * hidden)
        self.upsample = nn.ConvTranspose2d(2 * hidden, hidden, 2, stride=2)
        self.decoder = _conv_block(2 * hidden, hidden)
        self.head = nn.Conv2d(hidden, 1, 1)

    def forward(self, x):
        skip = self.encoder(x)
        deep = self.bottom(self.pool(skip))
        fused = self.decoder(torch.cat([skip, self.upsample(deep)], dim=1))
        return self.head(fused)


# deepCR's parameter names (inside its `WrappedModel`) -> ours.
_DEEPCR_PREFIXES = {
    "module.inc.conv.conv.": "encoder.",
    "module.down1.mpconv.1.conv.": "bottom.",
    "module.up8.up.": "upsample.",
    "module.up8.conv.conv.": "decoder.",
    "module.outc.conv.": "head.",
}


def convert_deepcr_state_dict(state_dict):
    """Rename a deepCR mask checkpoint's keys to `DeepCRUNet`'s.

    Parameters
    ----------
    state_dict : dict of str to torch.Tensor
        As saved by deepCR (``learned_models/mask/*.pth``).

    Returns
    -------
    dict of str to torch.Tensor
        Loadable with ``DeepCRUNet.load_state_dict(..., strict=True)``.

    Raises
    ------
    KeyError
        If a key does not belong to a deepCR 2-level mask network.
    """
    converted = {}
    for key, value in state_dict.items():
        for old, new in _DEEPCR_PREFIXES.items():
            if key.startswith(old):
                name = new + key[len(old) :]
                # deepCR saved the BatchNorm step counters as float tensors.
                if name.endswith("num_batches_tracked"):
                    value = value.to(torch.long)
                converted[name] = value
                break
        else:
            raise KeyError(f"unexpected key in a deepCR mask checkpoint: {key!r}")
    return converted
