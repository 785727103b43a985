"""RT-DETR's decoder: IoU-aware query selection, deformable decoder, denoising.

* Query selection (Zhao et al. 2024, sec. 4.3): every encoder pixel proposes a
  box around its anchor and a score; the top-``num_queries`` become the
  decoder's initial queries and reference boxes. The varifocal loss trains
  these scores to predict IoU, so high scores mean well-placed boxes.
* Decoder layers: self-attention among queries, multi-scale deformable
  cross-attention (Zhu et al. 2021), FFN; each layer refines its box
  (iterative refinement, gradients stopped between layers).
* Denoising (Li et al. 2022; Zhang et al. 2023 "DINO"): in training, noisy
  copies of the true boxes (positives) and farther ones (negatives) are
  decoded beside the matching queries, an attention mask keeping them apart;
  this speeds up and stabilises DETR training.

References
----------
Carion, N. et al. 2020, "End-to-End Object Detection with Transformers", ECCV.
Zhu, X. et al. 2021, "Deformable DETR", ICLR.
Li, F. et al. 2022, "DN-DETR: Accelerate DETR Training by Introducing Query DeNoising", CVPR.
Zhang, H. et al. 2023, "DINO: DETR with Improved DeNoising Anchor Boxes", ICLR.
Zhao, Y. et al. 2024, "DETRs Beat YOLOs on Real-time Object Detection", CVPR.
"""

import torch
from torch import nn

from crclean.models.rtdetr._box_ops import cxcywh_to_xyxy, xyxy_to_cxcywh
from crclean.models.rtdetr._deformable import MultiScaleDeformableAttention

__all__ = ["RTDETRDecoder", "inverse_sigmoid"]


def inverse_sigmoid(x, eps=1e-5):
    """``logit(x)`` with ``x`` clipped away from 0 and 1."""
    x = x.clamp(0.0, 1.0)
    return torch.log(x.clamp(min=eps) / (1.0 - x).clamp(min=eps))


def _mlp(in_dim, hidden, out_dim, layers):
    dims = [in_dim] + [hidden] * (layers - 1) + [out_dim]
    modules = []
    for index in range(layers):
        modules.append(nn.Linear(dims[index], dims[index + 1]))
        if index < layers - 1:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


class _DecoderLayer(nn.Module):
    def __init__(self, dim, heads, ffn_dim, levels, points, dropout):
        super().__init__()
        self.self_attention = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.cross_attention = MultiScaleDeformableAttention(dim, heads=heads, levels=levels, points=points)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ffn_dim, dim))
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, target, reference_boxes, memory, spatial_shapes, attn_mask, query_pos):
        query = target + query_pos
        attended, _ = self.self_attention(query, query, target, attn_mask=attn_mask, need_weights=False)
        target = self.norm1(target + self.dropout(attended))
        crossed = self.cross_attention(target + query_pos, reference_boxes, memory, spatial_shapes)
        target = self.norm2(target + self.dropout(crossed))
        return self.norm3(target + self.dropout(self.ffn(target)))


class RTDETRDecoder(nn.Module):
    """Query selection + deformable decoder (+ denoising in training).

    Parameters
    ----------
    dim : int
        Channels of the encoder maps and queries.
    num_classes : int, optional
        Object classes (1: lens).
    num_queries : int, optional
        Queries kept by query selection.
    layers, heads, ffn_dim, points : int, optional
        Decoder size; ``points`` sampling points per head and level.
    levels : int, optional
        Encoder maps the decoder layers attend to.
    query_levels : int, optional
        How many of them (the first) propose the initial queries; default
        all. The others (a fine stride-4 map) only give the decoder detail
        to look at, so they neither crowd the top-k nor add thousands of
        anchors.
    num_denoising : int, optional
        Positive denoising queries per image in training (as many negatives
        are added; 0 turns denoising off).
    box_noise_scale : float, optional
        Box noise of denoising queries, in units of half the box size.
    dropout : float, optional
    """

    def __init__(self, dim, *, num_classes=1, num_queries=30, layers=3, heads=4, ffn_dim=512, points=4,
                 levels=3, query_levels=None, num_denoising=20, box_noise_scale=1.0, dropout=0.0):
        super().__init__()
        self.dim, self.num_classes, self.num_queries = dim, num_classes, num_queries
        self.query_levels = levels if query_levels is None else query_levels
        if not 1 <= self.query_levels <= levels:
            raise ValueError(f"query_levels must be 1 to levels ({levels}), got {query_levels!r}")
        self.levels, self.num_denoising, self.box_noise_scale = levels, num_denoising, box_noise_scale
        self.input_proj = nn.ModuleList([nn.Sequential(nn.Conv2d(dim, dim, 1, bias=False), nn.BatchNorm2d(dim))
                                         for _ in range(levels)])
        self.enc_output = nn.Sequential(nn.Linear(dim, dim), nn.LayerNorm(dim))
        self.enc_score_head = nn.Linear(dim, num_classes)
        self.enc_bbox_head = _mlp(dim, dim, 4, 3)
        self.query_pos_head = _mlp(4, 2 * dim, dim, 2)
        self.denoising_class_embed = nn.Embedding(num_classes + 1, dim, padding_idx=num_classes)
        self.layers = nn.ModuleList([_DecoderLayer(dim, heads, ffn_dim, levels, points, dropout)
                                     for _ in range(layers)])
        self.score_heads = nn.ModuleList([nn.Linear(dim, num_classes) for _ in range(layers)])
        self.bbox_heads = nn.ModuleList([_mlp(dim, dim, 4, 3) for _ in range(layers)])
        prior = -torch.log(torch.tensor((1 - 0.01) / 0.01)).item()  # start scores at p = 0.01
        for head in [self.enc_score_head, *self.score_heads]:
            nn.init.constant_(head.bias, prior)
        for head in [self.enc_bbox_head, *self.bbox_heads]:
            nn.init.zeros_(head[-1].weight)
            nn.init.zeros_(head[-1].bias)

    @staticmethod
    def _anchors(spatial_shapes, device, grid_size=0.05, eps=0.01):
        anchors = []
        for level, (height, width) in enumerate(spatial_shapes):
            yy, xx = torch.meshgrid(torch.arange(height, device=device, dtype=torch.float32),
                                    torch.arange(width, device=device, dtype=torch.float32), indexing="ij")
            centre = torch.stack([(xx + 0.5) / width, (yy + 0.5) / height], -1)
            size = torch.full_like(centre, grid_size * 2.0 ** level)
            anchors.append(torch.cat([centre, size], -1).reshape(-1, 4))
        anchors = torch.cat(anchors)[None]
        valid = ((anchors > eps) & (anchors < 1 - eps)).all(-1, keepdim=True)
        return torch.where(valid, inverse_sigmoid(anchors), torch.full_like(anchors, float("inf"))), valid

    def _denoising(self, targets, device):
        """Noisy queries, their reference boxes, the attention mask and bookkeeping."""
        counts = [len(target["labels"]) for target in targets]
        max_gt = max(counts) if counts else 0
        if self.num_denoising <= 0 or max_gt == 0:
            return None
        groups = max(1, self.num_denoising // max_gt)
        batch = len(targets)
        labels = torch.full((batch, max_gt), self.num_classes, dtype=torch.long, device=device)
        boxes = torch.zeros(batch, max_gt, 4, device=device)
        for index, target in enumerate(targets):
            if counts[index]:
                labels[index, :counts[index]] = target["labels"]
                boxes[index, :counts[index]] = target["boxes"]
        # Per group: max_gt positives then max_gt negatives.
        labels = labels.repeat(1, 2 * groups)
        boxes = boxes.repeat(1, 2 * groups, 1)
        negative = torch.zeros(batch, 2 * max_gt, 1, device=device)
        negative[:, max_gt:] = 1.0
        negative = negative.repeat(1, groups, 1)
        xyxy = cxcywh_to_xyxy(boxes)
        half = boxes[..., 2:].repeat(1, 1, 2) * 0.5 * self.box_noise_scale
        sign = torch.randint(0, 2, xyxy.shape, device=device).float() * 2.0 - 1.0
        magnitude = torch.rand_like(xyxy) + negative  # positives in [0, 1), negatives in [1, 2)
        xyxy = (xyxy + sign * magnitude * half).clamp(0.0, 1.0)
        noisy = xyxy_to_cxcywh(xyxy)
        noisy[..., 2:] = noisy[..., 2:].clamp(min=1e-3)
        num_dn = 2 * max_gt * groups
        total = num_dn + self.num_queries
        mask = torch.zeros(total, total, dtype=torch.bool, device=device)
        mask[num_dn:, :num_dn] = True  # matching queries never see the answers
        size = 2 * max_gt
        for group in range(groups):
            start, stop = group * size, (group + 1) * size
            mask[start:stop, :start] = True
            mask[start:stop, stop:num_dn] = True
        positive_index = [torch.cat([torch.arange(counts[b], device=device) + group * size for group in range(groups)])
                          for b in range(batch)]
        meta = {"num_dn": num_dn, "groups": groups, "positive_index": positive_index, "counts": counts}
        return self.denoising_class_embed(labels), inverse_sigmoid(noisy), mask, meta

    def forward(self, features, targets=None):
        """Decode encoder maps into scored boxes.

        Returns
        -------
        dict
            ``pred_logits`` ``(B, Q, classes)`` and ``pred_boxes`` ``(B, Q, 4)``
            (normalised cxcywh); in training also ``aux_outputs``,
            ``enc_outputs``, and ``dn_outputs`` with ``dn_meta``.
        """
        projected = [proj(feature) for proj, feature in zip(self.input_proj, features)]
        spatial_shapes = [tuple(feature.shape[-2:]) for feature in projected]
        memory = torch.cat([feature.flatten(2).transpose(1, 2) for feature in projected], 1)
        query_shapes = spatial_shapes[:self.query_levels]
        proposals = memory[:, :sum(height * width for height, width in query_shapes)]

        anchors, valid = self._anchors(query_shapes, memory.device)
        output_memory = self.enc_output(torch.where(valid, proposals, torch.zeros_like(proposals)))
        enc_logits = self.enc_score_head(output_memory)
        enc_boxes_unact = self.enc_bbox_head(output_memory) + anchors
        k = min(self.num_queries, proposals.shape[1])
        top = enc_logits.max(-1).values.topk(k, dim=1).indices

        def gather(tensor):
            return tensor.gather(1, top[..., None].expand(-1, -1, tensor.shape[-1]))

        reference_unact = gather(enc_boxes_unact)
        enc_topk_boxes, enc_topk_logits = reference_unact.sigmoid(), gather(enc_logits)
        target = gather(output_memory).detach()
        reference_unact = reference_unact.detach()

        denoising = self._denoising(targets, memory.device) if (self.training and targets is not None) else None
        attn_mask, meta = None, None
        if denoising is not None:
            dn_target, dn_reference, attn_mask, meta = denoising
            target = torch.cat([dn_target, target], 1)
            reference_unact = torch.cat([dn_reference, reference_unact], 1)

        all_logits, all_boxes = [], []
        reference = reference_unact.sigmoid()
        for layer, score_head, bbox_head in zip(self.layers, self.score_heads, self.bbox_heads):
            query_pos = self.query_pos_head(reference)
            target = layer(target, reference, memory, spatial_shapes, attn_mask, query_pos)
            boxes = (bbox_head(target) + inverse_sigmoid(reference)).sigmoid()
            all_logits.append(score_head(target))
            all_boxes.append(boxes)
            reference = boxes.detach()

        num_dn = meta["num_dn"] if meta else 0
        outputs = {"pred_logits": all_logits[-1][:, num_dn:], "pred_boxes": all_boxes[-1][:, num_dn:]}
        if self.training:
            outputs["aux_outputs"] = [{"pred_logits": lg[:, num_dn:], "pred_boxes": bx[:, num_dn:]}
                                      for lg, bx in zip(all_logits[:-1], all_boxes[:-1])]
            outputs["enc_outputs"] = {"pred_logits": enc_topk_logits, "pred_boxes": enc_topk_boxes}
            if meta:
                outputs["dn_outputs"] = [{"pred_logits": lg[:, :num_dn], "pred_boxes": bx[:, :num_dn]}
                                         for lg, bx in zip(all_logits, all_boxes)]
                outputs["dn_meta"] = meta
        return outputs
