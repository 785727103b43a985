"""The assembled detector: registry, size, outputs, loss, postprocessing."""

import pytest
import torch

from crclean.models import build_network
from crclean.models.rtdetr import SetCriterion, postprocess, varifocal_loss

torch.set_num_threads(1)

_SMALL = {"widths": (8, 16, 24, 32), "depths": (1, 1, 1, 1), "dim": 32, "encoder_ffn": 64,
          "decoder_ffn": 64, "num_queries": 8, "decoder_layers": 2, "num_denoising": 6}


def _targets():
    return [{"labels": torch.zeros(1, dtype=torch.long), "boxes": torch.tensor([[0.3, 0.6, 0.25, 0.2]])},
            {"labels": torch.zeros(0, dtype=torch.long), "boxes": torch.zeros(0, 4)}]


def test_registry_builds_a_small_model():
    model = build_network("rtdetr")
    assert 1e6 < sum(p.numel() for p in model.parameters()) < 5e6
    with pytest.raises(TypeError, match="unknown RT-DETR config keys"):
        build_network("rtdetr", {"hidden": 3})


def test_outputs_in_eval_and_training():
    model = build_network("rtdetr", _SMALL).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, 64, 96))
    assert out["pred_logits"].shape == (2, 8, 1) and out["pred_boxes"].shape == (2, 8, 4)
    assert ((out["pred_boxes"] >= 0) & (out["pred_boxes"] <= 1)).all()
    model.train()
    out = model(torch.randn(2, 1, 64, 64), _targets())
    assert len(out["aux_outputs"]) == 1 and "enc_outputs" in out
    # 6 positive denoising queries (one group per true box) and as many negatives
    assert out["dn_meta"]["num_dn"] == 12 and out["dn_outputs"][0]["pred_boxes"].shape == (2, 12, 4)
    with pytest.raises(ValueError, match="multiples of 32"):
        model(torch.randn(1, 1, 50, 64))


def test_loss_decreases_when_overfitting_one_batch():
    torch.manual_seed(0)
    model = build_network("rtdetr", _SMALL)
    criterion = SetCriterion()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    images = torch.zeros(2, 1, 64, 64)
    images[0, 0, 32:45, 12:28] = 3.0  # the object of the first target
    losses = []
    for _ in range(25):
        loss, _ = criterion(model(images, _targets()), _targets())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_varifocal_loss_rewards_iou_aware_scores():
    positive = torch.tensor([[True], [False]])
    target = torch.tensor([[0.8], [0.0]])
    good = varifocal_loss(torch.tensor([[1.386], [-4.0]]), target, positive)  # sigmoid(1.386) = 0.8
    bad = varifocal_loss(torch.tensor([[-2.0], [2.0]]), target, positive)
    assert good < bad


def test_postprocess_gives_pixel_boxes_best_first():
    outputs = {"pred_logits": torch.tensor([[[-3.0], [2.0], [0.0]]]),
               "pred_boxes": torch.tensor([[[0.5, 0.5, 0.1, 0.1], [0.25, 0.5, 0.5, 0.25], [0.5, 0.5, 1.0, 1.0]]])}
    (result,) = postprocess(outputs, (100, 200), top_k=2)
    assert torch.allclose(result["scores"], torch.sigmoid(torch.tensor([2.0, 0.0])))
    assert torch.allclose(result["boxes"][0], torch.tensor([0.0, 37.5, 100.0, 62.5]))
    (kept,) = postprocess(outputs, (100, 200), top_k=3, min_score=0.6)
    assert len(kept["scores"]) == 1
    with pytest.raises(ValueError, match="top_k"):
        postprocess(outputs, (10, 10), top_k=0)


def test_input_stretches_redo_the_asinh_with_other_softenings():
    import numpy as np

    from crclean.lenses._normalise import SOFTENING_SIGMA, normalise_image

    model = build_network("rtdetr", {**_SMALL, "input_stretches": (20.0, 500.0)})
    # The model undoes the stretch crclean applied, so their softenings must agree.
    assert model.config["input_softening"] == SOFTENING_SIGMA
    sigmas = np.array([[-3.0, 0.0, 5.0, 40.0], [300.0, 2000.0, 1e4, 1e5]])
    normalised = torch.from_numpy(normalise_image(sigmas * 7.0, 7.0))[None, None]
    channels = model.restretch(normalised)
    assert channels.shape == (1, 3, 2, 4)
    assert torch.equal(channels[:, :1], normalised)
    for index, softening in enumerate((20.0, 500.0), start=1):
        expected = np.arcsinh(sigmas / softening)
        np.testing.assert_allclose(channels[0, index].numpy(), expected, rtol=1e-4, atol=1e-5)
    assert build_network("rtdetr", _SMALL).restretch(normalised) is normalised
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 1, 64, 64))["pred_boxes"].shape == (1, 8, 4)
    for bad in ({"input_stretches": (20.0, 0.0)}, {"input_softening": -1.0}):
        with pytest.raises(ValueError, match="must be positive"):
            build_network("rtdetr", {**_SMALL, **bad})


def test_a_fine_level_is_sampled_by_the_decoder_but_proposes_no_queries():
    torch.manual_seed(0)
    model = build_network("rtdetr", {**_SMALL, "fine_level": True, "num_denoising": 0})
    images = torch.randn(2, 1, 64, 96)
    maps = model.encoder(model.backbone(images))
    # The three usual levels (strides 8, 16, 32), then the fine one at stride 4.
    assert [tuple(m.shape[-2:]) for m in maps] == [(8, 12), (4, 6), (2, 3), (16, 24)]
    model.train()  # training outputs include the query-selection proposals
    plain = model(images)

    def disturb(module, inputs, output):
        return output + torch.randn_like(output)

    hook = model.encoder.fine_proj.register_forward_hook(disturb)
    disturbed = model(images)
    hook.remove()
    torch.testing.assert_close(disturbed["enc_outputs"]["pred_logits"], plain["enc_outputs"]["pred_logits"])
    torch.testing.assert_close(disturbed["enc_outputs"]["pred_boxes"], plain["enc_outputs"]["pred_boxes"])
    assert not torch.allclose(disturbed["pred_logits"], plain["pred_logits"])
    with pytest.raises(ValueError, match="query_levels"):
        from crclean.models.rtdetr._decoder import RTDETRDecoder
        RTDETRDecoder(32, levels=3, query_levels=4)


def test_residual_blocks_start_as_the_identity_and_show_in_the_state_dict():
    from crclean.models.rtdetr import structure_from_state

    torch.manual_seed(0)
    shallow = build_network("rtdetr", _SMALL).eval()
    deep = build_network("rtdetr", {**_SMALL, "residual_blocks": (0, 2, 1, 0)}).eval()
    missing, unexpected = deep.load_state_dict(shallow.state_dict(), strict=False)
    assert not unexpected and missing and all(".branch." in key for key in missing)
    images = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(deep(images)["pred_logits"], shallow(images)["pred_logits"])
        # Once its zeroed batch norm moves, a block changes what the model computes.
        deep.backbone.stages[1][1].branch[1][1].weight.fill_(1.0)
        assert not torch.allclose(deep(images)["pred_logits"], shallow(images)["pred_logits"])
    assert structure_from_state(deep.state_dict()) == {"residual_blocks": (0, 2, 1, 0)}
    assert structure_from_state(shallow.state_dict()) == {}
    three_bands = build_network("rtdetr", {**_SMALL, "in_channels": 3, "fine_level": True})
    assert structure_from_state(three_bands.state_dict()) == {"in_channels": 3, "fine_level": True}
    for bad in ((1, 1, 1), (0, -1, 0, 0), (0, 1.5, 0, 0)):
        with pytest.raises(ValueError, match="residual_blocks"):
            build_network("rtdetr", {**_SMALL, "residual_blocks": bad})
