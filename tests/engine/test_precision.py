"""--precision: autocast arithmetic for the mask networks, and auto's choice from the CPU's flags."""

import numpy as np
import pytest

from crclean.weights import get_model
import torch
from click.testing import CliRunner
from astropy.io import fits

from crclean import Cleaner, _precision
from crclean._precision import (MASK_TOLERANCE, CpuFeatures, _parse_cpuinfo, cpu_features, masks_agree,
                                native_bfloat16, resolve_precision)
from crclean.cli import main

SAPPHIRE_RAPIDS = CpuFeatures("Intel(R) Xeon(R) Platinum 8480+", frozenset(
    "fpu sse2 avx avx2 avx512f avx512bw avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8".split()))
COOPER_LAKE = CpuFeatures("Intel(R) Xeon(R) Gold 6348H", frozenset("avx2 avx512f avx512_bf16".split()))
SKYLAKE = CpuFeatures("Intel(R) Xeon(R) Gold 6148", frozenset("avx2 avx512f avx512bw".split()))
EPYC = CpuFeatures("AMD EPYC 7B12", frozenset("avx avx2 fma sha_ni".split()))
UNKNOWN = CpuFeatures("arm64", frozenset())


@pytest.fixture
def cpu(monkeypatch):
    """Pretend to run on the given CPU, with PyTorch dispatching AVX-512 kernels unless told otherwise."""
    def use(features, capability="AVX512"):
        monkeypatch.setattr(_precision, "cpu_features", lambda: features)
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    return use


def test_cpuinfo_gives_the_model_and_flags_of_the_first_processor():
    text = ("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\n"
            "flags\t\t: fpu avx2 avx512f amx_bf16\n\nprocessor\t: 1\nmodel name\t: other\nflags\t\t: fpu\n")
    features = _parse_cpuinfo(text)
    assert features.model == "Intel(R) Xeon(R) Processor"
    assert features.flags == {"fpu", "avx2", "avx512f", "amx_bf16"}
    assert features.summary() == "Intel(R) Xeon(R) Processor (avx2, avx512f, amx_bf16)"


def test_without_cpuinfo_nothing_is_assumed(tmp_path):
    features = cpu_features(str(tmp_path / "no-such-file"))
    assert features.flags == frozenset()
    assert not native_bfloat16(features, "AVX512")
    assert "none of avx2" in features.summary()


@pytest.mark.parametrize("features, capability, expected", [
    (SAPPHIRE_RAPIDS, "AVX512", True),   # AMX
    (COOPER_LAKE, "AVX512", True),       # AVX512_BF16 without AMX
    (SKYLAKE, "AVX512", False),          # AVX-512, but bfloat16 only emulated
    (EPYC, "AVX2", False),
    (SAPPHIRE_RAPIDS, "AVX2", False),    # PyTorch held to AVX2 kernels (ATEN_CPU_CAPABILITY=avx2)
    (UNKNOWN, "DEFAULT", False),
])
def test_native_bfloat16_is_read_from_the_cpu_flags(features, capability, expected):
    assert native_bfloat16(features, capability) is expected


@pytest.mark.parametrize("features, expected", [
    (SAPPHIRE_RAPIDS, torch.bfloat16), (COOPER_LAKE, torch.bfloat16), (SKYLAKE, None), (EPYC, None),
])
def test_auto_on_the_cpu_is_bfloat16_only_where_it_is_native(cpu, features, expected):
    cpu(features, "AVX2" if features is EPYC else "AVX512")
    assert resolve_precision("auto", torch.device("cpu")) == expected
    # A model not cleared for bfloat16 stays in float32 everywhere.
    assert resolve_precision("auto", torch.device("cpu"), cpu_bfloat16=False) is None


@pytest.mark.parametrize("precision, device, expected", [
    ("auto", "cuda", torch.float16), ("float32", "cuda", None), ("float32", "cpu", None),
    ("float16", "cpu", torch.float16), ("bfloat16", "cpu", torch.bfloat16),
])
def test_named_precisions_resolve_whatever_the_cpu(cpu, precision, device, expected):
    cpu(EPYC, "AVX2")
    assert resolve_precision(precision, torch.device(device)) == expected


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision must be one of: auto, float32, float16, bfloat16"):
        Cleaner("crclean-ground", precision="float8")


def test_mask_agreement_counts_flips_against_the_tolerance():
    reference = np.zeros((10, 100), np.float32)
    reference[0] = 0.9                          # 100 flagged pixels
    other = reference.copy()
    other[0, 0] = 0.45                          # one flips, though float32 was sure (0.4 from the threshold)
    agree, figures = masks_agree(reference, other)
    assert figures == {"flagged": 100, "flipped": 1, "flipped_share": 0.01,
                       "largest_flip_margin": pytest.approx(0.4), "max_probability_difference": pytest.approx(0.45)}
    assert not agree
    reference[0, 0] = 0.55                      # near the threshold: a flip within the tolerance
    assert masks_agree(reference, other)[0]
    other[0, 1:3] = 0.45
    reference[0, 1:3] = 0.52                    # 3 of 100 flipped: over 1%
    assert not masks_agree(reference, other)[0]
    other[1, :] = 0.3                           # large differences that flip nothing do not count
    assert masks_agree(reference[:2, :1], other[:2, :1]) == (True, {
        "flagged": 1, "flipped": 1, "flipped_share": 1.0, "largest_flip_margin": pytest.approx(0.05),
        "max_probability_difference": pytest.approx(0.3)})


def test_half_precision_keeps_the_mask():
    from synthetic import synthetic_exposure

    image, _ = synthetic_exposure((150, 200), seed=5)
    full = Cleaner("crclean-ground", inpaint=None, device="cpu", precision="float32").clean_array(image)
    half = Cleaner("crclean-ground", inpaint=None, device="cpu", precision="float16").clean_array(image)
    assert full.n_flagged > 50
    # The tolerance the docs state for float16 (0.006 measured; 0.01 allowed).
    assert np.abs(full.probability - half.probability).max() < 0.01
    assert (full.mask != half.mask).sum() <= 1


@pytest.mark.parametrize("model", ["crclean-ccd", "crclean-ground"])
def test_bfloat16_masks_agree_with_float32_within_the_stated_tolerance(model):
    from synthetic import synthetic_exposure

    image, truth = synthetic_exposure((300, 400), seed=11, n_rays=60)
    full = Cleaner(model, inpaint=None, device="cpu", precision="float32").clean_array(image)
    bf16 = Cleaner(model, inpaint=None, device="cpu", precision="bfloat16").clean_array(image)
    assert full.n_flagged > 100 and (full.mask & truth).sum() > 0.5 * full.n_flagged
    agree, figures = masks_agree(full.probability, bf16.probability)
    assert figures["max_probability_difference"] > 0  # it did run in bfloat16
    # auto runs a model in bfloat16 only if it meets the tolerance. crclean-ccd-v12 met it here with
    # its encoder blocks down to 1/4 resolution in float32 (1 of 377 mask pixels flipped; with only the
    # input block in float32, 9: 2.4%), so it was cleared with those blocks (`ModelSpec.float32_blocks`);
    # v15, told the PSF's shape, flipped 1 of 526 with the same blocks; v28, told its coma and trefoil too, 0 of 289.
    assert agree or not get_model(model).cpu_bfloat16, figures
    assert MASK_TOLERANCE == {"flipped_share": 0.01, "flip_margin": 0.1}  # as docs/usage.md states


def _history_after_mask(tmp_path, *options):
    """The HISTORY that ``crclean mask`` writes for a small exposure with ``options``."""
    from synthetic import synthetic_exposure

    image, _ = synthetic_exposure((64, 64), seed=6)
    source, out = tmp_path / "in.fits", tmp_path / "out.fits"
    fits.writeto(source, image, overwrite=True)
    result = CliRunner().invoke(main, ["mask", str(source), "-o", str(out), "-q", "--overwrite", *options])
    assert result.exit_code == 0, result.output
    return "\n".join(str(card) for card in fits.getheader(out, 0)["HISTORY"])


@pytest.mark.parametrize("features, capability, cleared, autocast", [
    (SAPPHIRE_RAPIDS, "AVX512", True, True), (SAPPHIRE_RAPIDS, "AVX512", False, False),
    (EPYC, "AVX2", True, False),
])
def test_cli_records_what_auto_chose_in_history(tmp_path, cpu, monkeypatch, features, capability, cleared,
                                                autocast):
    import dataclasses

    import crclean.weights

    cpu(features, capability)
    name = crclean.weights.AUTO_MODELS["ground"]
    spec = dataclasses.replace(crclean.weights.MODELS[name], cpu_bfloat16=cleared)
    monkeypatch.setattr(crclean.weights, "MODELS", {**crclean.weights.MODELS, name: spec})
    history = _history_after_mask(tmp_path, "--device", "cpu")
    assert ("bfloat16 autocast" in history) is autocast
    assert ("autocast" in history) is autocast


def test_cli_records_a_named_precision_and_refuses_an_unknown_one(tmp_path):
    assert "bfloat16 autocast" in _history_after_mask(tmp_path, "--precision", "bfloat16")
    assert "autocast" not in _history_after_mask(tmp_path, "--precision", "float32")
    bad = CliRunner().invoke(main, ["mask", str(tmp_path / "in.fits"), "--precision", "half"])
    assert bad.exit_code == 2 and "--precision" in bad.output
