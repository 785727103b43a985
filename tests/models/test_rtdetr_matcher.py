"""Hungarian matching finds the least-cost one-to-one pairing."""

import itertools

import torch

from crclean.models.rtdetr import HungarianMatcher, cxcywh_to_xyxy, generalized_box_iou


def _cost(matcher, logits, boxes, target_boxes):
    prob = logits.sigmoid()[:, [0] * len(target_boxes)]
    positive = matcher.alpha * (1 - prob) ** matcher.gamma * -(prob + 1e-8).log()
    negative = (1 - matcher.alpha) * prob ** matcher.gamma * -(1 - prob + 1e-8).log()
    return (matcher.cost_class * (positive - negative) + matcher.cost_bbox * torch.cdist(boxes, target_boxes, p=1)
            - matcher.cost_giou * generalized_box_iou(cxcywh_to_xyxy(boxes), cxcywh_to_xyxy(target_boxes)))


def test_matcher_is_optimal_against_brute_force():
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(1, 5, 1, generator=gen)
    boxes = torch.rand(1, 5, 2, generator=gen) * 0.6 + 0.2
    boxes = torch.cat([boxes, torch.rand(1, 5, 2, generator=gen) * 0.2 + 0.05], -1)
    targets = [{"labels": torch.zeros(3, dtype=torch.long), "boxes": boxes[0, [4, 1, 2]] + 0.01}]
    matcher = HungarianMatcher()
    rows, cols = matcher({"pred_logits": logits, "pred_boxes": boxes}, targets)[0]
    cost = _cost(matcher, logits[0], boxes[0], targets[0]["boxes"])
    found = cost[rows, cols].sum().item()
    best = min(sum(cost[p, t].item() for t, p in enumerate(perm)) for perm in itertools.permutations(range(5), 3))
    assert abs(found - best) < 1e-5
    assert sorted(zip(cols.tolist(), rows.tolist())) == [(0, 4), (1, 1), (2, 2)]


def test_matcher_handles_images_without_targets():
    outputs = {"pred_logits": torch.zeros(2, 4, 1), "pred_boxes": torch.full((2, 4, 4), 0.5)}
    targets = [{"labels": torch.zeros(0, dtype=torch.long), "boxes": torch.zeros(0, 4)},
               {"labels": torch.zeros(1, dtype=torch.long), "boxes": torch.tensor([[0.5, 0.5, 0.5, 0.5]])}]
    first, second = HungarianMatcher()(outputs, targets)
    assert len(first[0]) == 0 and len(second[0]) == 1
