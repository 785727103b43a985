"""Arithmetic precision of the mask networks (imports torch only when resolving)."""

__all__ = ["PRECISIONS", "resolve_precision"]

#: What ``--precision`` takes; 'auto' is float16 on a GPU, float32 on the CPU.
PRECISIONS = ("auto", "float32", "float16", "bfloat16")


def resolve_precision(precision, device):
    """The autocast dtype for ``precision`` on ``device``, or None for float32.

    Parameters
    ----------
    precision : str
        One of `PRECISIONS`.
    device : torch.device

    Returns
    -------
    torch.dtype or None
    """
    import torch

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of: {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        # Half precision pays on GPUs (tensor cores); on CPUs without native
        # half-precision units it is emulated and slower.
        precision = "float16" if device.type == "cuda" else "float32"
    return None if precision == "float32" else getattr(torch, precision)
