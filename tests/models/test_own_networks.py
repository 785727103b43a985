import pytest
import torch

from crclean.models import build_network


@pytest.mark.parametrize("arch, config", [
    ("transunet", {}),
    ("transunet", {"norm": "batch", "depth": 2}),
    ("unet", {"channels": (8, 16, 32)}),
])
@pytest.mark.parametrize("shape", [(64, 64), (96, 160)])
def test_one_logit_per_pixel_on_any_aligned_size(arch, config, shape):
    network = build_network(arch, config).eval()
    with torch.inference_mode():
        out = network(torch.randn(2, 1, *shape))
    assert out.shape == (2, 1, *shape)
    assert torch.isfinite(out).all()


def test_transunet_small_matches_the_seed_size():
    network = build_network("transunet", {})
    n = sum(p.numel() for p in network.parameters())
    assert 350_000 < n < 500_000  # the seed's TransUNet-small variants had 0.45-0.48 M


def test_transunet_sees_beyond_its_convolutions():
    # The transformer mixes the whole tile: a change far away moves the output.
    torch.manual_seed(0)
    network = build_network("transunet", {"depth": 2}).eval()
    x = torch.randn(1, 1, 128, 128)
    y = x.clone()
    y[..., 120:, 120:] += 10.0
    with torch.inference_mode():
        assert (network(x) - network(y))[..., :16, :16].abs().max() > 0


def test_heads_must_divide_width():
    with pytest.raises(ValueError, match="embed_dim \\(60\\) must be divisible by heads \\(7\\)"):
        build_network("transunet", {"heads": 7})


def test_norm_choice_is_validated():
    with pytest.raises(ValueError, match="norm must be 'group', 'batch' or 'none'"):
        build_network("unet", {"norm": "layer"})


def test_neighbourhood_attention_makes_the_network_translation_equivariant():
    # What seamless tiling needs: away from its borders, a crop gives the
    # same output as the whole tile. Global attention and GroupNorm fail this.
    torch.manual_seed(1)
    image = torch.randn(1, 1, 256, 256)
    results = {}
    for label, config in {"local": {"norm": "batch", "window": 5, "depth": 2},
                          "global": {"norm": "group", "depth": 2}}.items():
        network = build_network("transunet", config).eval()
        with torch.inference_mode():
            whole = network(image)[..., 64:192, 64:192]
            crop = network(image[..., 64:192, 64:192])
        results[label] = (whole - crop)[..., 48:-48, 48:-48].abs().max().item()
    assert results["local"] < 1e-4
    assert results["global"] > 1e-3


def test_window_must_be_odd():
    with pytest.raises(ValueError, match="window must be a positive odd number or None, got 4"):
        build_network("transunet", {"window": 4})
