"""The assembled RT-DETR detector."""

from torch import nn

from crclean.models.rtdetr._backbone import SmallResNet
from crclean.models.rtdetr._decoder import RTDETRDecoder
from crclean.models.rtdetr._encoder import HybridEncoder

__all__ = ["RTDETR", "DEFAULT_CONFIG"]

#: A few million parameters: trains on a CPU in hours, on a GPU in minutes.
DEFAULT_CONFIG = {
    "in_channels": 1, "num_classes": 1, "widths": (24, 48, 96, 160), "depths": (1, 1, 2, 1),
    "dim": 96, "encoder_heads": 4, "encoder_ffn": 256, "encoder_layers": 1, "fusion_depth": 1,
    "num_queries": 30, "decoder_layers": 3, "decoder_heads": 4, "decoder_ffn": 384, "points": 4,
    "num_denoising": 20, "box_noise_scale": 1.0, "dropout": 0.0,
}


class RTDETR(nn.Module):
    """RT-DETR: backbone -> hybrid encoder -> query selection + decoder.

    Takes ``(B, in_channels, H, W)`` with ``H`` and ``W`` multiples of 32 and
    returns normalised ``cxcywh`` boxes with class logits (see
    `crclean.models.rtdetr.postprocess`). The input should already be
    normalised (crclean divides sky-subtracted images by the sky noise and
    applies an asinh stretch).

    Parameters
    ----------
    **config
        Keys of `DEFAULT_CONFIG`; others raise ``TypeError``.
    """

    def __init__(self, **config):
        super().__init__()
        unknown = set(config) - set(DEFAULT_CONFIG)
        if unknown:
            raise TypeError(f"unknown RT-DETR config keys: {sorted(unknown)}; known: {sorted(DEFAULT_CONFIG)}")
        c = {**DEFAULT_CONFIG, **config}
        self.config = c
        self.backbone = SmallResNet(c["in_channels"], widths=tuple(c["widths"]), depths=tuple(c["depths"]))
        self.encoder = HybridEncoder(self.backbone.out_channels, dim=c["dim"], heads=c["encoder_heads"],
                                     ffn_dim=c["encoder_ffn"], layers=c["encoder_layers"],
                                     depth=c["fusion_depth"], dropout=c["dropout"])
        self.decoder = RTDETRDecoder(c["dim"], num_classes=c["num_classes"], num_queries=c["num_queries"],
                                     layers=c["decoder_layers"], heads=c["decoder_heads"],
                                     ffn_dim=c["decoder_ffn"], points=c["points"], levels=3,
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
        return self.decoder(self.encoder(self.backbone(images)), targets)
