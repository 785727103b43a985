"""Box conversions, IoU and GIoU against hand-computed values."""

import pytest
import torch

from crclean.models.rtdetr import box_iou, cxcywh_to_xyxy, generalized_box_iou, xyxy_to_cxcywh


def test_conversions_round_trip_and_values():
    cxcywh = torch.tensor([[0.5, 0.4, 0.2, 0.6]])
    xyxy = cxcywh_to_xyxy(cxcywh)
    assert torch.allclose(xyxy, torch.tensor([[0.4, 0.1, 0.6, 0.7]]))
    assert torch.allclose(xyxy_to_cxcywh(xyxy), cxcywh)


def test_iou_hand_computed():
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    b = torch.tensor([[1.0, 1.0, 3.0, 3.0], [2.0, 0.0, 4.0, 2.0], [0.0, 0.0, 2.0, 2.0]])
    iou, union = box_iou(a, b)
    # overlap 1, union 4 + 4 - 1 = 7; touching edges: 0; identical: 1
    assert torch.allclose(iou, torch.tensor([[1 / 7, 0.0, 1.0]]))
    assert torch.allclose(union, torch.tensor([[7.0, 8.0, 4.0]]))


def test_giou_hand_computed():
    a = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    b = torch.tensor([[2.0, 0.0, 3.0, 1.0]])
    # IoU 0; enclosing box 3 x 1 = 3, union 2: GIoU = 0 - (3 - 2) / 3
    assert generalized_box_iou(a, b).item() == pytest.approx(-1 / 3)


def test_giou_properties():
    gen = torch.Generator().manual_seed(0)
    corners = torch.rand(20, 2, generator=gen)
    boxes = torch.cat([corners, corners + 0.05 + torch.rand(20, 2, generator=gen)], 1)
    giou = generalized_box_iou(boxes, boxes)
    iou, _ = box_iou(boxes, boxes)
    assert torch.allclose(torch.diag(giou), torch.ones(20))  # identical boxes: 1
    assert torch.allclose(giou, giou.T, atol=1e-6)  # symmetric
    assert (giou <= iou + 1e-6).all() and (giou > -1).all()  # bounded by IoU, above -1
    far = generalized_box_iou(torch.tensor([[0.0, 0.0, 0.01, 0.01]]), torch.tensor([[0.99, 0.99, 1.0, 1.0]]))
    assert far.item() < -0.99  # tiny boxes far apart approach -1


def test_giou_has_gradient_without_overlap():
    a = torch.tensor([[0.0, 0.0, 1.0, 1.0]], requires_grad=True)
    b = torch.tensor([[2.0, 0.0, 3.0, 1.0]])
    generalized_box_iou(a, b).sum().backward()
    assert a.grad.abs().sum() > 0
