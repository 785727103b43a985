"""Option types and helpers shared by crclean's subcommands."""

import sys
from pathlib import Path

import click

__all__ = ["CommandError", "ExtensionList", "echo_warnings", "parse_dq_bit", "parse_quicklook_region",
           "quicklook_path_for", "read_inputs"]


class CommandError(click.ClickException):
    """A run-level failure (exit status 1), shown as the one ``crclean: error:`` line that per-file
    failures use too, so that a pipeline can grep for a single prefix."""

    def show(self, file=None):
        click.echo(f"crclean: error: {self.format_message()}", file=file, err=file is None)


def read_inputs(inputs):
    """Expand ``-`` into paths read from stdin (one per line; blank and # lines skipped)."""
    paths = []
    for item in inputs:
        if item == "-":
            for line in sys.stdin:
                line = line.strip()
                if line and not line.startswith("#"):
                    paths.append(line)
        else:
            paths.append(item)
    return paths


def echo_warnings(texts, seen):
    """Echo each distinct warning text once per run, as ``crclean: warning: ...`` on stderr."""
    for text in texts:
        if text not in seen:
            seen.add(text)
            click.echo(f"crclean: warning: {text}", err=True)

_FITS_SUFFIXES = {".fits", ".fit", ".fts", ".fz", ".gz"}


class ExtensionList(click.ParamType):
    """``--ext`` values: ``1``, ``1,2``, ``SCI``, ``SCI,2`` (EXTNAME,EXTVER)."""

    name = "EXT"

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return [value]
        parts = [part.strip() for part in value.split(",")]
        if not all(parts):
            self.fail(f"{value!r} has an empty part; use e.g. 1, SCI or SCI,2", param, ctx)
        if all(part.isdigit() for part in parts):
            return [int(part) for part in parts]
        if len(parts) == 1:
            return [parts[0]]
        if len(parts) == 2 and parts[1].isdigit():
            return [f"{parts[0]},{parts[1]}"]
        self.fail(f"{value!r} is not an index, EXTNAME or EXTNAME,EXTVER", param, ctx)


def parse_dq_bit(ctx, param, value):
    """Accept a single power of two that fits a 16-bit DQ."""
    if value <= 0 or value & (value - 1) or value >= 2**15:
        raise click.BadParameter(f"must be a power of two between 1 and 16384, got {value}")
    return value


def parse_quicklook_region(ctx, param, value):
    """``--quicklook-region '[X1:X2,Y1:Y2]'`` -> ``(rows, columns)`` slices, or None."""
    if value is None:
        return None
    from crclean.io._quicklook import parse_fits_section

    try:
        return parse_fits_section(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def quicklook_path_for(output_path):
    """``out.fits.fz`` -> ``out.png`` (beside the FITS output)."""
    path = Path(output_path)
    name = path.name
    while Path(name).suffix.lower() in _FITS_SUFFIXES:
        name = name[: -len(Path(name).suffix)]
    return path.with_name(name + ".png")
