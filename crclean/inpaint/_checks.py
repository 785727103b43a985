"""Input checks shared by every inpainting method."""

import numpy as np

__all__ = ["checked_image_and_mask"]


def checked_image_and_mask(image, mask):
    """``(image, mask)`` as arrays, the mask boolean, after checking them.

    Raises
    ------
    ValueError
        If they are not 2-D of one shape, or the image is not real-valued.
    """
    image = np.asarray(image)
    mask = np.asarray(mask)
    if image.ndim != 2 or image.shape != mask.shape:
        raise ValueError(f"image and mask must be 2-D of one shape, got {image.shape} and {mask.shape}")
    if not np.issubdtype(image.dtype, np.number) or np.iscomplexobj(image):
        raise ValueError(f"image must hold real numbers, got dtype {image.dtype}")
    return image, mask.astype(bool)
