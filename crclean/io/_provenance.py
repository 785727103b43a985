"""Every FITS header keyword crclean writes, in one place.

A processed image extension receives the keywords of
:func:`provenance_keywords` and one ``HISTORY`` line. New ``DQ`` and
``CRPROB`` extensions receive ``CRIMAGE``, naming the image they describe.
"""

import math
import numbers
import re

import numpy as np

__all__ = ["PROVENANCE_KEYWORDS", "provenance_keywords"]

PROVENANCE_KEYWORDS = {
    "CRVERS": "Version of crclean that made this extension.",
    "CRMODEL": "Name of the cosmic-ray model (registered name in the weights manifest).",
    "CRWSHA": "First 12 hex digits of the SHA-256 of the model weights file, "
    "or 'none' when no weights file was used.",
    "CRTHRESH": "Probability threshold above which a pixel is flagged as a cosmic ray.",
    "CRGROW": "Lower probability into which flagged hits were grown (pixels above it that touch a "
    "flagged pixel were flagged too); absent when masks were not grown.",
    "CRSTARS": "Whether the model's flags on stars that the frame's unflagged stars explain were taken back "
    "(T) or not (F); absent in files from crclean 0.1.",
    "CRAXTRK": "Whether long tracks along rows and columns that the model left unflagged were searched for "
    "and flagged (T) or not (F); absent in files from crclean 0.1.",
    "NCRPIX": "Number of pixels flagged as cosmic rays in this extension.",
    "CRINPNT": "Inpainting method used to replace flagged pixels, or 'none' when "
    "the data were left as they were.",
    "CRTILE": "Side in pixels of the square tiles the image was processed in.",
    "CROVLAP": "Overlap in pixels between neighbouring tiles.",
    "CRDQBIT": "Bit value set in the DQ extension where a cosmic ray was found "
    "(absent when no DQ was written, e.g. for a CCDData).",
    "CRSECT": "The data section searched for cosmic rays, in FITS notation "
    "('[17:528,1:520]'), from the header's TRIMSEC/DATASEC/BIASSEC; absent when "
    "the whole image was searched.",
    "CRIMAGE": "In a DQ or CRPROB extension written by crclean: the image "
    "extension it describes (e.g. 'SCI,2' or 'HDU 0').",
}
"""dict: each keyword crclean writes -> what it means."""

# Short comments that fit in the 80-character card next to the value.
_COMMENTS = {
    "CRVERS": "crclean version",
    "CRMODEL": "cosmic-ray model name",
    "CRWSHA": "sha256 of model weights (first 12 hex)",
    "CRTHRESH": "cosmic-ray probability threshold",
    "CRGROW": "flagged hits grown to this probability",
    "CRSTARS": "flags on stars like the frame's taken back",
    "CRAXTRK": "long tracks along rows/columns searched",
    "NCRPIX": "number of pixels flagged as cosmic rays",
    "CRINPNT": "inpainting method for flagged pixels",
    "CRTILE": "[pixel] tile size",
    "CROVLAP": "[pixel] tile overlap",
    "CRDQBIT": "DQ bit set for cosmic rays",
    "CRSECT": "data section searched for cosmic rays",
    "CRIMAGE": "image extension this HDU describes",
}

_HEX = re.compile(r"^[0-9a-fA-F]{12,}$")


def _require_int(name, value, *, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _require_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _require_text(name, value):
    if not isinstance(value, str) or not value.isprintable():
        raise ValueError(f"{name} must be printable text, got {value!r}")
    return value


def provenance_keywords(
    *, version, model, weights_sha256, threshold, n_flagged, inpaint, tile_size, overlap, dq_bit,
    section=None, grow_threshold=None, star_check=None, axis_tracks=None,
):
    """Header keywords recording how an extension was processed.

    Parameters
    ----------
    version : str
        crclean version.
    model : str
        Model name.
    weights_sha256 : str or None
        Hex SHA-256 of the weights file; None when there is none.
    threshold : float
        Probability threshold, in [0, 1].
    n_flagged : int
        Number of flagged pixels.
    inpaint : str or None
        Inpainting method, None for none.
    tile_size, overlap : int
        Tiling, in pixels.
    dq_bit : int or None
        DQ bit value set for cosmic rays; None when no DQ is written (no ``CRDQBIT``).
    section : str, optional
        The data section searched, in FITS notation (``CRSECT``); None when
        the whole image was.
    grow_threshold : float, optional
        The lower probability hits were grown into (``CRGROW``); None when
        they were not.
    star_check : bool, optional
        Whether flags on stars the frame's other stars explain were taken
        back (``CRSTARS``); None leaves the keyword out.
    axis_tracks : bool, optional
        Whether the axis-track search ran (``CRAXTRK``); None leaves the
        keyword out.

    Returns
    -------
    dict
        ``{KEY: (value, comment)}`` for every keyword in
        `PROVENANCE_KEYWORDS` except ``CRIMAGE``, and except ``CRDQBIT``,
        ``CRSECT``, ``CRGROW``, ``CRSTARS`` and ``CRAXTRK`` when ``dq_bit``,
        ``section``, ``grow_threshold``, ``star_check`` or ``axis_tracks`` is None.
    """
    version = _require_text("version", version)
    model = _require_text("model", model)
    if weights_sha256 is None or weights_sha256 == "":
        sha = "none"
    elif isinstance(weights_sha256, str) and _HEX.match(weights_sha256):
        sha = weights_sha256[:12].lower()
    else:
        raise ValueError(
            f"weights_sha256 must be a hex SHA-256 digest or None, got {weights_sha256!r}"
        )
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, numbers.Real)
        or not math.isfinite(threshold)
        or not 0 <= threshold <= 1
    ):
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}")
    if grow_threshold is not None and (
        isinstance(grow_threshold, bool)
        or not isinstance(grow_threshold, numbers.Real)
        or not 0 < grow_threshold < threshold
    ):
        raise ValueError(f"grow_threshold must be a number between 0 and threshold, got {grow_threshold!r}")
    inpaint = "none" if inpaint is None else _require_text("inpaint", inpaint)
    values = {
        "CRVERS": version,
        "CRMODEL": model,
        "CRWSHA": sha,
        "CRTHRESH": float(threshold),
        **({} if grow_threshold is None else {"CRGROW": float(grow_threshold)}),
        **({} if star_check is None else {"CRSTARS": _require_bool("star_check", star_check)}),
        **({} if axis_tracks is None else {"CRAXTRK": _require_bool("axis_tracks", axis_tracks)}),
        "NCRPIX": _require_int("n_flagged", n_flagged, minimum=0),
        "CRINPNT": inpaint,
        "CRTILE": _require_int("tile_size", tile_size, minimum=1),
        "CROVLAP": _require_int("overlap", overlap, minimum=0),
    }
    if dq_bit is not None:
        values["CRDQBIT"] = _require_int("dq_bit", dq_bit, minimum=1)
    if section is not None:
        values["CRSECT"] = _require_text("section", section)
    return {key: (value, _COMMENTS[key]) for key, value in values.items()}


def crimage_keyword(label):
    """The ``CRIMAGE`` card for a new DQ or CRPROB extension."""
    return {"CRIMAGE": (label, _COMMENTS["CRIMAGE"])}
