"""`cosmicray_crclean`: crclean in a ccdproc pipeline, on `astropy.nddata.CCDData`."""

from functools import lru_cache

import numpy as np

from crclean.inpaint import DEFAULT_INPAINTER
from crclean import weights
from crclean.weights import AUTO_MODEL

__all__ = ["cosmicray_crclean"]


def cosmicray_crclean(ccd, *, model=AUTO_MODEL, threshold=0.5, inpaint=DEFAULT_INPAINTER, device="auto",
                      gain=None, readnoise=None, grow_threshold=None, star_check=True,
                      axis_tracks=True):
    """Identify cosmic rays in a `~astropy.nddata.CCDData` with a crclean model, and inpaint them.

    Named and called like `ccdproc.cosmicray_lacosmic`, so that a ccdproc
    reduction can swap one for the other; unlike it, the result is always a
    new `~astropy.nddata.CCDData` and the input is never changed.

    Parameters
    ----------
    ccd : astropy.nddata.CCDData
        A 2-D image, at least 16x16 pixels, in ADU, electrons or electrons
        per second (its ``unit``). Pixels already in ``ccd.mask`` are never
        used to fill others and keep their values unless the model flags
        them. The whole array is searched: trim prescan and overscan first
        (`ccdproc.trim_image`), as a ccdproc reduction does anyway.
    model : str, optional
        A name from ``crclean models``, or ``'auto'`` (the default): the
        space or the ground model, chosen from ``TELESCOP``/``INSTRUME``/
        ``DETECTOR``/``OBSERVAT`` in ``ccd.meta`` as ``crclean mask`` does
        (`crclean.io.classify_headers`). The model is loaded on the first
        call and kept for later calls with the same settings, so a loop over
        many frames loads it once.
    threshold : float, optional
        Probability above which a pixel is flagged, in (0, 1).
    grow_threshold : float, optional
        Grow each flagged hit into the pixels above this lower probability
        that touch it (see `crclean.Cleaner`); None (the default) grows nothing.
    star_check : bool, optional
        Take back flags on stars that the frame's unflagged stars explain
        (see `crclean.Cleaner`); on by default.
    axis_tracks : bool, optional
        Also flag long tracks along rows and columns that the model left
        (see `crclean.Cleaner`); on by default.
    inpaint : str or None, optional
        Inpainting method (see `crclean.Cleaner`), or ``None`` to keep the
        data and only add the mask.
    device : str, optional
        ``'auto'``, ``'cpu'`` or ``'cuda'``.
    gain, readnoise : float, optional
        e-/ADU and electrons; default from the header keywords ``crclean
        mask`` reads (``GAIN``, ``RDNOISE``...). A gain is needed when the
        data's unit differs from the model's.

    Returns
    -------
    astropy.nddata.CCDData
        A new object: ``data`` inpainted (a float array; the input's values
        where nothing was flagged), ``mask`` the input's mask OR-ed with the
        cosmic-ray pixels, ``unit``, ``uncertainty``, ``flags`` and ``wcs``
        copied from the input, and ``meta`` a copy of the input's with the
        provenance keywords of ``crclean mask`` (``CRMODEL``, ``CRTHRESH``,
        ``NCRPIX``...; no ``CRDQBIT``: there is no DQ) and a ``HISTORY`` line.

    Raises
    ------
    TypeError
        If ``ccd`` is not a CCDData.
    ValueError
        For a bad option value, or an image that is not 2-D or too small.
    crclean.exceptions.ModelError
        If the model's weights are missing or damaged.

    See Also
    --------
    crclean.Cleaner.clean_file : the same for FITS files, with DQ extensions.

    References
    ----------
    Craig, M. et al. 2017, "ccdproc: CCD data reduction software",
    Zenodo, doi:10.5281/zenodo.1069648 (the CCDData conventions followed here).

    Examples
    --------
    >>> from ccdproc import ImageFileCollection  # doctest: +SKIP
    >>> from crclean import cosmicray_crclean
    >>> frames = ImageFileCollection("reduced/")
    >>> for ccd, name in frames.ccds(imagetyp="object", return_fname=True, ccd_kwargs={"unit": "adu"}):
    ...     cosmicray_crclean(ccd, threshold=0.5).write(f"clean/{name}")
    """
    from astropy.io import fits
    from astropy.nddata import CCDData

    from crclean._clean_file import provenance
    from crclean.io import classify_headers
    from crclean.io._units import (header_exptime, header_gain, header_readnoise, normalise_units,
                                   validate_override)

    if not isinstance(ccd, CCDData):
        raise TypeError(f"ccd must be an astropy.nddata.CCDData, got {type(ccd).__name__}; "
                        "wrap an array as CCDData(data, unit='adu')")
    if model == AUTO_MODEL:
        model = weights.AUTO_MODELS[classify_headers([ccd.meta]).kind]
    gain = validate_override("gain", gain)
    readnoise = validate_override("readnoise", readnoise)
    try:
        cleaner = _cleaner(model, threshold, inpaint, device, grow_threshold, star_check, axis_tracks)
    except TypeError:  # an unhashable option: built uncached, Cleaner says what is wrong with it
        cleaner = _cleaner.__wrapped__(model, threshold, inpaint, device, grow_threshold, star_check, axis_tracks)
    label = "the CCDData"
    headers = [ccd.meta]
    saturation = ccd.meta.get("SATURATE")
    defects = None if ccd.mask is None else np.asarray(ccd.mask, dtype=bool)
    result = cleaner.clean_array(
        np.asarray(ccd.data), units=normalise_units(ccd.unit.to_string(), where=label),
        gain=gain if gain is not None else header_gain(headers, where=label),
        readnoise=readnoise if readnoise is not None else header_readnoise(headers, where=label),
        exptime=header_exptime(headers, where=label),
        saturation=saturation if _is_number(saturation) else None, defects=defects, label=label,
    )
    cleaned = ccd.copy()  # deep: the input's arrays and meta stay as they were
    if result.cleaned is not None:
        cleaned.data = result.cleaned.astype(np.result_type(ccd.data.dtype, np.float32), copy=False)
    cleaned.mask = result.mask if defects is None else defects | result.mask
    keywords, history = provenance(cleaner, result.n_flagged, dq_bit=None)
    if isinstance(cleaned.meta, fits.Header):
        for key, card in keywords.items():
            cleaned.meta[key] = card
        cleaned.meta.add_history(history)
    else:  # a plain mapping has no comments and one value per key
        for key, (value, _) in keywords.items():
            cleaned.meta[key] = value
    return cleaned


def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


@lru_cache(maxsize=4)
def _cleaner(model, threshold, inpaint, device, grow_threshold=None, star_check=True, axis_tracks=True):
    """A `crclean.Cleaner` per setting, kept so that a loop over frames loads its model once."""
    from crclean.clean import Cleaner

    return Cleaner(model, threshold=threshold, inpaint=inpaint, device=device, grow_threshold=grow_threshold,
                   star_check=star_check, axis_tracks=axis_tracks)
