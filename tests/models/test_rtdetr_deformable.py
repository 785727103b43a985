"""Multi-scale deformable attention in plain PyTorch: values, shapes, gradients."""

import torch

from crclean.models.rtdetr._deformable import MultiScaleDeformableAttention, deformable_attention_core


def test_core_samples_values_at_pixel_centres():
    # One level 4x4, one head of dim 1: value = x + 10 y at pixel (x, y).
    yy, xx = torch.meshgrid(torch.arange(4.0), torch.arange(4.0), indexing="ij")
    value = (xx + 10 * yy).reshape(1, 16, 1, 1)
    # Centre of pixel (x=2, y=1) in [0, 1] map coordinates is ((2 + 0.5) / 4, (1 + 0.5) / 4).
    locations = torch.tensor([2.5 / 4, 1.5 / 4]).view(1, 1, 1, 1, 1, 2)
    weights = torch.ones(1, 1, 1, 1, 1)
    out = deformable_attention_core(value, [(4, 4)], locations, weights)
    assert out.shape == (1, 1, 1)
    assert torch.allclose(out, torch.tensor(12.0))
    # Halfway between pixels (1, 1) and (2, 1): bilinear interpolation.
    halfway = torch.tensor([2.0 / 4, 1.5 / 4]).view(1, 1, 1, 1, 1, 2)
    assert torch.allclose(deformable_attention_core(value, [(4, 4)], halfway, weights), torch.tensor(11.5))


def test_module_shapes_and_gradients():
    torch.manual_seed(0)
    attention = MultiScaleDeformableAttention(32, heads=4, levels=3, points=2)
    # The offset and weight projections start at zero (Zhu et al. 2021); move them off it so
    # that the query's gradient is not zero by construction.
    for layer in (attention.sampling_offsets, attention.attention_weights):
        torch.nn.init.normal_(layer.weight, std=0.05)
    shapes = [(8, 8), (4, 4), (2, 2)]
    memory = torch.randn(2, sum(h * w for h, w in shapes), 32, requires_grad=True)
    query = torch.randn(2, 5, 32, requires_grad=True)
    reference = torch.rand(2, 5, 4) * 0.5 + 0.25
    out = attention(query, reference, memory, shapes)
    assert out.shape == (2, 5, 32)
    out.square().sum().backward()
    assert memory.grad.abs().sum() > 0 and query.grad.abs().sum() > 0
    assert attention.sampling_offsets.weight.grad.abs().sum() > 0  # offsets learn through grid_sample


def test_module_rejects_wrong_number_of_levels():
    attention = MultiScaleDeformableAttention(16, heads=2, levels=3, points=1)
    try:
        attention(torch.zeros(1, 1, 16), torch.full((1, 1, 4), 0.5), torch.zeros(1, 4, 16), [(2, 2)])
    except ValueError as error:
        assert "expected 3 feature levels" in str(error)
    else:
        raise AssertionError("no ValueError")
