"""A FITS file written one HDU at a time."""

from astropy.io import fits

from crclean.io._hdus import release_data

__all__ = ["FitsStream"]


class FitsStream:
    """Write a new FITS file HDU by HDU, keeping no written data in memory.

    Each HDU is checked against the FITS standard, written, and dropped: its
    data is released once it is in the file (for an HDU read from a file,
    the next ``.data`` reads that file again). ``.gz`` names are gzipped;
    tile-compressed HDUs are compressed as they are written. Unmodified HDUs
    read from another file are copied byte for byte.

    The primary HDU is held back until the first extension arrives (or
    `finish`), so that astropy can give it ``EXTEND = T`` when the file
    has extensions, as `astropy.io.fits.HDUList.writeto` would.

    Parameters
    ----------
    path : pathlib.Path
        A file that does not exist yet.
    """

    def __init__(self, path):
        self.path = path
        self._hdul = fits.open(path, mode="ostream")
        self._held = False  # the primary HDU waits for the first extension

    def write(self, hdu):
        """Append ``hdu``: the primary HDU first, then extensions."""
        self._hdul.append(hdu)
        if len(self._hdul) == 1:
            self._held = True
            return
        self._flush()
        if self._held:
            release_data(self._hdul[0])
            self._held = False
        release_data(hdu)
        del self._hdul[1]

    def finish(self):
        """Write the primary HDU if it is still held back, and close the file."""
        try:
            if self._held:
                self._flush()
                self._held = False
        finally:
            self.close()

    def close(self):
        """Close the file without writing what is held back; safe to call twice."""
        if self._hdul is not None:
            hdul, self._hdul = self._hdul, None
            hdul.close(output_verify="ignore")

    def _flush(self):
        try:
            self._hdul.flush(output_verify="exception")
        except fits.VerifyError:
            # Headers copied from the input break the standard; let astropy
            # fix them. Verification comes before writing, so nothing was written.
            self._hdul.flush(output_verify="fix")
