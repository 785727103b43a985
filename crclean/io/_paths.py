"""Where products go, whether they may be written there, and writing them safely."""

import glob
import os
import secrets
from contextlib import contextmanager
from pathlib import Path

from astropy.io import fits

from crclean.exceptions import OutputError

__all__ = [
    "fits_suffix",
    "output_path_for",
    "check_output_writable",
    "temporary_path",
    "remove_temporaries",
    "output_errors",
    "publish",
    "replace_via_temporary",
]

_FITS_EXTENSIONS = {".fits", ".fit", ".fts"}
_COMPRESSION_EXTENSIONS = {".fz", ".gz"}


def fits_suffix(name):
    """The FITS extension chain at the end of ``name``, case kept.

    ``'a.fits.fz'`` -> ``'.fits.fz'``, ``'a.FIT'`` -> ``'.FIT'``,
    ``'a.gz'`` -> ``'.gz'``; a name with no FITS extension gives its last
    suffix (``'a.dat'`` -> ``'.dat'``) or ``''``.
    """
    suffixes = Path(name).suffixes
    if not suffixes:
        return ""
    lower = [suffix.lower() for suffix in suffixes]
    if (
        len(lower) >= 2
        and lower[-1] in _COMPRESSION_EXTENSIONS
        and lower[-2] in _FITS_EXTENSIONS
    ):
        return "".join(suffixes[-2:])
    return suffixes[-1]


def output_path_for(input_path, *, output=None, outdir=None, suffix="_crclean"):
    """Path of the product written for ``input_path``.

    Parameters
    ----------
    input_path : str or os.PathLike
        The input file.
    output : str or os.PathLike, optional
        Explicit output path; wins over everything else.
    outdir : str or os.PathLike, optional
        Folder for the product; default the input's folder.
    suffix : str, optional
        Added to the name before its FITS extension chain:
        ``a.fits.fz`` -> ``a_crclean.fits.fz``.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    crclean.exceptions.OutputError
        If the result is the input file itself.
    """
    if not isinstance(suffix, str) or os.sep in suffix:
        raise ValueError(f"suffix must be text without {os.sep!r}, got {suffix!r}")
    input_path = Path(input_path)
    if output is not None:
        result = Path(output)
    else:
        folder = Path(outdir) if outdir is not None else input_path.parent
        chain = fits_suffix(input_path.name)
        stem = input_path.name[: len(input_path.name) - len(chain)]
        result = folder / f"{stem}{suffix}{chain}"
    if _same_file(result, input_path):
        raise OutputError(
            f"{result} is the input file; crclean never overwrites its input: "
            "choose another --output, --outdir or --suffix"
        )
    return result


def _same_file(first, second):
    try:
        if first.exists() and second.exists():
            return os.path.samefile(first, second)
    except OSError:
        pass
    return first.resolve() == second.resolve()


def check_output_writable(path, *, overwrite):
    """Fail early if the product cannot be written to ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        Planned output file.
    overwrite : bool
        Whether an existing file may be replaced.

    Raises
    ------
    crclean.exceptions.OutputError
        If the file exists (without ``overwrite``), is a folder, or its folder
        is missing or not writable.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path} is a folder; give a file name for the output")
    if path.exists() and not overwrite:
        raise OutputError(f"{path} exists; pass --overwrite to replace it")
    folder = path.parent
    if not folder.is_dir():
        raise OutputError(
            f"{folder}: output folder does not exist; create it or choose another with --outdir"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(
            f"{folder}: output folder is not writable; choose another with --outdir"
        )


def temporary_path(output_path, *, part=""):
    """A fresh hidden name next to ``output_path`` for writing it safely.

    The name keeps ``output_path``'s FITS suffix chain (so ``.gz`` still
    gzips) unless ``part`` is given: ``part="extra"`` names a plain
    ``.fits`` scratch file that belongs to the same product.
    """
    output_path = Path(output_path)
    chain = fits_suffix(output_path.name)
    stem = output_path.name[: len(output_path.name) - len(chain)]
    token = secrets.token_hex(6)
    if part:
        return output_path.parent / f".{stem}.tmp-{token}.{part}.fits"
    return output_path.parent / f".{stem}.tmp-{token}{chain}"


def remove_temporaries(output_path):
    """Remove the hidden temporary files of ``output_path`` (`temporary_path`'s names) that are left.

    For a run that was stopped from outside: a writer removes its own
    temporaries as it unwinds, but a Dask worker killed mid-write cannot.
    ``output_path`` itself, finished or not, is never touched. The
    quick-look PNG of an output shares its stem and its temporaries go too.

    Returns
    -------
    list of pathlib.Path
        The files removed.
    """
    output_path = Path(output_path)
    chain = fits_suffix(output_path.name)
    stem = output_path.name[: len(output_path.name) - len(chain)]
    removed = []
    for path in output_path.parent.glob(f".{glob.escape(stem)}.tmp-*"):
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path)
    return removed


@contextmanager
def output_errors(output_path):
    """Report an `OSError` while writing ``output_path`` as an `OutputError`."""
    try:
        yield
    except OSError as exc:
        raise OutputError(
            f"{output_path} cannot be written ({exc}); check the folder's "
            "permissions and free space"
        ) from exc


def publish(temporary, output_path, *, overwrite):
    """Move a finished temporary file to ``output_path``.

    The file is synced to disk and checked against the FITS standard first;
    an ``output_path`` that appeared meanwhile is kept unless ``overwrite``.
    The caller removes ``temporary`` when this raises.

    Raises
    ------
    crclean.exceptions.OutputError
        If the file fails verification, ``output_path`` exists (without
        ``overwrite``), or the file system refuses.
    """
    with output_errors(output_path):
        descriptor = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        with fits.open(temporary, mode="readonly", memmap=False) as written:
            try:
                written.verify("exception")
            except fits.VerifyError as exc:
                raise OutputError(f"{output_path} failed FITS verification ({exc})") from exc
        if output_path.exists() and not overwrite:
            raise OutputError(f"{output_path} exists; pass --overwrite to replace it")
        os.replace(temporary, output_path)


def replace_via_temporary(output_path, write):
    """Write a non-FITS output through a hidden temporary file beside it.

    ``write(temporary)`` creates the file (so it gets the umask's
    permissions, unlike ``tempfile.mkstemp``'s 0600); it is then renamed
    over ``output_path``, and removed on any failure. Callers check for an
    existing output first (`check_output_writable`).
    """
    output_path = Path(output_path)
    temporary = temporary_path(output_path)
    try:
        write(temporary)
        os.replace(temporary, output_path)
    finally:
        temporary.unlink(missing_ok=True)
