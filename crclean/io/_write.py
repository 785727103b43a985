"""Write the cleaned exposure, its DQ flags and probability maps, one HDU at a time."""

import os
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from astropy.io import fits

from crclean.exceptions import InputError, OutputError
from crclean.io._hdus import (
    hdu_extver,
    hdu_label,
    hdu_name,
    hdu_shape,
    paired_dq_index,
    release_data,
)
from crclean.io._paths import check_output_writable, output_errors, publish, temporary_path
from crclean.io._products import (
    PlaneResult,
    check_dq_bit,
    check_index,
    check_result,
    flagged_dq_hdu,
    free_extver,
    new_dq_hdu,
    probability_hdu,
    processed_hdu,
)
from crclean.io._stream import FitsStream

__all__ = ["PlaneResult", "ProductWriter", "write_products"]


class ProductWriter:
    """Write the cleaned copy of an exposure as its planes are cleaned.

    The product is the one `write_products` describes, but only about one
    image's worth of data is in memory at a time, however many extensions the
    file has: `write` takes the `PlaneResult` of one planned image, writes
    every input HDU that no longer waits for a result (the image itself, the
    HDUs after it, its DQ with the new bit), then releases them; the new
    ``DQ`` and ``CRPROB`` extensions go to a scratch file next to the output.
    `finish` appends those, checks the file against the FITS standard and
    renames it into place. Until then the product exists only under a hidden
    temporary name, removed by `close` (or leaving the ``with`` block) if
    `finish` was not reached, whatever the error.

    Results are best given in file order. An HDU that waits for a later
    result (images given out of order, or a DQ stored before its image) is
    kept in memory until that result arrives.

    Parameters
    ----------
    exposure : Exposure
        The opened input (still open until `finish` returns).
    output_path : str or os.PathLike
        The product; ``.gz`` names are gzipped.
    planned : sequence of int
        HDU indices of the 2-D images that will get a `PlaneResult`, in the
        order `write` will receive them.
    dq_bit : int, optional
        Power of two set in DQ where a cosmic ray was found.
    overwrite : bool, optional
        Replace an existing ``output_path``.

    Raises
    ------
    crclean.exceptions.OutputError
        If the product exists (without ``overwrite``), would replace the
        input, or cannot be written.

    Examples
    --------
    >>> with open_exposure("in.fits") as exposure:  # doctest: +SKIP
    ...     planned = select_planes(exposure)
    ...     with ProductWriter(exposure, "out.fits", planned) as writer:
    ...         for index in planned:
    ...             writer.write(clean(read_plane(exposure, index)))  # a PlaneResult
    ...         writer.finish()
    """

    def __init__(self, exposure, output_path, planned, *, dq_bit=8192, overwrite=False):
        self._raw = self._main = self._extras = None
        self._temporary = self._extras_path = None
        check_dq_bit(dq_bit)
        planned = [check_index(exposure, index, "planned HDU index") for index in planned]
        if len(set(planned)) != len(planned):
            raise ValueError(f"planned HDU indices repeat: {planned}; give each image once")
        output_path = Path(output_path)
        if output_path.exists() and os.path.samefile(output_path, exposure.path):
            raise OutputError(
                f"{output_path} is the input file; crclean never overwrites its input"
            )
        check_output_writable(output_path, overwrite=overwrite)
        self.output_path = output_path
        self._exposure = exposure
        self._dq_bit = dq_bit
        self._overwrite = overwrite
        self._pending = set(planned)  # planned images whose result has not come
        self._processed = {}  # index -> processed HDU waiting for its turn
        self._flags = {}  # DQ index -> (first image's label, packed union of masks)
        self._next = 0  # the next input HDU to write
        self._raw = _reopen(exposure)
        try:
            self._start(planned)
        except BaseException:
            self.close()
            raise

    def _start(self, planned):
        raw = self._raw
        self._count = len(raw)
        self._dq_of = {index: paired_dq_index(raw, index) for index in planned}
        self._flagged_by = {}  # DQ index -> the planned images whose bits it takes
        for index, dq_index in self._dq_of.items():
            if dq_index is not None:
                self._flagged_by.setdefault(dq_index, set()).add(index)
        self._taken = {
            name: {hdu_extver(hdu) for hdu in raw if hdu_name(hdu) == name}
            for name in ("DQ", "CRPROB")
        }
        self._temporary = temporary_path(self.output_path)
        self._extras_path = temporary_path(self.output_path, part="extra")
        with output_errors(self.output_path):
            self._main = FitsStream(self._temporary)
            # The new extensions wait in a FITS file of their own, behind an empty primary.
            self._extras = FitsStream(self._extras_path)
            self._extras.write(fits.PrimaryHDU())
            self._advance()

    def write(self, result):
        """Add the result of one planned image and write all that can be written.

        Parameters
        ----------
        result : PlaneResult
            For one of the planned HDUs, each once.

        Raises
        ------
        ValueError
            If ``result`` does not fit its HDU, or its HDU is not planned or
            was written already.
        crclean.exceptions.OutputError
            If the temporary files cannot be written; the writer is then
            closed and they are removed.
        """
        if self._main is None:
            raise ValueError("this ProductWriter is closed; open a new one")
        index = check_result(self._exposure, result)
        if index not in self._pending:
            raise ValueError(
                f"HDU {index} is not planned or already written; give one PlaneResult "
                "per planned HDU"
            )
        try:
            self._add(index, result)
        except BaseException:
            self.close()
            raise

    def _add(self, index, result):
        source = self._raw[index]
        label = hdu_label(source, index)
        self._pending.discard(index)
        self._processed[index] = processed_hdu(source, result)
        dq_index = self._dq_of[index]
        if dq_index is not None:
            self._add_flags(dq_index, result.mask, label)
        with output_errors(self.output_path):
            for hdu in self._new_extensions(index, result, label):
                self._extras.write(hdu)
            self._advance()

    def _add_flags(self, dq_index, mask, label):
        # One bit per pixel: a DQ stored after several images waits with all their masks.
        bits = np.packbits(np.asarray(mask, dtype=bool))
        first_label, earlier = self._flags.get(dq_index, (label, 0))
        self._flags[dq_index] = (first_label, earlier | bits)

    def _new_extensions(self, index, result, label):
        source = self._raw[index]
        needs = [] if self._dq_of[index] is not None else ["DQ"]
        needs += ["CRPROB"] if result.probability is not None else []
        version = free_extver((hdu_extver(source), index), [self._taken[name] for name in needs])
        for name in needs:
            self._taken[name].add(version)
        if self._dq_of[index] is None:
            yield new_dq_hdu(source, np.asarray(result.mask), self._dq_bit, version, label)
        if result.probability is not None:
            yield probability_hdu(source, result.probability, version, label)

    def _advance(self):
        """Write input HDUs in order until one waits for a result."""
        while self._next < self._count:
            hdu = self._hdu_at(self._next)
            if hdu is None:
                return
            self._main.write(hdu)
            release_data(self._raw[self._next])
            self._next += 1

    def _hdu_at(self, index):
        """What to write for input HDU ``index``, or None while it waits."""
        if index in self._pending or self._flagged_by.get(index, set()) & self._pending:
            return None
        processed = self._processed.pop(index, None)
        if index in self._flagged_by:
            # A DQ that was itself cleaned keeps its flags, not the cleaned values.
            label, packed = self._flags.pop(index)
            shape = hdu_shape(self._raw[index])
            mask = np.unpackbits(packed, count=int(np.prod(shape))).reshape(shape).view(bool)
            return flagged_dq_hdu(self._exposure, self._raw, index, mask, self._dq_bit, label)
        return self._raw[index] if processed is None else processed

    def finish(self):
        """Append the new extensions, verify the file and rename it into place.

        Returns
        -------
        pathlib.Path
            ``output_path``.

        Raises
        ------
        ValueError
            If a planned image got no result (nothing is written).
        crclean.exceptions.OutputError
            If the file cannot be written, fails FITS verification, or the
            output appeared meanwhile (without ``overwrite``).
        """
        if self._main is None:
            raise ValueError("this ProductWriter is closed; open a new one")
        try:
            if self._pending:
                missing = ", ".join(str(index) for index in sorted(self._pending))
                raise ValueError(f"no PlaneResult was written for planned HDU {missing}")
            with output_errors(self.output_path):
                self._extras.finish()
                with fits.open(self._extras_path, mode="readonly", memmap=False) as extras:
                    for hdu in extras[1:]:
                        self._main.write(hdu)  # copied byte for byte
                self._main.finish()
            publish(self._temporary, self.output_path, overwrite=self._overwrite)
        finally:
            self.close()
        return self.output_path

    def close(self):
        """Close the files and remove the temporary ones; safe to call twice.

        After `finish` the product stays; before, nothing is left behind.
        """
        with ExitStack() as cleanup:
            for path in (self._temporary, self._extras_path):
                if path is not None:
                    cleanup.callback(path.unlink, missing_ok=True)
            for closable in (self._raw, self._extras, self._main):
                if closable is not None:
                    cleanup.callback(closable.close)
            self._raw = self._main = self._extras = None
            self._temporary = self._extras_path = None
            self._processed, self._flags = {}, {}

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def _reopen(exposure):
    """The input again, unscaled, so that copied and cleaned data keep their stored form."""
    try:
        return fits.open(exposure.path, mode="readonly", memmap=False, do_not_scale_image_data=True)
    except (OSError, ValueError) as exc:
        raise InputError(f"{exposure.path} cannot be read again ({exc})") from exc


def write_products(exposure, results, output_path, *, dq_bit=8192, overwrite=False):
    """Write the cleaned copy of ``exposure`` with DQ flags and probabilities.

    Every input HDU is kept, in order. A processed HDU gets the cleaned data
    (cast back to its stored type and scaling), its provenance keywords and
    a HISTORY line. ``dq_bit`` is OR-ed into the paired DQ extension, or a new
    ``DQ`` (uint16) is appended; a ``CRPROB`` (float32) extension is appended
    for each probability map. Tile-compressed HDUs stay compressed the same
    way. The file is written to a temporary name and renamed into place.

    ``results`` are all in memory already; to write each plane as soon as it
    is cleaned, use `ProductWriter`, which this function wraps.

    Parameters
    ----------
    exposure : Exposure
        The opened input (still open).
    results : sequence of PlaneResult
        One per processed HDU.
    output_path : str or os.PathLike
        The product; ``.gz`` names are gzipped.
    dq_bit : int, optional
        Power of two set in DQ where a cosmic ray was found.
    overwrite : bool, optional
        Replace an existing ``output_path``.

    Returns
    -------
    pathlib.Path
        ``output_path``.

    Raises
    ------
    crclean.exceptions.OutputError
        If the product exists (without ``overwrite``), would replace the
        input, or cannot be written.
    """
    results = list(results)
    check_dq_bit(dq_bit)
    seen = set()
    for result in results:
        seen.add(check_result(exposure, result, seen))
    planned = [int(result.hdu_index) for result in results]
    with ProductWriter(
        exposure, output_path, planned, dq_bit=dq_bit, overwrite=overwrite
    ) as writer:
        for result in results:
            writer.write(result)
        return writer.finish()
