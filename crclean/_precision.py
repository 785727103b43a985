"""Arithmetic precision of the mask networks, chosen from what the hardware does natively.

``--precision auto`` runs a network under bfloat16 autocast on CPUs with
native bfloat16 units (Intel AMX or AVX512_BF16, read from the CPU's own
flags) when the model is cleared for it (its bfloat16 masks were measured
within `MASK_TOLERANCE`), float16 on a GPU, and float32 elsewhere: on an
AVX2-only CPU oneDNN emulates bfloat16 and is slower than float32. Half precision changes the
probabilities a little; `MASK_TOLERANCE` is what crclean accepts, measured on
every mask benchmark family by ``benchmarks/precision.py``.

Imports torch only when resolving a precision.
"""

import functools
import platform
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PRECISIONS", "MASK_TOLERANCE", "CpuFeatures", "cpu_features", "native_bfloat16",
           "resolve_precision", "masks_agree"]

#: What ``--precision`` takes.
PRECISIONS = ("auto", "float32", "float16", "bfloat16")

#: How far a reduced-precision mask may stray from the float32 one and still be "the same mask":
#: at most ``flipped_share`` of the float32 mask's pixels flipped (either way; one pixel is always
#: allowed), and only pixels that float32 put within ``flip_margin`` of the threshold, i.e. no
#: confident decision changes. The largest probability difference is reported beside it: it grows
#: with the number of pixels (one extreme pixel in millions), so it is not part of the test.
MASK_TOLERANCE = {"flipped_share": 0.01, "flip_margin": 0.1}

#: /proc/cpuinfo flags shown beside speed figures, in this order.
REPORTED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_int8", "avx512_vnni", "avx_vnni")

# Flags of x86 units that do bfloat16 arithmetic in hardware.
_NATIVE_BFLOAT16_FLAGS = ("amx_bf16", "avx512_bf16")


@dataclass(frozen=True)
class CpuFeatures:
    """The CPU as the operating system reports it.

    Attributes
    ----------
    model : str
        e.g. ``'Intel(R) Xeon(R) Processor'``; the machine name when unknown.
    flags : frozenset of str
        Instruction-set flags (Linux ``/proc/cpuinfo`` names); empty when unknown.
    """

    model: str
    flags: frozenset

    def summary(self):
        """One line: the model and which of `REPORTED_FLAGS` it has, e.g. for a benchmark header."""
        have = [flag for flag in REPORTED_FLAGS if flag in self.flags]
        return f"{self.model} ({', '.join(have) if have else 'none of ' + ', '.join(REPORTED_FLAGS)})"


def _parse_cpuinfo(text):
    """`CpuFeatures` from the text of /proc/cpuinfo (its first processor is enough)."""
    model, flags = None, frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model is None:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = frozenset(value.split())
    return CpuFeatures(model or platform.machine() or "unknown CPU", flags)


@functools.lru_cache(maxsize=None)
def cpu_features(cpuinfo="/proc/cpuinfo"):
    """The CPU's model name and instruction-set flags (cached: they do not change).

    Parameters
    ----------
    cpuinfo : str, optional
        Linux's CPU description. Where it does not exist (macOS, Windows)
        the flags are empty, so nothing is assumed about the hardware.

    Returns
    -------
    CpuFeatures
    """
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return CpuFeatures(platform.processor() or platform.machine() or "unknown CPU", frozenset())
    return _parse_cpuinfo(text)


def native_bfloat16(features=None, torch_capability=None):
    """Whether bfloat16 arithmetic is native here, so that bfloat16 autocast is faster than float32.

    True when the CPU reports AMX or AVX512_BF16 and PyTorch dispatches
    AVX-512 kernels on it (``torch.backends.cpu.get_cpu_capability()``; a
    build or ``ATEN_CPU_CAPABILITY`` setting limited to AVX2 would emulate it).

    Parameters
    ----------
    features : CpuFeatures, optional
        Default: `cpu_features()`.
    torch_capability : str, optional
        Default: what PyTorch reports.

    Returns
    -------
    bool
    """
    features = cpu_features() if features is None else features
    if not any(flag in features.flags for flag in _NATIVE_BFLOAT16_FLAGS):
        return False
    if torch_capability is None:
        import torch

        torch_capability = torch.backends.cpu.get_cpu_capability()
    return "AVX512" in torch_capability.upper() or "AMX" in torch_capability.upper()


def resolve_precision(precision, device, *, cpu_bfloat16=True):
    """The autocast dtype for ``precision`` on ``device``, or None for float32.

    ``'auto'`` is float16 on a GPU (tensor cores), bfloat16 on a CPU with
    native bfloat16 units (`native_bfloat16`) for a model cleared for it, and
    float32 otherwise.

    Parameters
    ----------
    precision : str
        One of `PRECISIONS`.
    device : torch.device
    cpu_bfloat16 : bool, optional
        Whether the model's bfloat16 masks were measured within
        `MASK_TOLERANCE` (`crclean.weights.ModelSpec.cpu_bfloat16`).

    Returns
    -------
    torch.dtype or None
    """
    import torch

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of: {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        if device.type == "cuda":
            precision = "float16"
        else:
            precision = "bfloat16" if cpu_bfloat16 and native_bfloat16() else "float32"
    return None if precision == "float32" else getattr(torch, precision)


def masks_agree(reference, other, *, threshold=0.5, tolerance=None):
    """Compare a reduced-precision probability map with the float32 one against `MASK_TOLERANCE`.

    Parameters
    ----------
    reference, other : numpy.ndarray
        float32 and reduced-precision probabilities of the same image.
    threshold : float, optional
        The mask's threshold.
    tolerance : dict, optional
        Default `MASK_TOLERANCE`.

    Returns
    -------
    agree : bool
    figures : dict
        ``flagged`` (float32 mask pixels), ``flipped`` (pixels in one mask
        only), ``flipped_share`` (flipped / max(flagged, 1)),
        ``largest_flip_margin`` (how far from the threshold float32 put the
        surest flipped pixel; 0 when none flipped) and
        ``max_probability_difference``.
    """
    import numpy as np

    tolerance = MASK_TOLERANCE if tolerance is None else tolerance
    reference, other = np.asarray(reference, np.float32), np.asarray(other, np.float32)
    flagged = int(np.count_nonzero(reference > threshold))
    flips = (reference > threshold) != (other > threshold)
    flipped = int(np.count_nonzero(flips))
    margin = float(np.max(np.abs(reference[flips] - threshold))) if flipped else 0.0
    difference = float(np.max(np.abs(reference - other))) if reference.size else 0.0
    figures = {"flagged": flagged, "flipped": flipped, "flipped_share": flipped / max(flagged, 1),
               "largest_flip_margin": margin, "max_probability_difference": difference}
    agree = flipped <= max(1, tolerance["flipped_share"] * flagged) and margin <= tolerance["flip_margin"]
    return agree, figures
