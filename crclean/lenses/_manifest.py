"""The lens-finder models crclean knows, and loading their verified weights."""

from dataclasses import dataclass, field
from types import MappingProxyType

from crclean.exceptions import ModelError

__all__ = ["LensModelSpec", "LENS_MODELS", "DEFAULT_LENS_MODEL", "DEFAULT_MULTIBAND_LENS_MODEL", "PLAUSIBLE_PIXEL_SCALE",
           "get_lens_model", "load_lens_network", "load_vetter_network"]

#: Arcsec per pixel that a tile's stated scale (a header keyword, or `--pixel-scale`) must lie within:
#: outside it, the number is not the scale of an imaging survey (degrees, or a typo). Kept here, free of
#: numpy, because the command line's option is built from it.
PLAUSIBLE_PIXEL_SCALE = (0.01, 10.0)


@dataclass(frozen=True)
class LensModelSpec:
    """One lens-finder model.

    Attributes
    ----------
    name : str
        What ``--model`` takes.
    arch : str
        Registered architecture (`crclean.models.ARCHITECTURES`).
    config : dict
        Constructor arguments of the architecture.
    pixel_scale : float
        Arcsec per pixel the model was trained at; tiles are resampled to it.
    window : int
        Side of the square windows fed to the network (multiple of 32).
    overlap : int
        Pixels shared by neighbouring windows; wider than the largest lens.
    file : str
        Checkpoint name in ``weights/``.
    sha256 : str
        Its checksum.
    version : str
    theta_e_slope, theta_e_offset : float
        ``theta_E ~ slope * (mean box half-side in arcsec) + offset``, fitted
        on the training simulations.
    score_slope, score_offset : float
        Score calibration ``sigmoid(slope * logit(raw) + offset)`` (Platt
        1999), fitted on held-out simulated windows; identity by default.
    description : str
    vetter_file : str
        Checkpoint of the second-stage lens vetter in ``weights/``; none when empty.
    vetter_sha256 : str
    vetter_config : dict
        Constructor arguments of the ``lens-vetter`` architecture.
    vetter_stamp : int
        Side of the stamps it grades (pixels at ``pixel_scale``).
    vetter_floor : float
        Detector score from which candidates are passed to the vetter.
    stacking : (float, float, float)
        ``(a, b, c)`` of ``sigmoid(a * logit(detector score) + b * vetter logit + c)``.
    bands : tuple of str
        Filters of a multi-band model, in the order of its input channels
        (its ``config`` has ``in_channels`` equal to their number); empty for
        a single-band model, which takes any one image.
    """

    name: str
    arch: str
    config: dict = field(default_factory=dict)
    pixel_scale: float = 0.2
    window: int = 128
    overlap: int = 48
    file: str = ""
    sha256: str = ""
    version: str = ""
    theta_e_slope: float = 1.0
    theta_e_offset: float = 0.0
    score_slope: float = 1.0
    score_offset: float = 0.0
    description: str = ""
    vetter_file: str = ""
    vetter_sha256: str = ""
    vetter_config: dict = field(default_factory=dict)
    vetter_stamp: int = 64
    vetter_floor: float = 0.05
    stacking: tuple = (1.0, 0.0, 0.0)
    bands: tuple = ()

    def __post_init__(self):
        channels = self.config.get("in_channels", 1)
        if self.bands and (channels != len(self.bands) or len(set(self.bands)) != len(self.bands)):
            raise ValueError(f"lens model {self.name!r}: bands {self.bands} need in_channels = {len(self.bands)} "
                             f"and distinct names, got in_channels = {channels}")
        if not self.bands and channels != 1:
            raise ValueError(f"lens model {self.name!r} has {channels} input channels but names no bands")
        if self.bands and self.vetter_file:
            raise ValueError(f"lens model {self.name!r}: the lens vetter grades single-band stamps only")

    @property
    def n_bands(self):
        """Images the model takes per tile: one per band, or one for a single-band model."""
        return len(self.bands) or 1


LENS_MODELS = MappingProxyType({
    "rtdetr-lens-v0": LensModelSpec(
        name="rtdetr-lens-v0", arch="rtdetr", config={}, pixel_scale=0.2, window=128, overlap=48,
        file="rtdetr-lens-v0.pt", sha256="9ab63866623ff455f6cc063aceb228be87687daa74fbb3a48b89d2b1939ebf48",
        version="0", theta_e_slope=1.05, theta_e_offset=-0.80, score_slope=2.28, score_offset=-0.68,
        description="RT-DETR (Zhao et al. 2024) trained on lenstronomy simulations; single band, "
                    "0.2 arcsec/pixel, 0.6-1.1 arcsec seeing (DES/LSST-like)",
    ),
    "rtdetr-lens-v1": LensModelSpec(
        name="rtdetr-lens-v1", arch="rtdetr", config={}, pixel_scale=0.2, window=128, overlap=48,
        file="rtdetr-lens-v1.pt", sha256="8fa253cc74e0af83f1ccbc3375a85c5878218d8cdedad3bdba2613cd72dd59d7",
        version="1", theta_e_slope=1.074, theta_e_offset=-0.878, score_slope=2.402, score_offset=-0.855,
        description="rtdetr-lens-v0 fine-tuned on a larger bank with arc-free ellipticals, saturated stars "
                    "and wider PSF/noise ranges; single band, 0.2 arcsec/pixel, 0.5-1.3 arcsec seeing",
    ),
    "rtdetr-lens-v2": LensModelSpec(
        name="rtdetr-lens-v2", arch="rtdetr", config={}, pixel_scale=0.2, window=128, overlap=48,
        file="rtdetr-lens-v2.pt", sha256="94db057ba04aeb56360ee00f9957028316c60b5b7dbf3695afa4e452e888d67b",
        version="2", theta_e_slope=1.058, theta_e_offset=-0.837, score_slope=2.229, score_offset=-0.871,
        description="rtdetr-lens-v1 fine-tuned on a new bank with twice the hard negatives; single band, "
                    "0.2 arcsec/pixel, 0.5-1.3 arcsec seeing",
    ),
    "rtdetr-lens-v3": LensModelSpec(
        name="rtdetr-lens-v3", arch="rtdetr", config={}, pixel_scale=0.2, window=128, overlap=48,
        file="rtdetr-lens-v3.pt", sha256="f73e66a44348d3c58cb804e130efdbfd8486608f92eb723f4662ca5518c96273",
        version="3", theta_e_slope=1.084, theta_e_offset=-0.885, score_slope=2.275, score_offset=-0.933,
        description="rtdetr-lens-v2 fine-tuned for 11000 steps on a 3x larger bank with wider ring and "
                    "spiral families; single band, 0.2 arcsec/pixel, 0.5-1.3 arcsec seeing",
    ),
    "rtdetr-lens-v9": LensModelSpec(
        name="rtdetr-lens-v9", arch="rtdetr", config={}, pixel_scale=0.2, window=128, overlap=48,
        file="rtdetr-lens-v9.pt", sha256="ad2d8b0c1cd87faef825916d3dae0f6fb0b6e5629ea4e69165060609fcf7595d",
        version="9", theta_e_slope=1.058, theta_e_offset=-0.829, score_slope=2.010, score_offset=-0.964,
        description="rtdetr-lens-v3 fine-tuned in three rounds (24000 steps) on banks with smooth sources, "
                    "knotty and early-type look-alike rings and power-law lenses; single band, 0.2 arcsec/pixel, "
                    "0.5-1.3 arcsec seeing",
    ),
    "rtdetr-lens-v12": LensModelSpec(
        name="rtdetr-lens-v12", arch="rtdetr", config={"in_channels": 3}, pixel_scale=0.2, window=128, overlap=48,
        file="rtdetr-lens-v12.pt", sha256="25eeed6d52c4e60ffc34ee692ddd6d1bb911b08dbad39b33c9802323109ae7fb",
        version="12", theta_e_slope=1.065, theta_e_offset=-0.858, score_slope=2.116, score_offset=-1.054,
        description="rtdetr-lens-v9 spread over three bands and fine-tuned 8000 steps on coloured scenes "
                    "(red lens galaxies, blue sources, coloured look-alikes); g, r, i (one file per band), "
                    "0.2 arcsec/pixel, 0.5-1.3 arcsec seeing",
        bands=("g", "r", "i"),
    ),
    "rtdetr-lens-v13": LensModelSpec(
        name="rtdetr-lens-v13", arch="rtdetr", config={"in_channels": 3}, pixel_scale=0.2, window=128, overlap=48,
        file="rtdetr-lens-v13.pt", sha256="e6b70c828563cb8abc24d76c6e28c1e61aa5977678afd7a1fa5e9a85d6f1f104",
        version="13", theta_e_slope=1.067, theta_e_offset=-0.867, score_slope=2.308, score_offset=-0.985,
        description="rtdetr-lens-v12 trained 8000 more steps on a fresh coloured bank; g, r, i (one file per "
                    "band), 0.2 arcsec/pixel, 0.5-1.3 arcsec seeing",
        bands=("g", "r", "i"),
    ),
    "rtdetr-lens-v14": LensModelSpec(
        name="rtdetr-lens-v14", arch="rtdetr", config={"in_channels": 3}, pixel_scale=0.2, window=128, overlap=48,
        file="rtdetr-lens-v14.pt", sha256="bcb57f08e1aac58a265e9a7d576ac9a4b1f1f86e4fb575eaf7a220d1f86e055a",
        version="14", theta_e_slope=1.059, theta_e_offset=-0.842, score_slope=2.456, score_offset=-0.764,
        description="rtdetr-lens-v13 trained 8000 more steps on a fresh coloured bank, its look-alikes mined by v13; "
                    "g, r, i (one file per band), 0.2 arcsec/pixel, 0.5-1.3 arcsec seeing",
        bands=("g", "r", "i"),
    ),
    "rtdetr-lens-v15": LensModelSpec(
        name="rtdetr-lens-v15", arch="rtdetr", config={"in_channels": 3}, pixel_scale=0.2, window=128, overlap=48,
        file="rtdetr-lens-v15.pt", sha256="c63198f0535520463c7aedea6863ff982cce91002f856327266b9d0d8e15e8e4",
        version="15", theta_e_slope=1.062, theta_e_offset=-0.876, score_slope=2.288, score_offset=-0.780,
        description="rtdetr-lens-v14 trained 8000 more steps on a fresh coloured bank, its look-alikes mined by v14; "
                    "g, r, i (one file per band), 0.2 arcsec/pixel, 0.5-1.3 arcsec seeing",
        bands=("g", "r", "i"),
    ),
    "rtdetr-lens-v17": LensModelSpec(
        name="rtdetr-lens-v17", arch="rtdetr", config={"in_channels": 3}, pixel_scale=0.2, window=128, overlap=48,
        file="rtdetr-lens-v17.pt", sha256="c55337f7e21204a304eeece50dfaea1b4e74e3c1f1dea4f7482f1fcca9c36304",
        version="17", theta_e_slope=1.042, theta_e_offset=-0.805, score_slope=2.287, score_offset=-0.761,
        description="rtdetr-lens-v15 trained 8000 more steps on a fresh coloured bank, its look-alikes in wider "
                    "colours and mined by v15; g, r, i (one file per band), 0.2 arcsec/pixel, 0.5-1.3 arcsec seeing",
        bands=("g", "r", "i"),
    ),
    "rtdetr-lens-v20": LensModelSpec(
        name="rtdetr-lens-v20", arch="rtdetr", config={"in_channels": 3}, pixel_scale=0.2, window=128, overlap=48,
        file="rtdetr-lens-v20.pt", sha256="3fa8a575ca51c959990c27b184902c928aa0a3ab46e617fcba1672364e84b83b",
        version="20", theta_e_slope=1.096, theta_e_offset=-0.937, score_slope=2.430, score_offset=-0.789,
        description="rtdetr-lens-v17 trained 6000 more steps at a 4x learning rate on a fresh coloured "
                    "bank mined by v17; g, r, i (one file per band), 0.2 arcsec/pixel, 0.5-1.3 arcsec seeing",
        bands=("g", "r", "i"),
    ),
})

DEFAULT_LENS_MODEL = "rtdetr-lens-v9"

#: What ``crclean lenses`` uses for tiles given as one file per band (a ``{band}`` pattern).
DEFAULT_MULTIBAND_LENS_MODEL = "rtdetr-lens-v20"


def get_lens_model(name):
    """The `LensModelSpec` called ``name``; `ModelError` listing the known ones otherwise."""
    try:
        return LENS_MODELS[name]
    except (KeyError, TypeError):
        raise ModelError(f"unknown lens model {name!r}; choose one of: {', '.join(LENS_MODELS)}") from None


def load_vetter_network(spec, *, device="cpu"):
    """The checksum-verified lens vetter of ``spec``, or None when the model has none.

    Raises
    ------
    ModelError
        As `load_lens_network`.
    """
    if not spec.vetter_file:
        return None
    from crclean.weights import SHIPPED_WEIGHTS_DIR

    path = SHIPPED_WEIGHTS_DIR / spec.vetter_file
    if not spec.vetter_sha256 or not path.is_file():
        raise ModelError(f"lens model {spec.name!r} has no vetter weights at {path}; install a crclean release "
                         "that ships them")
    return _verified_network(path, spec.vetter_sha256, "lens-vetter", spec.vetter_config,
                             label=f"vetter of lens model {spec.name!r}", device=device)


def load_lens_network(spec, *, device="cpu"):
    """Build the network of ``spec`` and load its checksum-verified weights.

    Raises
    ------
    ModelError
        If the weights are missing (not trained or not shipped yet), damaged,
        or do not fit the architecture.
    """
    from crclean.weights import SHIPPED_WEIGHTS_DIR

    path = SHIPPED_WEIGHTS_DIR / spec.file
    if not spec.sha256 or not path.is_file():
        raise ModelError(
            f"lens model {spec.name!r} has no trained weights at {path}; train them with "
            "`crclean train lenses` (extra [train]) or install a crclean release that ships them")
    return _verified_network(path, spec.sha256, spec.arch, spec.config, label=f"lens model {spec.name!r}",
                             device=device)


def _verified_network(path, sha256, arch, config, *, label, device):
    """Build ``arch`` and load the checksum-verified state dict at ``path`` into it (eval mode, frozen)."""
    from crclean.models import build_network
    from crclean.weights import verified_state_dict

    state = verified_state_dict(path, sha256, label=label)
    network = build_network(arch, config)
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ModelError(f"weights of {label} do not fit its architecture: {error}") from None
    network.eval().requires_grad_(False)
    return network.to(device)
