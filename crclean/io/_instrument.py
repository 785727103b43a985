"""Space or ground? Read from the FITS keywords that name the telescope and instrument.

crclean's mask models are trained for one kind of data each: ground-based CCDs
(seeing-limited PSF, thick or thin sensors) or space CCDs (sharp, undersampled
PSF, dense cosmic rays in long exposures), and each does badly on the other
kind. `classify_headers` tells the two apart so that ``crclean mask`` can pick
the model for each file.

A value names a space mission when one of the names below appears in it as a
whole word (or run of words): case, padding and punctuation do not matter, so
``TELESCOP = 'HST'``, ``'Hubble Space Telescope'`` and ``INSTRUME = 'WFC3/UVIS'``
all match, while ``'TESSA'`` does not match ``TESS``. Telescope names are
looked for in ``TELESCOP`` and ``OBSERVAT``; instrument names in ``INSTRUME``
and ``DETECTOR``, and only names no ground instrument is known to share
(``SWIFT`` is also a Palomar spectrograph, ``WFI`` an ESO camera, ``VIS`` and
``OM`` are too short), since space files carry their telescope in ``TELESCOP``
anyway. ``ORIGIN`` is not read: it names the software or institution that
wrote the file (ground data reduced with IRAF's STSDAS say ``'STScI-STSDAS'``).
A header that names no space mission is ground data, the common case.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["DataKind", "KIND_KEYWORDS", "SPACE_INSTRUMENTS", "SPACE_TELESCOPES", "classify_headers"]

#: The keywords read, in the order they are shown.
KIND_KEYWORDS = ("TELESCOP", "INSTRUME", "DETECTOR", "OBSERVAT")

#: Space telescopes and missions, as they are written in ``TELESCOP`` or ``OBSERVAT``.
SPACE_TELESCOPES = {
    "HST": "Hubble Space Telescope (ACS, WFC3, WFPC2, STIS, NICMOS)",
    "HUBBLE": "Hubble Space Telescope",
    "JWST": "James Webb Space Telescope (NIRCam, NIRISS, NIRSpec, MIRI)",
    "JAMES WEBB": "James Webb Space Telescope",
    "EUCLID": "Euclid (VIS, NISP)",
    "ROMAN": "Nancy Grace Roman Space Telescope",
    "WFIRST": "Roman's former name",
    "SPITZER": "Spitzer Space Telescope (IRAC, MIPS)",
    "KEPLER": "Kepler; K2 files also say TELESCOP = 'Kepler'",
    "K2": "Kepler's second mission",
    "TESS": "Transiting Exoplanet Survey Satellite",
    "GAIA": "Gaia",
    "SWIFT": "Neil Gehrels Swift Observatory (UVOT)",
    "XMM": "XMM-Newton (Optical Monitor)",
    "GALEX": "Galaxy Evolution Explorer",
    "CHEOPS": "Characterising Exoplanet Satellite",
    "PLATO": "PLAnetary Transits and Oscillations of stars",
    "COROT": "CoRoT",
    "CSST": "China Space Station Telescope",
}

#: Instruments of space telescopes whose names no ground instrument shares, as written in
#: ``INSTRUME`` or ``DETECTOR``.
SPACE_INSTRUMENTS = {
    "ACS": "HST Advanced Camera for Surveys",
    "WFC3": "HST Wide Field Camera 3",
    "WFPC2": "HST Wide Field and Planetary Camera 2",
    "WFPC": "HST Wide Field and Planetary Camera",
    "STIS": "HST Space Telescope Imaging Spectrograph",
    "NICMOS": "HST Near Infrared Camera and Multi-Object Spectrometer",
    "NIRCAM": "JWST Near Infrared Camera",
    "NIRISS": "JWST Near Infrared Imager and Slitless Spectrograph",
    "NIRSPEC": "JWST Near Infrared Spectrograph",
    "MIRI": "JWST Mid-Infrared Instrument",
    "NISP": "Euclid Near Infrared Spectrometer and Photometer",
    "IRAC": "Spitzer Infrared Array Camera",
    "UVOT": "Swift UltraViolet/Optical Telescope",
    "UVOTA": "Swift UVOT, as its files name it",
}

_WORD = re.compile(r"[A-Z0-9]+")
_KIND_WORDS = {"TELESCOP": SPACE_TELESCOPES, "OBSERVAT": SPACE_TELESCOPES,
               "INSTRUME": SPACE_INSTRUMENTS, "DETECTOR": SPACE_INSTRUMENTS}


@dataclass(frozen=True)
class DataKind:
    """What `classify_headers` found.

    Attributes
    ----------
    kind : str
        ``'space'`` or ``'ground'``.
    keywords : tuple of (str, str)
        The `KIND_KEYWORDS` present, with their first value (padding stripped).
    match : str or None
        The space telescope or instrument named (a key of `SPACE_TELESCOPES` or
        `SPACE_INSTRUMENTS`), ``None`` for ground data.
    """

    kind: str
    keywords: tuple = ()
    match: str = None

    @property
    def reason(self):
        """One line saying why, e.g. ``TELESCOP='HST' INSTRUME='ACS'``."""
        shown = " ".join(f"{name}={value!r}" for name, value in self.keywords)
        if self.kind == "space":
            return shown
        missing = f"no space telescope named in {'/'.join(KIND_KEYWORDS[:3])}"
        return f"{shown}: {missing}" if shown else missing


def _words(value):
    return _WORD.findall(str(value).upper())


def _names_in(words, names):
    """The first of ``names`` whose words appear, in a row, among ``words``."""
    for name in names:
        wanted = name.split()
        if any(words[start:start + len(wanted)] == wanted for start in range(len(words) - len(wanted) + 1)):
            return name
    return None


def classify_headers(headers):
    """Say whether FITS headers describe space or ground data.

    Parameters
    ----------
    headers : astropy.io.fits.Header, mapping, or sequence of them
        The primary header and the image extension's (the telescope is usually
        in the primary, the detector sometimes only in the extension).

    Returns
    -------
    DataKind
        ``kind`` is ``'space'`` when ``TELESCOP`` or ``OBSERVAT`` names a
        space telescope of `SPACE_TELESCOPES`, or ``INSTRUME`` or ``DETECTOR``
        a space instrument of `SPACE_INSTRUMENTS`; otherwise ``'ground'``
        (also when none of the keywords is present).

    Raises
    ------
    TypeError
        If ``headers`` is not a header or a sequence of headers.

    Examples
    --------
    >>> classify_headers({"TELESCOP": "HST", "INSTRUME": "WFC3"}).kind
    'space'
    >>> classify_headers({"TELESCOP": "CTIO 4.0-m telescope", "INSTRUME": "DECam"}).kind
    'ground'
    """
    if isinstance(headers, Mapping):
        headers = [headers]
    elif isinstance(headers, (str, bytes)) or not hasattr(headers, "__iter__"):
        raise TypeError(f"headers must be a FITS header or a sequence of them, got {headers!r}")
    headers = list(headers)
    for header in headers:
        if not isinstance(header, Mapping):
            raise TypeError(f"headers must be a FITS header or a sequence of them, got an item {header!r}")
    shown, match = [], None
    for keyword in KIND_KEYWORDS:
        # A keyword without a value reads as astropy's Undefined: skip it like a missing one.
        values = [header.get(keyword) for header in headers]
        values = [str(value).strip() for value in values
                  if isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value).strip()]
        if values:
            shown.append((keyword, values[0]))
        for value in values:
            match = match or _names_in(_words(value), _KIND_WORDS[keyword])
    return DataKind("space" if match else "ground", tuple(shown), match)
