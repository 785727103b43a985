"""TransUNet-small: a UNet whose bottleneck is a transformer encoder.

A convolutional encoder (three levels) feeds a patch embedding at 1/8
resolution; a stack of pre-norm transformer layers mixes those tokens across
the whole tile, so a long track or a star's halo is seen as a whole; a
cascaded upsampler with skip connections brings the result back to full
resolution. Position comes from a depth-wise convolution on the token grid
(a conditional position encoding) rather than a learned table, so the network
runs on tiles of any size that is a multiple of 8.

The default sizes follow the small variant of the seed study (6 heads,
6 layers, embedding 60, MLP 100; about 0.45 M parameters).

crclean's shipped models use BatchNorm and neighbourhood attention (each
token attends to a small window around it) rather than GroupNorm and global
attention: both of those pool over the whole tile, which made predictions
depend on where tile borders fall (probabilities differing by up to 0.66
between 256 and 128 px tiles in a measured run), defeating seamless tiling.

References
----------
Hassani, A. et al. 2023, "Neighborhood Attention Transformer", CVPR
(arXiv:2204.07143).
Chen, J. et al. 2021, "TransUNet: Transformers Make Strong Encoders for
Medical Image Segmentation" (arXiv:2102.04306).
Chu, X. et al. 2023, "Conditional Positional Encodings for Vision
Transformers", ICLR (arXiv:2102.10882).
Zhang, K. & Bloom, J. S. 2020, ApJ 889, 24 (deepCR).
"""

import torch
from torch import nn
from torch.nn import functional as F

from crclean.models._blocks import ConvBlock

__all__ = ["TransUNet"]


def _neighbourhood_attention(query, key, value, grid, window, bias):
    """Each token attends to the ``window`` x ``window`` tokens centred on it.

    Unlike global attention this is translation-equivariant: a token's output
    depends only on its neighbourhood, so overlapping tiles agree and the
    tile size does not change the result. Keys beyond the grid edge are
    masked out.

    Parameters
    ----------
    query, key, value : torch.Tensor
        ``(batch, heads, height * width, head_dim)``.
    grid : (int, int)
        Token grid height and width.
    window : int
        Odd neighbourhood side.
    bias : torch.Tensor
        ``(heads, window * window)`` learned relative-position bias.
    """
    batch, heads, length, head_dim = query.shape
    height, width = grid
    radius = window // 2
    # One shifted view of the zero-padded key/value grid per offset, head
    # dimension last and offsets stacked first (contiguous copies), instead
    # of F.unfold, which copied every key window * window times and was the
    # CPU hot path (about 5x slower).
    query = query.reshape(batch, heads, height, width, head_dim) * head_dim**-0.5
    padding = (0, 0, radius, radius, radius, radius)
    key = F.pad(key.reshape(batch, heads, height, width, head_dim), padding)
    value = F.pad(value.reshape(batch, heads, height, width, head_dim), padding)
    offsets = [(dy, dx) for dy in range(window) for dx in range(window)]
    logits = torch.stack(
        [(query * key[:, :, dy:dy + height, dx:dx + width]).sum(-1) for dy, dx in offsets])
    grid_ones = F.pad(query.new_ones(height, width), padding[2:])
    inside = torch.stack([grid_ones[dy:dy + height, dx:dx + width] for dy, dx in offsets]) > 0
    logits = logits + bias.T[:, None, :, None, None]
    weights = logits.masked_fill(~inside[:, None, None], float("-inf")).softmax(dim=0)[..., None]
    attended = weights[0] * value[:, :, :height, :width]
    for k, (dy, dx) in enumerate(offsets[1:], start=1):
        attended = torch.addcmul(attended, weights[k], value[:, :, dy:dy + height, dx:dx + width])
    return attended.reshape(batch, heads, length, head_dim)


class _TransformerLayer(nn.Module):
    """Pre-norm multi-head self-attention and MLP, each with a residual.

    ``window`` None attends over the whole token grid (as in TransUNet);
    an odd ``window`` restricts each token to its neighbourhood
    (Hassani et al. 2023), which keeps tiled inference seamless.
    """

    def __init__(self, dim, heads, mlp_dim, window=None):
        super().__init__()
        if dim % heads:
            raise ValueError(f"embed_dim ({dim}) must be divisible by heads ({heads})")
        if window is not None and (window < 1 or window % 2 == 0):
            raise ValueError(f"window must be a positive odd number or None, got {window!r}")
        self.heads = heads
        self.window = window
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, dim))
        if window is not None:
            self.position_bias = nn.Parameter(torch.zeros(heads, window * window))

    def forward(self, tokens, grid):
        batch, length, dim = tokens.shape
        qkv = self.qkv(self.norm1(tokens)).reshape(batch, length, 3, self.heads, dim // self.heads)
        query, key, value = qkv.permute(2, 0, 3, 1, 4)
        if self.window is None:
            attended = F.scaled_dot_product_attention(query, key, value)
        else:
            attended = _neighbourhood_attention(query, key, value, grid, self.window, self.position_bias)
        tokens = tokens + self.proj(attended.transpose(1, 2).reshape(batch, length, dim))
        return tokens + self.mlp(self.norm2(tokens))


class TransUNet(nn.Module):
    """TransUNet-small mask network; one logit per pixel.

    Parameters
    ----------
    channels : sequence of three int, optional
        Encoder channels at full, 1/2 and 1/4 resolution.
    embed_dim, depth, heads, mlp_dim : int, optional
        Transformer width, layers, attention heads and MLP hidden size.
    norm : {'group', 'batch', 'none'}, optional
        Normalisation of the convolution blocks. GroupNorm pools statistics
        over the whole tile, so its output depends on the tile; BatchNorm is
        a fixed per-channel affine at inference and keeps tiles seamless.
    groups : int, optional
        Groups of GroupNorm.
    window : int or None, optional
        Neighbourhood attention window in tokens (odd), or None for global
        attention over the tile.
    """

    size_multiple = 8
    #: The block that sees the input (`crclean.models._inference.keep_input_block_float32`).
    input_block = "encoder0"

    def __init__(self, *, channels=(16, 32, 64), embed_dim=60, depth=6, heads=6, mlp_dim=100,
                 norm="group", groups=8, window=None):
        super().__init__()
        c0, c1, c2 = channels
        self.encoder0 = ConvBlock(1, c0, norm=norm, groups=groups)
        self.encoder1 = ConvBlock(c0, c1, norm=norm, groups=groups)
        self.encoder2 = ConvBlock(c1, c2, norm=norm, groups=groups)
        self.pool = nn.MaxPool2d(2)
        self.embed = nn.Conv2d(c2, embed_dim, 2, stride=2)
        self.position = nn.Conv2d(embed_dim, embed_dim, 3, padding=1, groups=embed_dim)
        self.layers = nn.ModuleList(
            _TransformerLayer(embed_dim, heads, mlp_dim, window) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim)
        self.up2 = nn.ConvTranspose2d(embed_dim, c2, 2, stride=2)
        self.decoder2 = ConvBlock(2 * c2, c2, norm=norm, groups=groups)
        self.up1 = nn.ConvTranspose2d(c2, c1, 2, stride=2)
        self.decoder1 = ConvBlock(2 * c1, c1, norm=norm, groups=groups)
        self.up0 = nn.ConvTranspose2d(c1, c0, 2, stride=2)
        self.decoder0 = ConvBlock(2 * c0, c0, norm=norm, groups=groups)
        self.head = nn.Conv2d(c0, 1, 1)

    def forward(self, x):
        skip0 = self.encoder0(x)
        skip1 = self.encoder1(self.pool(skip0))
        skip2 = self.encoder2(self.pool(skip1))
        grid = self.embed(skip2)
        grid = grid + self.position(grid)
        batch, dim, height, width = grid.shape
        tokens = grid.flatten(2).transpose(1, 2)
        for layer in self.layers:
            tokens = layer(tokens, (height, width))
        grid = self.norm(tokens).transpose(1, 2).reshape(batch, dim, height, width)
        x = self.decoder2(torch.cat([skip2, self.up2(grid)], dim=1))
        x = self.decoder1(torch.cat([skip1, self.up1(x)], dim=1))
        x = self.decoder0(torch.cat([skip0, self.up0(x)], dim=1))
        return self.head(x)
