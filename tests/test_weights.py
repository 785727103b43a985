import dataclasses
import importlib.util
import shutil

import pytest
from extras import requires_deepcr

from crclean import Cleaner, weights
from crclean.exceptions import MissingExtraError, ModelError
from crclean.weights import (AUTO_MODELS, DEFAULT_MODEL, INPAINT_MODELS, MODELS, TASKS, ModelSpec, get_model,
                             load_network, registry, sha256_of, verify_weights, weights_path)


@requires_deepcr
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
    with pytest.raises(ModelError, match=f"unknown model .hst.; choose one of: {', '.join(MODELS)} "):
        get_model("hst")


@requires_deepcr
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
    with pytest.raises(MissingExtraError, match=r"model 'deepcr-decam' needs the weights that ship with the deepCR "
                                                r'package, which is not installed; run `pip install "crclean\[deepcr\]"`'):
        weights_path(get_model("deepcr-decam"))
    with pytest.raises(ModelError, match="crclean.deepcr."):
        Cleaner("deepcr-acs-wfc", device="cpu").load()
    Cleaner("crclean-ground", device="cpu").load()  # crclean's own models need no extra


def test_one_registry_holds_every_model_by_task():
    groups = registry()
    assert list(groups) == list(TASKS) == ["mask", "inpaint", "lens"]
    assert groups["mask"] is MODELS and groups["inpaint"] is INPAINT_MODELS
    assert set(groups["lens"]) == {"rtdetr-lens-v9", "rtdetr-lens-v20"}
    for task, models in groups.items():
        for name, spec in models.items():
            assert isinstance(spec, ModelSpec) and spec.name == name and spec.task == task
            if spec.kind == "network" and spec.package is None:
                # Every shipped checkpoint matches its entry and has a model card beside it.
                assert sha256_of(weights_path(spec)) == spec.sha256, name
                assert weights_path(spec).with_suffix(".md").is_file(), name
    assert all(spec.quality for spec in [*INPAINT_MODELS.values(), *groups["lens"].values()])
    assert all(MODELS[name].quality for name in AUTO_MODELS.values())


def test_the_shipped_weights_are_exactly_the_registered_ones():
    registered = {spec.resource for models in registry().values() for spec in models.values()
                  if spec.kind == "network" and spec.package is None}
    shipped = {path.name for path in weights.SHIPPED_WEIGHTS_DIR.glob("*.pt")}
    assert shipped == registered


def test_one_loader_verifies_every_task(tmp_path, monkeypatch):
    spec = INPAINT_MODELS["crclean-inpaint"]
    tampered = tmp_path / spec.resource
    tampered.write_bytes(weights_path(spec).read_bytes() + b"\0")
    monkeypatch.setattr(weights, "SHIPPED_WEIGHTS_DIR", tmp_path)
    with pytest.raises(ModelError, match="checksum mismatch for model 'crclean-inpaint'"):
        load_network(spec)
    from crclean.lenses import get_lens_model

    with pytest.raises(ModelError, match="weights of lens model 'rtdetr-lens-v9' not found"):
        load_network(get_lens_model("rtdetr-lens-v9"))


def test_weights_file_missing_is_reported(tmp_path):
    spec = dataclasses.replace(get_model("deepcr-decam"), package=None, resource="nope.pth")
    with pytest.raises(ModelError, match="not found"):
        weights_path(spec)


def test_a_verified_checkpoint_is_not_hashed_again_until_it_changes(tmp_path, monkeypatch):
    import os

    spec = INPAINT_MODELS["crclean-inpaint"]
    copy = tmp_path / spec.resource
    copy.write_bytes(weights_path(spec).read_bytes())
    monkeypatch.setattr(weights, "SHIPPED_WEIGHTS_DIR", tmp_path)
    monkeypatch.setattr(weights, "_VERIFIED", {})
    hashed = []
    real = weights.sha256_of
    monkeypatch.setattr(weights, "sha256_of", lambda path: hashed.append(path) or real(path))
    verify_weights(spec)
    load_network(spec)  # a batch verifies, then loads: one hash
    assert hashed == [copy]
    # The same size, another byte in the middle, a new modification time: hashed again, and refused.
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    stamp = os.stat(copy).st_mtime_ns + 1_000_000_000
    os.utime(copy, ns=(stamp, stamp))
    with pytest.raises(ModelError, match="checksum mismatch for model 'crclean-inpaint'"):
        load_network(spec)
    assert len(hashed) == 2
    # The intact file put back (a new file) is hashed once more, then trusted again.
    copy.unlink()
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    verify_weights(spec)
    verify_weights(spec)
    assert len(hashed) == 3
