"""Inference rewrites keep a network's output and leave the original alone."""

import pytest
import torch
from torch import nn

from crclean.engine import default_batch_size
from crclean.models import build_network
from crclean.models._blocks import ContextBlock
from crclean.models._inference import fold_batch_norm, prepare_for_inference


def _trained_looking(arch, config):
    # Non-trivial BatchNorm statistics, as a trained network has.
    torch.manual_seed(0)
    network = build_network(arch, config)
    for module in network.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.5, 0.5)
        if isinstance(module, ContextBlock):
            nn.init.normal_(module.body[-1].weight, std=0.1)  # it starts as the identity
    return network.eval()


@pytest.mark.parametrize("arch, config, n_norms", [
    ("transunet", {"norm": "batch", "window": 5}, 12),
    ("unet", {"channels": [8, 16], "norm": "batch"}, 6),
    ("unet", {"channels": [8, 16], "norm": "batch", "context_dilations": [2, 4]}, 8),
    ("deepcr-unet", {"hidden": 8}, 6),
])
def test_prepared_network_gives_the_same_logits(arch, config, n_norms):
    network = _trained_looking(arch, config)
    x = torch.randn(2, 1, 96, 128)
    with torch.inference_mode():
        expected = network(x)
        prepared, memory_format = prepare_for_inference(network, torch.device("cpu"))
        got = prepared(x.contiguous(memory_format=memory_format))
    assert memory_format == torch.channels_last
    assert not any(isinstance(m, nn.BatchNorm2d) for m in prepared.modules())
    # The original keeps its BatchNorm layers (prepare works on a copy).
    assert sum(isinstance(m, nn.BatchNorm2d) for m in network.modules()) == n_norms
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_folding_refuses_a_network_in_training_mode():
    network = build_network("unet", {"channels": [8, 16], "norm": "batch"})
    with pytest.raises(ValueError, match="evaluation mode"):
        fold_batch_norm(network)


@pytest.mark.parametrize("device, tile_size, expected", [
    ("cpu", 256, 16), ("cpu", 1024, 1), ("cpu", 2048, 1), ("cuda", 1024, 8), ("cuda", 256, 128),
])
def test_default_batch_holds_a_fixed_number_of_pixels(device, tile_size, expected):
    assert default_batch_size(torch.device(device), tile_size) == expected


@pytest.mark.parametrize("arch, config, block", [
    ("transunet", {"norm": "batch", "window": 5}, "encoder0"),
    ("unet", {"channels": [8, 16], "norm": "batch"}, "encoders.0"),
    ("deepcr-unet", {"hidden": 8}, "encoder"),
])
def test_under_bfloat16_the_input_block_runs_in_float32(arch, config, block):
    network = _trained_looking(arch, config)
    x = torch.randn(1, 1, 64, 64) * 1000  # the dynamic range bfloat16 would round away
    seen = {}
    with torch.inference_mode():
        expected = network(x)
        prepared, memory_format = prepare_for_inference(network, torch.device("cpu"), precision=torch.bfloat16)
        x = x.contiguous(memory_format=memory_format)
        # Without autocast the wrapped block changes nothing.
        torch.testing.assert_close(prepared(x), expected, atol=1e-3, rtol=1e-4)
        wrapped = prepared.get_submodule(block)
        wrapped.block.register_forward_hook(lambda module, args, output: seen.update(dtype=output.dtype))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            prepared(x)
    assert seen["dtype"] == torch.float32
    assert not hasattr(network.get_submodule(block), "block")  # the original is left alone
    float32, _ = prepare_for_inference(network, torch.device("cpu"))
    assert not hasattr(float32.get_submodule(block), "block")


@pytest.mark.parametrize("arch, config, pairs", [
    ("transunet", {"norm": "batch", "window": 5}, 12),
    ("unet", {"channels": [8, 16], "norm": "batch"}, 6),
    ("unet", {"channels": [8, 16], "norm": "batch", "context_dilations": [2, 4]}, 8),
    ("deepcr-unet", {"hidden": 8}, 6),
])
@pytest.mark.parametrize("precision", [None, torch.bfloat16])
def test_fused_convolution_and_relu_give_the_same_output(monkeypatch, arch, config, pairs, precision):
    from crclean.models import _fused, _inference

    network = _trained_looking(arch, config)
    x = torch.randn(2, 1, 64, 96) * 100
    outputs, fused = [], []
    for fuse in (False, True):
        if not fuse:
            monkeypatch.setattr(_inference, "fuse_conv_relu", lambda network: 0)
        else:
            monkeypatch.setattr(_inference, "fuse_conv_relu", _fused.fuse_conv_relu)
        prepared, memory_format = prepare_for_inference(network, torch.device("cpu"), precision=precision)
        fused.append(sum(isinstance(m, _fused._ConvReLU) for m in prepared.modules()))
        with torch.inference_mode(), torch.autocast("cpu", dtype=precision, enabled=precision is not None):
            outputs.append(prepared(x.contiguous(memory_format=memory_format)).float())
    assert fused == [0, pairs]
    torch.testing.assert_close(outputs[1], outputs[0], rtol=0, atol=0)


def test_a_fused_layer_runs_unfused_in_a_precision_the_cpu_cannot_fuse(monkeypatch):
    # oneDNN's fused float16 convolution needs AVX512-FP16 or AVX-NE-CONVERT; an AMD EPYC lacks both and
    # raised a RuntimeError there. Stood in for by an op that refuses bfloat16 as that CPU refuses float16.
    from crclean.models import _fused, _inference

    real = torch.ops.mkldnn._convolution_pointwise

    def refuses_bfloat16(x, *args):
        if x.dtype == torch.bfloat16:
            raise RuntimeError("mkldnn_convolution: this path needs instructions the CPU lacks")
        return real(x, *args)

    _fused._takes.cache_clear()
    monkeypatch.setattr(torch.ops.mkldnn, "_convolution_pointwise", refuses_bfloat16)
    network = _trained_looking("unet", {"channels": [8, 16], "norm": "batch"})
    x = torch.randn(2, 1, 64, 96) * 100
    outputs = []
    for fuse in (lambda net: 0, _fused.fuse_conv_relu):
        monkeypatch.setattr(_inference, "fuse_conv_relu", fuse)
        prepared, memory_format = prepare_for_inference(network, torch.device("cpu"), precision=torch.bfloat16)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            outputs.append(prepared(x.contiguous(memory_format=memory_format)).float())
    assert sum(isinstance(m, _fused._ConvReLU) for m in prepared.modules()) == 6
    torch.testing.assert_close(outputs[1], outputs[0], rtol=0, atol=0)
    _fused._takes.cache_clear()


def test_under_bfloat16_the_blocks_a_spec_names_run_in_float32_too():
    network = _trained_looking("unet", {"channels": [8, 16, 32], "norm": "batch"})
    x = torch.randn(1, 1, 64, 64) * 1000
    seen = {}
    with torch.inference_mode():
        prepared, memory_format = prepare_for_inference(
            network, torch.device("cpu"), precision=torch.bfloat16, float32_blocks=("encoders.1",))
        for name in ("encoders.0", "encoders.1", "encoders.2"):
            module = prepared.get_submodule(name)
            inner = getattr(module, "block", module)
            inner.register_forward_hook(lambda module, args, output, name=name: seen.update({name: output.dtype}))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            prepared(x.contiguous(memory_format=memory_format))
    assert seen == {"encoders.0": torch.float32, "encoders.1": torch.float32, "encoders.2": torch.bfloat16}
    # Named blocks are only kept for bfloat16; a float32 network is not wrapped.
    float32, _ = prepare_for_inference(network, torch.device("cpu"), float32_blocks=("encoders.1",))
    assert not hasattr(float32.get_submodule("encoders.1"), "block")
