"""crclean's port of deepCR's mask network must reproduce deepCR itself."""

import numpy as np
import pytest
import torch

from crclean.models import build_network
from crclean.models._deepcr_unet import convert_deepcr_state_dict
from crclean.weights import get_model, load_network

from synthetic import synthetic_exposure


@pytest.mark.parametrize("crclean_name, deepcr_name", [("deepcr-decam", "decam"), ("deepcr-acs-wfc", "ACS-WFC")])
def test_port_matches_deepcr_package_on_a_tile(crclean_name, deepcr_name):
    # deepCR itself is the reference; the [test] extra installs it, so CI always runs this.
    deepcr = pytest.importorskip("deepCR", reason='needs the [deepcr] extra: pip install "crclean[deepcr]"')
    image, _ = synthetic_exposure((256, 256), seed=5)
    reference = deepcr.deepCR(mask=deepcr_name, device="CPU").clean(image, binary=False, segment=False)
    network = load_network(get_model(crclean_name))
    with torch.inference_mode():
        ours = torch.sigmoid(network(torch.from_numpy(image)[None, None]))[0, 0].numpy()
    assert reference.max() > 0.99  # the tile has cosmic rays for the networks to find
    np.testing.assert_allclose(ours, reference, atol=1e-5, rtol=0)


def test_converter_rejects_foreign_checkpoints():
    with pytest.raises(KeyError, match="unexpected key"):
        convert_deepcr_state_dict({"module.down2.weight": torch.zeros(1)})


def test_unknown_architecture_names_known_ones():
    with pytest.raises(ValueError, match="unknown architecture 'resnet'; known: deepcr-unet"):
        build_network("resnet")
