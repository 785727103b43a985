"""Architecture names -> constructors (read-only)."""

from types import MappingProxyType

__all__ = ["ARCHITECTURES", "build_network"]


def _deepcr_unet(config):
    from crclean.models._deepcr_unet import DeepCRUNet

    return DeepCRUNet(**config)


def _unet(config):
    from crclean.models._unet import UNet

    return UNet(**config)


def _transunet(config):
    from crclean.models._transunet import TransUNet

    return TransUNet(**config)


def _rtdetr(config):
    from crclean.models.rtdetr import build_rtdetr

    return build_rtdetr(config)


ARCHITECTURES = MappingProxyType(
    {"deepcr-unet": _deepcr_unet, "unet": _unet, "transunet": _transunet, "rtdetr": _rtdetr}
)


def build_network(arch, config=None):
    """Build an untrained network of a registered architecture.

    Parameters
    ----------
    arch : str
        A key of `ARCHITECTURES`.
    config : dict, optional
        Keyword arguments of the architecture's constructor.

    Returns
    -------
    torch.nn.Module
    """
    if arch not in ARCHITECTURES:
        known = ", ".join(sorted(ARCHITECTURES))
        raise ValueError(f"unknown architecture {arch!r}; known: {known}")
    return ARCHITECTURES[arch](dict(config or {}))
