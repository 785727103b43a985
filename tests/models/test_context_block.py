"""The UNet's context block (issue 28): a wider field of view, started from a network without it."""

import torch
from torch import nn

from crclean.models._unet import UNet
from crclean.training.mask._loop import _load_init


def _changed_far_away(network, distance):
    """Does a change ``distance`` px to the right of a pixel move that pixel's output?"""
    # In float64: an untrained network passes the change on at the 1e-9 level, which float32 sums lose on
    # some CPUs; outside the field of view the output stays exactly the same in either precision.
    network = network.double()
    torch.manual_seed(1)
    x = torch.randn(1, 1, 256, 256, dtype=torch.float64)
    y = x.clone()
    y[..., 128, 20 + distance] += 50.0
    with torch.inference_mode():
        return (network(x) - network(y))[0, 0, 128, 20].abs().item() > 0


def test_the_context_block_lets_the_unet_see_beyond_its_convolutions():
    torch.manual_seed(0)
    plain = UNet(channels=[8, 16, 32, 64], norm="batch").eval()
    wide = UNet(channels=[8, 16, 32, 64], norm="batch", context_dilations=[2, 4]).eval()
    nn.init.normal_(wide.context.body[-1].weight, std=0.1)  # as once trained
    # Four levels of 3x3 convolutions see under 60 px to one side here; dilations 2 and 4 at 1/8
    # resolution add up to 48 more.
    assert _changed_far_away(plain, 40) and _changed_far_away(wide, 40)
    assert not _changed_far_away(plain, 70)
    assert _changed_far_away(wide, 70)


def test_a_network_given_the_context_block_starts_where_the_one_before_it_was(tmp_path):
    torch.manual_seed(0)
    before = UNet(channels=[8, 16], norm="batch", psf_inputs=True).eval()
    torch.save(before.state_dict(), tmp_path / "before.pt")
    wide = UNet(channels=[8, 16], norm="batch", psf_inputs=True, context_dilations=[2, 4])
    _load_init(wide, tmp_path / "before.pt")
    wide.eval()
    x = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(wide(x), before(x), rtol=0, atol=0)
        nn.init.normal_(wide.context.body[-1].weight, std=0.1)
        assert not torch.allclose(wide(x), before(x))
    # A state that has the block loads it whole.
    torch.save(wide.state_dict(), tmp_path / "wide.pt")
    again = UNet(channels=[8, 16], norm="batch", psf_inputs=True, context_dilations=[2, 4])
    _load_init(again, tmp_path / "wide.pt")
    torch.testing.assert_close(again.context.body[-1].weight, wide.context.body[-1].weight)
