"""RT-DETR's hybrid encoder: AIFI on the deepest map, then CCFF fusion.

Zhao et al. (2024, sec. 4.2) decouple intra-scale interaction from
cross-scale fusion: self-attention runs only on the stride-32 map (AIFI,
"attention-based intra-scale feature interaction"), where it is cheap and the
features are semantic, and a CNN path (CCFF, "CNN-based cross-scale feature
fusion", an FPN + PAN of fusion blocks) mixes the three scales. For lenses the
attention lets a lens galaxy and its arcs a few arcseconds away see each other.

References
----------
Zhao, Y. et al. 2024, "DETRs Beat YOLOs on Real-time Object Detection", CVPR.
Vaswani, A. et al. 2017, "Attention Is All You Need", NeurIPS.
"""


import torch
import torch.nn.functional as F
from torch import nn

from crclean.models.rtdetr._backbone import ConvNormAct

__all__ = ["HybridEncoder", "sincos_position_embedding"]


def sincos_position_embedding(height, width, dim, *, temperature=10000.0, device=None):
    """Fixed 2-D sine-cosine position embedding, shape ``(1, height*width, dim)``."""
    if dim % 4:
        raise ValueError(f"dim must be a multiple of 4 for a 2-D sincos embedding, got {dim}")
    grid_y, grid_x = torch.meshgrid(
        torch.arange(height, dtype=torch.float32, device=device),
        torch.arange(width, dtype=torch.float32, device=device), indexing="ij")
    quarter = dim // 4
    omega = 1.0 / temperature ** (torch.arange(quarter, dtype=torch.float32, device=device) / quarter)
    out_x = grid_x.flatten()[:, None] * omega[None]
    out_y = grid_y.flatten()[:, None] * omega[None]
    return torch.cat([out_x.sin(), out_x.cos(), out_y.sin(), out_y.cos()], dim=1)[None]


class _AIFILayer(nn.Module):
    """One post-norm transformer encoder layer with position added to queries and keys."""

    def __init__(self, dim, heads, ffn_dim, dropout):
        super().__init__()
        self.attention = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_dim), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(ffn_dim, dim))
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, tokens, position):
        query = tokens + position
        attended, _ = self.attention(query, query, tokens, need_weights=False)
        tokens = self.norm1(tokens + self.dropout(attended))
        return self.norm2(tokens + self.dropout(self.ffn(tokens)))


class _FusionBlock(nn.Module):
    """CSP-style fusion: two 1x1 branches, one through 3x3 convs, summed."""

    def __init__(self, in_channels, out_channels, depth):
        super().__init__()
        self.branch_a = ConvNormAct(in_channels, out_channels, 1)
        self.branch_b = ConvNormAct(in_channels, out_channels, 1)
        self.blocks = nn.Sequential(*[ConvNormAct(out_channels, out_channels, 3) for _ in range(depth)])

    def forward(self, x):
        return self.blocks(self.branch_a(x)) + self.branch_b(x)


class HybridEncoder(nn.Module):
    """Project three backbone maps to ``dim`` channels, apply AIFI and CCFF.

    With ``fine_channels`` the encoder takes a fourth, stride-4 map first and
    returns a fourth output last: that map through a 3x3 convolution, plus
    the upsampled stride-8 output (one more top-down step, added as in the
    FPN of Lin et al. 2017 rather than fused by a block, because at stride 4
    a fusion block would cost more than the rest of the encoder). It is
    appended rather than woven into the PAN path so that the three usual
    outputs stay as they were and a model trained without it can be
    fine-tuned with it.

    Parameters
    ----------
    in_channels : sequence of 3 int
        Channels of the stride 8, 16, 32 maps.
    dim : int, optional
        Channels of every output map.
    heads, ffn_dim, layers : int, optional
        Size of the AIFI transformer.
    depth : int, optional
        3x3 convolutions per CCFF fusion block.
    dropout : float, optional
        Dropout in AIFI.
    fine_channels : int, optional
        Channels of a stride-4 map to fuse and return as a fourth level.
    """

    def __init__(self, in_channels, *, dim=96, heads=4, ffn_dim=256, layers=1, depth=1, dropout=0.0,
                 fine_channels=None):
        super().__init__()
        self.dim = dim
        self.input_proj = nn.ModuleList([ConvNormAct(c, dim, 1, act=False) for c in in_channels])
        self.aifi = nn.ModuleList([_AIFILayer(dim, heads, ffn_dim, dropout) for _ in range(layers)])
        levels = len(in_channels)
        self.lateral = nn.ModuleList([ConvNormAct(dim, dim, 1) for _ in range(levels - 1)])
        self.top_down = nn.ModuleList([_FusionBlock(2 * dim, dim, depth) for _ in range(levels - 1)])
        self.downsample = nn.ModuleList([ConvNormAct(dim, dim, 3, 2) for _ in range(levels - 1)])
        self.bottom_up = nn.ModuleList([_FusionBlock(2 * dim, dim, depth) for _ in range(levels - 1)])
        self.fine = fine_channels is not None
        if self.fine:
            self.fine_proj = ConvNormAct(fine_channels, dim, 3)
            self.fine_lateral = ConvNormAct(dim, dim, 1)

    def forward(self, features):
        """Fused maps at strides 8, 16, 32 (and 4, last, with a fine level).

        ``features`` are the backbone's maps, finest first.
        """
        fine = None
        if self.fine:
            fine, features = features[0], features[1:]
        maps = [proj(feature) for proj, feature in zip(self.input_proj, features)]
        deepest = maps[-1]
        batch, channels, height, width = deepest.shape
        tokens = deepest.flatten(2).transpose(1, 2)
        position = sincos_position_embedding(height, width, channels, device=deepest.device)
        for layer in self.aifi:
            tokens = layer(tokens, position.to(tokens.dtype))
        maps[-1] = tokens.transpose(1, 2).reshape(batch, channels, height, width)

        # Top-down (FPN): coarse semantics flow to fine maps.
        inner = [maps[-1]]
        for step, index in enumerate(range(len(maps) - 1, 0, -1)):
            high = self.lateral[step](inner[0])
            inner[0] = high
            upsampled = F.interpolate(high, size=maps[index - 1].shape[-2:], mode="nearest")
            inner.insert(0, self.top_down[step](torch.cat([upsampled, maps[index - 1]], dim=1)))
        # Bottom-up (PAN): fine localisation flows back to coarse maps.
        outputs = [inner[0]]
        for index in range(len(maps) - 1):
            down = self.downsample[index](outputs[-1])
            outputs.append(self.bottom_up[index](torch.cat([down, inner[index + 1]], dim=1)))
        if fine is not None:
            fine = self.fine_proj(fine)
            outputs.append(fine + F.interpolate(self.fine_lateral(outputs[0]), size=fine.shape[-2:], mode="nearest"))
        return outputs
