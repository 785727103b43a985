"""The assembled RT-DETR detector."""

import torch
from torch import nn

from crclean.models.rtdetr._backbone import SmallResNet
from crclean.models.rtdetr._decoder import RTDETRDecoder
from crclean.models.rtdetr._encoder import HybridEncoder

__all__ = ["RTDETR", "DEFAULT_CONFIG", "structure_from_state"]

#: A few million parameters: trains on a CPU in hours, on a GPU in minutes.
DEFAULT_CONFIG = {
    "in_channels": 1, "num_classes": 1, "widths": (24, 48, 96, 160), "depths": (1, 1, 2, 1),
    "residual_blocks": (0, 0, 0, 0),
    "dim": 96, "encoder_heads": 4, "encoder_ffn": 256, "encoder_layers": 1, "fusion_depth": 1,
    "num_queries": 30, "decoder_layers": 3, "decoder_heads": 4, "decoder_ffn": 384, "points": 4,
    "num_denoising": 20, "box_noise_scale": 1.0, "dropout": 0.0,
    "input_stretches": (), "input_softening": 2.0, "fine_level": False,
}


class RTDETR(nn.Module):
    """RT-DETR: backbone -> hybrid encoder -> query selection + decoder.

    Takes ``(B, in_channels, H, W)`` with ``H`` and ``W`` multiples of 32 and
    returns normalised ``cxcywh`` boxes with class logits (see
    `crclean.models.rtdetr.postprocess`). The input should already be
    normalised (crclean divides sky-subtracted images by the sky noise and
    applies an asinh stretch).

    ``input_stretches`` adds channels computed from the first one: the
    stretch is undone (``input_softening`` must be the softening, in sky
    sigmas, that made the input) and redone with each listed softening.
    A softening of hundreds of sigmas keeps a bright galaxy in the linear
    regime, where a faint arc on top of it adds the same amount as on the
    sky; under the input's 2-sigma softening the arc is compressed by the
    galaxy's brightness (asinh; Lupton et al. 1999).

    ``fine_level`` adds the backbone's stride-4 map (0.8 arcsec at 0.2
    arcsec per pixel) as a fourth level that the decoder's deformable
    attention samples but that proposes no queries: a lens with a 0.5-1
    arcsec Einstein radius spans one or two stride-8 cells. Extra levels for
    small objects are the usual remedy in detection (the P2 level of feature
    pyramids; Lin et al. 2017).

    ``residual_blocks`` (one count per backbone stage) deepens the backbone
    with blocks that start as the identity (`SmallResNet`), so a model can
    start from a shallower one's weights and compute what it did.

    Parameters
    ----------
    **config
        Keys of `DEFAULT_CONFIG`; others raise ``TypeError``.

    References
    ----------
    Zhao, Y. et al. 2024, "DETRs Beat YOLOs on Real-time Object Detection", CVPR.
    Lupton, R. H., Gunn, J. E. & Szalay, A. S. 1999, AJ 118, 1406.
    Lin, T.-Y. et al. 2017, "Feature Pyramid Networks for Object Detection", CVPR.
    """

    def __init__(self, **config):
        super().__init__()
        unknown = set(config) - set(DEFAULT_CONFIG)
        if unknown:
            raise TypeError(f"unknown RT-DETR config keys: {sorted(unknown)}; known: {sorted(DEFAULT_CONFIG)}")
        c = {**DEFAULT_CONFIG, **config}
        self.config = c
        self.stretches = tuple(float(value) for value in c["input_stretches"])
        if any(value <= 0 for value in self.stretches) or c["input_softening"] <= 0:
            raise ValueError(f"input stretches and softening must be positive, got {c['input_stretches']!r} "
                             f"and {c['input_softening']!r}")
        fine = bool(c["fine_level"])
        self.backbone = SmallResNet(c["in_channels"] + len(self.stretches), widths=tuple(c["widths"]),
                                    depths=tuple(c["depths"]), residual_blocks=tuple(c["residual_blocks"]),
                                    fine=fine)
        self.encoder = HybridEncoder(self.backbone.out_channels[-3:], dim=c["dim"], heads=c["encoder_heads"],
                                     ffn_dim=c["encoder_ffn"], layers=c["encoder_layers"],
                                     depth=c["fusion_depth"], dropout=c["dropout"],
                                     fine_channels=self.backbone.out_channels[0] if fine else None)
        self.decoder = RTDETRDecoder(c["dim"], num_classes=c["num_classes"], num_queries=c["num_queries"],
                                     layers=c["decoder_layers"], heads=c["decoder_heads"],
                                     ffn_dim=c["decoder_ffn"], points=c["points"], levels=3 + fine, query_levels=3,
                                     num_denoising=c["num_denoising"], box_noise_scale=c["box_noise_scale"],
                                     dropout=c["dropout"])

    def forward(self, images, targets=None):
        """Detect.

        Parameters
        ----------
        images : torch.Tensor
            ``(B, C, H, W)``, ``H`` and ``W`` multiples of 32.
        targets : list of dict, optional
            In training, per image ``labels`` and normalised cxcywh ``boxes``,
            used for the denoising queries.
        """
        height, width = images.shape[-2:]
        if height % 32 or width % 32:
            raise ValueError(f"input height and width must be multiples of 32, got {height}x{width}")
        return self.decoder(self.encoder(self.backbone(self.restretch(images))), targets)

    def restretch(self, images):
        """The input with the ``input_stretches`` channels appended (unchanged without them)."""
        if not self.stretches:
            return images
        softening = self.config["input_softening"]
        # Clamp before sinh: beyond 80 (e^80 sigmas) float32 overflows; no real pixel gets there.
        sigmas = softening * torch.sinh(images[:, :1].clamp(-80.0, 80.0))
        extra = [torch.asinh(sigmas / value) for value in self.stretches]
        return torch.cat([images, *extra], dim=1)


def structure_from_state(state):
    """The config keys a state dict's shapes fix: ``in_channels``, ``fine_level``, ``residual_blocks``.

    For loading a checkpoint of a lens model that has no manifest entry yet
    (a training run's weights). Only keys that differ from `DEFAULT_CONFIG`
    are returned; other sizes (``widths``, ``dim``) are assumed default.
    """
    config = {}
    channels = int(state["backbone.stem.0.0.weight"].shape[1])
    if channels != DEFAULT_CONFIG["in_channels"]:
        config["in_channels"] = channels
    if any(key.startswith("encoder.fine_") for key in state):
        config["fine_level"] = True
    residual = [len({key.split(".")[3] for key in state
                     if key.startswith(f"backbone.stages.{stage}.") and ".branch." in key}) for stage in range(4)]
    if any(residual):
        config["residual_blocks"] = tuple(residual)
    return config
