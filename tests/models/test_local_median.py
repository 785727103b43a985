"""The median plane a mask network can be given (issue 28): what it keeps, what it drops, how it starts."""

import numpy as np
import pytest
import torch

from crclean.models._local_median import local_median
from crclean.models._unet import UNet
from crclean.training.mask._loop import _load_init


def _galaxy(size=64):
    yy, xx = np.indices((size, size), dtype=np.float32) - size / 2
    return 3.0 * np.exp(-0.5 * (xx**2 + (yy / 0.7) ** 2) / 6.0**2) + 0.01 * xx


def _track(size, angle, width):
    """A straight track through the centre, ``width`` px across, at ``angle`` radians from the rows."""
    yy, xx = np.indices((size, size), dtype=np.float32) - size / 2
    across = np.abs(-xx * np.sin(angle) + yy * np.cos(angle))
    return (across < width / 2).astype(np.float32)


def test_the_median_keeps_a_galaxys_light_and_drops_narrow_tracks_in_every_direction():
    smooth = _galaxy()
    inner = np.s_[8:-8, 8:-8]
    # Within 5% of the peak: a median takes a little off a curved core.
    assert np.abs(local_median(torch.from_numpy(smooth)[None, None])[0, 0].numpy() - smooth)[inner].max() < 0.15
    # Along an axis a 2 px wide track covers 2 of each 5 px column; across the axes 1.2 px covers 1-2 of each row.
    for angle, width in ((0.0, 2.0), (np.pi / 2, 2.0), (np.pi / 4, 1.2), (0.3, 1.2)):
        track = _track(64, angle, width)
        hit = torch.from_numpy(smooth + 5.0 * track)[None, None]
        median = local_median(hit)[0, 0].numpy()
        # The median under the track is the galaxy's light, not the hit's 5 units.
        assert np.abs(median - smooth)[inner][track[inner] > 0].max() < 0.5, angle
    # Wider than half the window, it is light, and stays: 3 px across the diagonal, or 7 px along a row.
    assert local_median(torch.from_numpy(smooth + 5.0 * _track(64, np.pi / 4, 2.0))[None, None])[0, 0, 32, 32] > 5.0
    wide = torch.from_numpy(smooth + 5.0 * _track(64, 0.0, 7.0))[None, None]
    assert local_median(wide)[0, 0, 32, 32] > smooth[32, 32] + 4.0


def test_the_median_keeps_shape_and_refuses_an_even_window():
    x = torch.randn(2, 3, 17, 23)
    assert local_median(x).shape == x.shape
    with pytest.raises(ValueError, match="odd"):
        local_median(x, size=4)


def _first_conv_inputs(network, x, psf_shape):
    seen = []
    handle = network.encoders[0][0].register_forward_hook(lambda module, args, out: seen.append(args[0]))
    network(x, psf_shape=psf_shape)
    handle.remove()
    return seen[0]


def test_a_unet_with_the_median_plane_sees_it_last_and_starts_from_the_network_it_was_initialised_from(tmp_path):
    torch.manual_seed(0)
    kwargs = {"channels": (8, 16), "norm": "batch", "psf_inputs": True, "psf_skew": True}
    before = UNet(**kwargs).eval()
    for parameter in before.parameters():
        parameter.data.normal_(0.0, 0.3)
    path = tmp_path / "before.pt"
    torch.save(before.state_dict(), path)
    after = UNet(**kwargs, median_plane=True).eval()
    _load_init(after, path)

    x, psf_shape = torch.randn(2, 1, 32, 32), 0.1 * torch.randn(2, 6)
    planes = _first_conv_inputs(after, x, psf_shape)
    assert planes.shape[1] == 1 + 6 + 1
    torch.testing.assert_close(planes[:, -1:], local_median(x))
    torch.testing.assert_close(after(x, psf_shape=psf_shape), before(x, psf_shape=psf_shape))
    # Once its weights move, the plane changes the output.
    with torch.no_grad():
        after.encoders[0][0].weight[:, -1] += 0.5
    assert not torch.allclose(after(x, psf_shape=psf_shape), before(x, psf_shape=psf_shape))
