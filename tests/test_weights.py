import dataclasses
import importlib.util
import shutil

import pytest

from crclean import weights
from crclean.exceptions import ModelError
from crclean.weights import (AUTO_MODELS, DEFAULT_MODEL, MODELS, get_model, load_network, sha256_of, verify_weights,
                             weights_path)


def test_manifest_checksums_match_installed_files():
    for spec in MODELS.values():
        if spec.kind == "network":
            assert sha256_of(weights_path(spec)) == spec.sha256


def test_default_model_is_a_network():
    assert get_model(DEFAULT_MODEL).kind == "network"


def test_auto_maps_each_kind_of_data_to_a_network():
    assert set(AUTO_MODELS) == {"ground", "space"}
    assert all(get_model(name).kind == "network" for name in AUTO_MODELS.values())
    assert DEFAULT_MODEL == AUTO_MODELS["ground"]


def test_unknown_model_lists_known_names():
    with pytest.raises(ModelError, match="unknown model .hst.; choose one of: crclean-ground, crclean-ground-transunet, crclean-space, crclean-space-transunet, deepcr-decam"):
        get_model("hst")


def test_checksum_mismatch_refuses_to_load(tmp_path, monkeypatch):
    spec = get_model("deepcr-decam")
    tampered = tmp_path / "decam.pth"
    shutil.copy(weights_path(spec), tampered)
    with open(tampered, "ab") as handle:
        handle.write(b"\0")
    monkeypatch.setattr(weights, "weights_path", lambda _spec: tampered)
    with pytest.raises(ModelError, match="checksum mismatch for model 'deepcr-decam'"):
        load_network(spec)
    with pytest.raises(ModelError, match="checksum mismatch for model 'deepcr-decam'"):
        verify_weights(spec)  # without loading


def test_missing_deepcr_package_says_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "learned_models" else real(name))
    with pytest.raises(ModelError, match="pip install deepCR"):
        weights_path(get_model("deepcr-decam"))


def test_weights_file_missing_is_reported(tmp_path):
    spec = dataclasses.replace(get_model("deepcr-decam"), package=None, resource="nope.pth")
    with pytest.raises(ModelError, match="not found"):
        weights_path(spec)
