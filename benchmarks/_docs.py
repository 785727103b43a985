"""The one writer of benchmark sections into docs/benchmarks.md."""

import re
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
