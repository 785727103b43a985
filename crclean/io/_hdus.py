"""Small facts about HDUs, read from headers only (no data is loaded)."""

from astropy.io import fits

__all__ = [
    "ANCILLARY_NAMES",
    "hdu_name",
    "hdu_extver",
    "hdu_shape",
    "hdu_label",
    "is_image",
    "is_table",
    "describe_hdus",
    "paired_dq_index",
    "release_data",
]

# Extensions that accompany a science image rather than being one, by the conventions that write
# them: HST (DQ, ERR, WHT, IVM, CTX, CON), Gemini (VAR, DQ, MDF), LSST/HSC (MASK, VARIANCE), DES
# (MSK, WGT), SWarp (WEIGHT), JWST (VAR_POISSON, VAR_RNOISE, VAR_FLAT), noise and exposure maps.
ANCILLARY_NAMES = frozenset(
    {"DQ", "ERR", "VAR", "WHT", "IVM", "MASK", "BPM", "CRPROB", "MDF",
     "VARIANCE", "MSK", "WGT", "WEIGHT", "CTX", "CON", "CONTEXT", "VAR_POISSON", "VAR_RNOISE", "VAR_FLAT",
     "RMS", "NOISE", "SIGMA", "EXPMAP"}
)


def hdu_name(hdu):
    """EXTNAME upper-cased without surrounding blanks; '' when absent."""
    name = hdu.header.get("EXTNAME", "")
    return str(name).strip().upper()


def hdu_extver(hdu):
    """EXTVER as int, 1 when absent or not an integer."""
    value = hdu.header.get("EXTVER", 1)
    if isinstance(value, bool):
        return 1
    try:
        return int(value)
    except (TypeError, ValueError):
        return 1


def is_image(hdu):
    """True for primary, image and tile-compressed image HDUs."""
    if isinstance(hdu, fits.GroupsHDU):  # a PrimaryHDU subclass, but a table
        return False
    return isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU))


def is_table(hdu):
    """True for ASCII, binary and random-groups tables."""
    return isinstance(hdu, (fits.BinTableHDU, fits.TableHDU, fits.GroupsHDU))


def hdu_shape(hdu):
    """Numpy-order shape from NAXISn; () when the HDU holds no data."""
    header = hdu.header
    naxis = header.get("NAXIS", 0)
    shape = tuple(int(header.get(f"NAXIS{axis}", 0)) for axis in range(naxis, 0, -1))
    if not shape or 0 in shape:
        return ()
    return shape


def hdu_label(hdu, index):
    """Short name for messages: ``'SCI,2'``, ``'N4'`` or ``'HDU 0'``."""
    name = hdu_name(hdu)
    if not name or (index == 0 and name == "PRIMARY"):
        return f"HDU {index}"
    if "EXTVER" in hdu.header:
        return f"{name},{hdu_extver(hdu)}"
    return name


def describe_hdus(hdul):
    """HDUs as ``0 PRIMARY (no data); 1 SCI,1 (200x150 image)`` for one-line error messages."""
    lines = []
    for index, hdu in enumerate(hdul):
        shape = hdu_shape(hdu)
        if is_table(hdu):
            kind = "table"
        elif shape:
            kind = "x".join(str(size) for size in reversed(shape)) + " image"
        else:
            kind = "no data"
        name = hdu_name(hdu) or "-"
        lines.append(f"{index} {name},{hdu_extver(hdu)} ({kind})")
    return "; ".join(lines)


def paired_dq_index(hdul, index):
    """Index of the DQ extension paired with image ``index``, or None.

    A DQ pairs with an image when its EXTNAME is ``DQ``, its EXTVER equals the
    image's and its shape matches. When several DQ extensions qualify (an
    ambiguous file), none is paired and a new DQ will be written instead.
    """
    image = hdul[index]
    if hdu_name(image) == "DQ":
        return None
    extver = hdu_extver(image)
    shape = hdu_shape(image)
    matches = [
        position
        for position, hdu in enumerate(hdul)
        if position != index
        and is_image(hdu)
        and hdu_name(hdu) == "DQ"
        and hdu_extver(hdu) == extver
        and hdu_shape(hdu) == shape
    ]
    return matches[0] if len(matches) == 1 else None


def release_data(hdu):
    """Forget the data astropy keeps in memory once ``hdu.data`` was read.

    Without memory mapping astropy holds every array it has read until the
    file is closed, so a file read one HDU at a time would end up wholly in
    memory. For an HDU read from a file the next ``hdu.data`` reads the file
    again; for one built in memory the data are gone (use it only once they
    are written).
    """
    if "data" in vars(hdu):  # astropy caches .data on the instance
        del hdu.data  # astropy's documented way to drop the array
