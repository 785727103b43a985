"""The light under a pixel without its sharp structure: a median over its neighbours.

LA Cosmic (van Dokkum 2001) tells a cosmic ray from a star by how much sharper
it is than a median-filtered model of the image's smooth light; the median
ignores a hit narrower than half its window, a mean or a convolution does
not. A network's convolutions cannot compute a median, so a mask network can
be given one as an input plane (`crclean.models.UNet`, ``median_plane``).

Separable: a median along each row, then along each column of that (a
``size`` x ``size`` median costs four times as much on the CPU, measured).
A track that covers at most ``size // 2`` pixels of each row, or of each
column, vanishes from it: one along a row survives the row pass and is
removed by the column pass. With 5 px that is up to 2 px wide along an
axis and about 1.4 px across a diagonal; wider tracks stay, as they do in
a 5 x 5 median.

References
----------
van Dokkum, P. G. 2001, PASP 113, 1420 (LA Cosmic).
"""

from torch.nn import functional as F

__all__ = ["local_median"]


def local_median(x, *, size=5):
    """Median of ``size`` pixels along rows, then along columns, of each plane of ``x``.

    Parameters
    ----------
    x : torch.Tensor
        (N, C, H, W), each side at least ``size // 2 + 1`` pixels.
    size : int, optional
        Odd window length.

    Returns
    -------
    torch.Tensor
        The same shape as ``x``; the borders mirror the image (reflect
        padding), so the edge pixels' median is of real pixels.
    """
    if size % 2 != 1 or size < 3:
        raise ValueError(f"size must be an odd number of at least 3, got {size!r}")
    half = size // 2
    rows = F.pad(x, (half, half, 0, 0), mode="reflect").unfold(3, size, 1).median(dim=-1).values
    return F.pad(rows, (0, 0, half, half), mode="reflect").unfold(2, size, 1).median(dim=-1).values
