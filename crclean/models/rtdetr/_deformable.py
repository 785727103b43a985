"""Multi-scale deformable attention in plain PyTorch (``F.grid_sample``).

Each query attends to a handful of sampling points per head and per feature
level around its reference box instead of to every pixel (Zhu et al. 2021).
RT-DETR uses boxes as references: the learnt offsets are scaled by the box's
half width and height (Zhao et al. 2024). The CUDA kernel of the original
papers is replaced by bilinear ``grid_sample`` calls, one per level, which is
exact and runs on any device.

References
----------
Zhu, X. et al. 2021, "Deformable DETR: Deformable Transformers for End-to-End
Object Detection", ICLR.
Zhao, Y. et al. 2024, "DETRs Beat YOLOs on Real-time Object Detection", CVPR.
"""

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MultiScaleDeformableAttention", "deformable_attention_core"]


def deformable_attention_core(value, spatial_shapes, sampling_locations, attention_weights):
    """Sample and weight values at fractional locations.

    Parameters
    ----------
    value : torch.Tensor
        ``(B, S, heads, head_dim)`` with ``S = sum(h * w)`` over levels.
    spatial_shapes : list of (int, int)
        ``(h, w)`` of each level, in the order they are stacked in ``value``.
    sampling_locations : torch.Tensor
        ``(B, Q, heads, levels, points, 2)``, ``(x, y)`` in [0, 1] of the map.
    attention_weights : torch.Tensor
        ``(B, Q, heads, levels, points)``, summing to one over levels and points.

    Returns
    -------
    torch.Tensor
        ``(B, Q, heads * head_dim)``.
    """
    batch, _, heads, head_dim = value.shape
    _, queries, _, levels, points, _ = sampling_locations.shape
    sizes = [h * w for h, w in spatial_shapes]
    grids = 2.0 * sampling_locations - 1.0  # grid_sample wants [-1, 1]
    sampled = []
    for level, (value_level, (height, width)) in enumerate(zip(value.split(sizes, dim=1), spatial_shapes)):
        # (B, hw, heads, d) -> (B*heads, d, h, w)
        value_level = value_level.permute(0, 2, 3, 1).reshape(batch * heads, head_dim, height, width)
        grid = grids[:, :, :, level].transpose(1, 2).reshape(batch * heads, queries, points, 2)
        sampled.append(F.grid_sample(value_level, grid, mode="bilinear", padding_mode="zeros",
                                     align_corners=False))  # (B*heads, d, Q, points)
    stacked = torch.stack(sampled, dim=-2).flatten(-2)  # (B*heads, d, Q, levels*points)
    weights = attention_weights.transpose(1, 2).reshape(batch * heads, 1, queries, levels * points)
    output = (stacked * weights).sum(-1).view(batch, heads * head_dim, queries)
    return output.transpose(1, 2)


class MultiScaleDeformableAttention(nn.Module):
    """Deformable cross-attention from queries to a multi-scale memory.

    Parameters
    ----------
    dim : int
        Channels of queries and memory.
    heads, levels, points : int, optional
        Attention heads, feature levels, and sampling points per head and level.
    """

    def __init__(self, dim, *, heads=4, levels=3, points=4):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
        self.heads, self.levels, self.points = heads, levels, points
        self.sampling_offsets = nn.Linear(dim, heads * levels * points * 2)
        self.attention_weights = nn.Linear(dim, heads * levels * points)
        self.value_proj = nn.Linear(dim, dim)
        self.output_proj = nn.Linear(dim, dim)
        self._reset_parameters()

    def _reset_parameters(self):
        # Start with points spread on rays around the reference, as in Deformable DETR.
        nn.init.zeros_(self.sampling_offsets.weight)
        angles = torch.arange(self.heads, dtype=torch.float32) * (2.0 * torch.pi / self.heads)
        rays = torch.stack([angles.cos(), angles.sin()], -1)
        rays = rays / rays.abs().max(-1, keepdim=True).values
        rays = rays.view(self.heads, 1, 1, 2).repeat(1, self.levels, self.points, 1)
        rays = rays * torch.arange(1, self.points + 1, dtype=torch.float32).view(1, 1, -1, 1)
        with torch.no_grad():
            self.sampling_offsets.bias.copy_(rays.flatten())
        nn.init.zeros_(self.attention_weights.weight)
        nn.init.zeros_(self.attention_weights.bias)
        nn.init.xavier_uniform_(self.value_proj.weight)
        nn.init.zeros_(self.value_proj.bias)
        nn.init.xavier_uniform_(self.output_proj.weight)
        nn.init.zeros_(self.output_proj.bias)

    def forward(self, query, reference_boxes, memory, spatial_shapes):
        """Attend.

        Parameters
        ----------
        query : torch.Tensor
            ``(B, Q, dim)``.
        reference_boxes : torch.Tensor
            ``(B, Q, 4)`` normalised ``(cx, cy, w, h)``.
        memory : torch.Tensor
            ``(B, S, dim)``, the flattened levels.
        spatial_shapes : list of (int, int)

        Returns
        -------
        torch.Tensor
            ``(B, Q, dim)``.
        """
        batch, queries, dim = query.shape
        heads, levels, points = self.heads, self.levels, self.points
        if len(spatial_shapes) != levels:
            raise ValueError(f"expected {levels} feature levels, got {len(spatial_shapes)}")
        value = self.value_proj(memory).view(batch, memory.shape[1], heads, dim // heads)
        offsets = self.sampling_offsets(query).view(batch, queries, heads, levels, points, 2)
        weights = self.attention_weights(query).view(batch, queries, heads, levels * points)
        weights = weights.softmax(-1).view(batch, queries, heads, levels, points)
        centre = reference_boxes[:, :, None, None, None, :2]
        half_size = reference_boxes[:, :, None, None, None, 2:]
        locations = centre + offsets / points * half_size * 0.5
        return self.output_proj(deformable_attention_core(value, spatial_shapes, locations, weights))
