"""`ModelSpec`: what crclean knows about one model (see `crclean.weights`)."""

from dataclasses import dataclass, field

__all__ = ["TASKS", "ModelSpec"]


#: What a model does, in the order `crclean models` lists them.
TASKS = ("mask", "inpaint", "lens")


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the registry: a mask, inpainting or lens-finding model.

    Attributes
    ----------
    name : str
        What ``--model`` takes.
    kind : str
        ``'network'`` (a PyTorch network with a checkpoint) or ``'lacosmic'``
        (classical, no weights).
    instruments : str
        The data the model is meant for, in words.
    units : str
        Pixel units the model expects: ``'adu'`` or ``'electron'``.
    scale : float
        The input is divided by this after unit conversion.
    normalisation : str
        ``'scale'`` (divide by ``scale``; deepCR) or ``'background'``
        (`crclean.engine.noise_normalise`: in units of the local sky noise,
        so gain, bias and units do not matter).
    tile_size, overlap : int
        Default tile side and overlap in pixels: the overlap is enough for
        the network's receptive field that the result does not depend on the
        tile size (measured), and the tile is large enough that the overlap
        costs little. For a lens finder: the window fed to the network and
        the pixels neighbouring windows share (wider than the largest lens).
    arch, config : str, dict
        Registered architecture name and its constructor arguments.
    package, resource : str
        For weights inside an installed package: the top-level package and
        the path inside it. ``package`` is ``None`` for crclean's own weights,
        whose file ``resource`` lives in ``weights/``.
    sha256 : str
        Checksum of the checkpoint file.
    version : str
        Version of the weights.
    reference : str
        Who made it, and the paper to cite (or the model card).
    task : str
        One of `TASKS`: ``'mask'``, ``'inpaint'`` or ``'lens'``.
    quality : str
        The measured quality a user needs to choose, in words, with where it
        was measured; empty when not measured here (see the model card).
    cpu_bfloat16 : bool
        Mask networks: whether ``--precision auto`` may run it under bfloat16
        on a CPU with native bfloat16 units. Only for a model whose bfloat16
        masks were measured within `crclean._precision.MASK_TOLERANCE`
        (``benchmarks/precision.py`` and ``tests/engine/test_precision.py``).
    float32_blocks : tuple of str
        Mask networks: submodules that stay in float32 under bfloat16
        autocast besides the block that sees the input (which always does).
        How far the input's dynamic range reaches into a network depends on
        its weights, so this is measured per model, with ``cpu_bfloat16``.
    pixel_scale : float
        Lens finders: arcsec per pixel the model was trained at; tiles are
        resampled to it.
    bands : tuple of str
        Lens finders: filters of a multi-band model, in the order of its
        input channels (its ``config`` has ``in_channels`` equal to their
        number); empty for a model that takes any one image.
    theta_e_slope, theta_e_offset : float
        Lens finders: ``theta_E ~ slope * (mean box half-side in arcsec) +
        offset``, fitted on the training simulations.
    score_slope, score_offset : float
        Lens finders: score calibration ``sigmoid(slope * logit(raw) +
        offset)`` (Platt 1999), fitted on held-out simulated windows.
    """

    name: str
    kind: str
    instruments: str
    units: str = "adu"
    scale: float = 1.0
    normalisation: str = "scale"
    tile_size: int = 256
    overlap: int = 32
    arch: str = ""
    config: dict = field(default_factory=dict)
    package: str = None
    resource: str = ""
    sha256: str = ""
    version: str = ""
    reference: str = ""
    task: str = "mask"
    quality: str = ""
    cpu_bfloat16: bool = False
    float32_blocks: tuple = ()
    pixel_scale: float = 0.2
    bands: tuple = ()
    theta_e_slope: float = 1.0
    theta_e_offset: float = 0.0
    score_slope: float = 1.0
    score_offset: float = 0.0

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"model {self.name!r}: task must be one of {TASKS}, got {self.task!r}")
        if self.task != "lens":
            return
        channels = self.config.get("in_channels", 1)
        if self.bands and (channels != len(self.bands) or len(set(self.bands)) != len(self.bands)):
            raise ValueError(f"lens model {self.name!r}: bands {self.bands} need in_channels = {len(self.bands)} "
                             f"and distinct names, got in_channels = {channels}")
        if not self.bands and channels != 1:
            raise ValueError(f"lens model {self.name!r} has {channels} input channels but names no bands")

    @property
    def n_bands(self):
        """Images a lens finder takes per tile: one per band, or one for a single-band model."""
        return len(self.bands) or 1
