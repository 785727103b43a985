"""The one writer of benchmark sections into docs/benchmarks.md."""

import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def write_section(key, title, command, body):
    """Replace (or append) the section between ``<!-- key:start -->`` and ``<!-- key:end -->``."""
    start, end = f"<!-- {key}:start -->", f"<!-- {key}:end -->"
    section = (f"{start}\n## {title}\n\nCommand (run from the repository root):\n\n"
               f"    {command.strip()}\n\n{body}\n{end}")
    current = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    if start in current:
        current = re.sub(re.escape(start) + ".*" + re.escape(end), lambda _: section, current, flags=re.S)
    else:
        current = current.rstrip() + "\n\n" + section + "\n"
    DOCS.write_text(current)


def print_and_write(key, title, script, argv, header, text, *, write_docs):
    """Print a benchmark's header and table; with ``write_docs`` also store them with the command that made them.

    ``argv`` is what the script was given (None: ``sys.argv[1:]``), so the stored command reruns it.
    """
    print(header)
    print(text)
    if write_docs:
        command = f"python benchmarks/{script} " + " ".join(argv if argv is not None else sys.argv[1:])
        write_section(key, title, command, f"{header}\n\n{text}")
