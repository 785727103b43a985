"""A stand-in detector and seeded tiles shared by the lens-finder tests."""

import numpy as np
import torch
import torch.nn.functional as F
from astropy.wcs import WCS


class BlobDetector(torch.nn.Module):
    """Reports every local maximum brighter than ``threshold`` as a 16-pixel box.

    It follows the RT-DETR output contract (normalised cxcywh boxes, logits),
    so the whole runtime path can be tested without trained weights.
    """

    def __init__(self, threshold=2.5, queries=6, side=16.0):
        super().__init__()
        self.threshold, self.queries, self.side = threshold, queries, side

    def forward(self, images):
        batch, _, height, width = images.shape
        peaks = (images == F.max_pool2d(images, 9, 1, 4)) & (images > self.threshold)
        logits = torch.full((batch, self.queries, 1), -8.0)
        boxes = torch.full((batch, self.queries, 4), 0.5)
        for b in range(batch):
            ys, xs = torch.nonzero(peaks[b, 0], as_tuple=True)
            order = torch.argsort(images[b, 0, ys, xs], descending=True)[: self.queries]
            for q, index in enumerate(order):
                logits[b, q, 0] = 4.0
                boxes[b, q] = torch.tensor([(xs[index] + 0.5) / width, (ys[index] + 0.5) / height,
                                            self.side / width, self.side / height])
        return {"pred_logits": logits, "pred_boxes": boxes}


class BlueBlobDetector(BlobDetector):
    """A multi-band stand-in: `BlobDetector` run on the first band minus the last.

    In normalised units an object as bright in every band cancels, so only
    objects brighter in the first (bluest) band than in the last are found:
    the bands must reach the network in order, each normalised by its own noise.
    """

    def forward(self, images):
        return super().forward(images[:, :1] - images[:, -1:])


def blob_image(shape, positions, *, seed=0, sky=100.0, amplitude=60.0, width=1.5):
    """Gaussian noise (sigma 1) on a sky with a gradient, plus Gaussian blobs at ``positions`` (x, y)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    image = sky + 0.01 * xx + rng.normal(0.0, 1.0, shape)
    for x, y in positions:
        image += amplitude * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * width ** 2))
    return image.astype(np.float32)


def tan_wcs(shape, scale_arcsec, *, ra=150.0, dec=2.0):
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [shape[1] / 2 + 0.5, shape[0] / 2 + 0.5]
    wcs.wcs.cd = np.array([[-scale_arcsec, 0.0], [0.0, scale_arcsec]]) / 3600.0
    return wcs


def colour_tile(shape, blue, grey, *, seed=0, sigmas=(1.0, 3.0, 8.0)):
    """A ``(3, ny, nx)`` g, r, i stack with blobs at ``blue`` (bright in g only) and ``grey`` (equal S/N in all).

    Each band has its own noise ``sigmas`` and sky; the blob amplitudes scale
    with it, so the grey blobs are the same in every band once normalised.
    """
    planes = []
    for band, sigma in enumerate(sigmas):
        plane = blob_image(shape, grey, seed=seed + band, sky=100.0 * (band + 1), amplitude=60.0) - 100.0 * (band + 1)
        plane = plane * sigma + 100.0 * (band + 1)
        if band == 0:
            plane += blob_image(shape, blue, seed=seed + 10, sky=0.0, amplitude=60.0) - blob_image(
                shape, [], seed=seed + 10, sky=0.0)
        planes.append(plane)
    return np.stack(planes).astype(np.float32)
